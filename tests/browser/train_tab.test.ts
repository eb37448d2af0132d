// Training in the lab's tab, end to end: real Chromium (WebGPU on SwiftShader), the real lab
// server serving the fixture's shards and tokenizer, the page's worker training a small
// model with the same loop as `deno task train base`. It trains, stops (a checkpoint at the
// step it stopped), resumes from that checkpoint, finishes, and downloads the run; then the
// Deno CLI takes the download: `eval base` gives the page's last validation loss, the same
// run trained by `train base` without a stop logs the page's losses step by step, `train
// base --resume` continues the download, `chat --checkpoint` replies from it.
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { readMetrics } from "../../src/formats/metrics.ts";
import { parseOverrides, resumeCommand } from "../../web/src/train_protocol.ts";
import { recordsBefore } from "../../web/src/train_store.ts";
import { labFixture, ROOT, SCREENSHOT_DIR } from "./lab_fixture.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const TRAIN_TIMEOUT = 240_000;
// The fixture's tokenizer has 512 tokens; the rest keeps steps to a second or so on SwiftShader.
const SETTINGS = "depth=1 n_embd=32 n_head=2 vocab_size=512 max_seq_len=32 device_batch_size=2 total_batch_size=128 " +
  "eval_every=3 eval_tokens=64 sample_every=-1 checkpoint_every=2 keep_last=-1";
const STEPS = 10;

Deno.test("train tab: settings parse field=value against the run config's kinds, with errors that name the field", () => {
  assert.deepEqual(parseOverrides("depth=1, n_embd=32  mixture=offline-mid warmup_ratio=0.1"), { depth: 1, n_embd: 32, mixture: "offline-mid", warmup_ratio: 0.1 });
  assert.deepEqual(parseOverrides("num-iterations=5"), { num_iterations: 5 });
  assert.throws(() => parseOverrides("depth"), /write field=value/);
  assert.throws(() => parseOverrides("depht=2"), /"depht" is not a run config field/);
  assert.throws(() => parseOverrides("depth=1.5"), /depth=1.5: an integer/);
  assert.throws(() => parseOverrides("matrix_lr=fast"), /matrix_lr=fast: a number/);
  assert.throws(() => parseOverrides("depth="), /an integer/);
});

Deno.test("train tab: the resume command names exactly the settings that differ from the preset", () => {
  assert.equal(resumeCommand("r", "tiny", { run: "r", depth: 2, num_iterations: 50, runs_dir: "x" }), "deno task train base --config tiny --run r --resume");
  assert.equal(resumeCommand("r", "tiny", { run: "r", depth: 1, eval_every: 3 }), "deno task train base --config tiny --run r --depth 1 --eval-every 3 --resume");
});

Deno.test("train tab: a resume keeps the records logged before its checkpoint's step", () => {
  const recs = [{ type: "train", step: 0 }, { type: "eval", step: 2 }, { type: "train", step: 2 }, { type: "train", step: 3 }, { type: "note" }];
  assert.deepEqual(recordsBefore(recs, 2), [{ type: "train", step: 0 }, { type: "note" }]);
});

async function waitFor(page: Page, what: string, fn: () => boolean): Promise<void> {
  try {
    await page.waitForFunction(fn, undefined, { timeout: TRAIN_TIMEOUT, polling: 200 });
  } catch {
    const log = await page.textContent("[data-testid=train-log]").catch(() => null);
    const err = await page.textContent("[data-testid=train-error]").catch(() => null);
    throw new Error(`${what} did not happen; error: ${err ?? "none"}; log:\n${log ?? "(none)"}`);
  }
}

async function deno(args: string[]): Promise<string> {
  const r = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", ...args], cwd: ROOT, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } }).output();
  const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  if (r.code !== 0) throw new Error(`deno ${args.join(" ")} failed (exit ${r.code}):\n${out}`);
  return out;
}

Deno.test({
  name: "lab: trains in the tab, stops, resumes and downloads a run that the Deno CLI evaluates (same loss), resumes and chats with",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    const lab = await f.open("#train");
    const page = lab.page;
    const run = "tab-run";
    let zip: Uint8Array;
    let stoppedAt: number;
    try {
      await page.fill("[data-testid=train-run]", run);
      await page.fill("[data-testid=train-steps]", String(STEPS));
      await page.fill("[data-testid=train-settings]", SETTINGS);
      await page.click("[data-testid=train-start]");
      const row = `[data-testid=train-run-${run}]`;
      // The first checkpoint (step 2), then Stop: the loop checkpoints the step it stops at.
      await waitFor(page, "the first checkpoint", () => /\b2\b/.test(document.querySelector("[data-testid=train-run-tab-run-checkpoints]")?.textContent ?? ""));
      await page.click("[data-testid=train-stop]");
      await waitFor(page, "the stop", () => document.querySelector("[data-testid=train-run-tab-run]")?.getAttribute("data-status") === "stopped");
      const cps = (await page.textContent("[data-testid=train-run-tab-run-checkpoints]"))!.split(",").map((s) => Number(s.trim()));
      stoppedAt = cps.at(-1)!;
      assert.ok(stoppedAt >= 2 && stoppedAt < STEPS, `stopped at ${stoppedAt}, checkpoints ${cps}`);
      assert.ok(Number(await page.getAttribute("[data-testid=chart-loss]", "data-points")) >= stoppedAt, "the loss chart plots the steps trained");
      // Resume from the checkpoint, to the end.
      await page.click(`[data-testid=train-resume-${run}]`);
      await waitFor(page, "the end of the run", () => document.querySelector("[data-testid=train-run-tab-run]")?.getAttribute("data-status") === "finished");
      assert.match((await page.textContent(`${row} td:nth-child(3)`))!, new RegExp(`${STEPS} / ${STEPS}`));
      assert.equal(Number(await page.getAttribute("[data-testid=chart-loss]", "data-points")), STEPS, "one point per step, none twice after the resume");
      // The view at 1400 and 400 px (build/test-output/screenshots/lab-train-<width>.png); never wider than a 400 px window.
      for (const width of [1400, 400]) {
        await page.setViewportSize({ width, height: 900 });
        await page.evaluate(() => globalThis.scrollTo(0, 0));
        await page.waitForTimeout(300);
        await page.screenshot({ path: `${SCREENSHOT_DIR}/lab-train-${width}.png`, fullPage: true });
        if (width === 400) {
          const w = await page.evaluate(() => document.documentElement.scrollWidth);
          assert.ok(w <= 400, `the train view is ${w} px wide in a 400 px window`);
        }
      }
      await page.setViewportSize({ width: 1280, height: 800 });
      assert.match((await page.textContent("[data-testid=train-commands]"))!, /unzip tab-run\.zip -d runs/);
      const [d] = await Promise.all([page.waitForEvent("download", { timeout: 30_000 }), page.click(`[data-testid=train-download-${run}]`)]);
      assert.equal(d.suggestedFilename(), `${run}.zip`);
      zip = await Deno.readFile((await d.path())!);
      // Chat opens the run's last checkpoint in the Chat tab, straight from IndexedDB.
      await page.click(`[data-testid=train-chat-${run}]`);
      await page.waitForFunction(() => location.hash === "#chat", undefined, { timeout: 30_000 });
      await page.waitForFunction(() => /tab-run · step 10 \(trained here\)/.test(document.querySelector("[data-testid=model-info]")?.textContent ?? ""), undefined, { timeout: 60_000 })
        .catch(async () => assert.fail(`the chat did not load the trained run: ${await page.textContent("chat-view").catch(() => "")}`));
    } catch (err) {
      throw new Error(`${(err as Error).message}\npage console:\n${lab.console() || "(empty)"}`);
    } finally {
      await lab.close();
    }

    // The download is the run folder, readable by a standard unzip.
    const dl = `${f.tmp}/download`;
    await Deno.mkdir(dl, { recursive: true });
    await Deno.writeFile(`${dl}/${run}.zip`, zip);
    const unzip = await new Deno.Command("python3", { args: ["-m", "zipfile", "-e", `${dl}/${run}.zip`, dl], stdout: "piped", stderr: "piped" }).output();
    assert.equal(unzip.code, 0, new TextDecoder().decode(unzip.stderr));
    const runDir = `${dl}/${run}`;
    const records = readMetrics(await Deno.readTextFile(`${runDir}/metrics.jsonl`));
    const trainSteps = records.filter((r) => r.type === "train").map((r) => r.step);
    assert.deepEqual(trainSteps, [...Array(STEPS).keys()], "each step logged once across the stop and the resume");
    const lastEval = records.filter((r) => r.type === "eval").at(-1)!;
    assert.equal(lastEval.step, STEPS);
    const info = JSON.parse(await Deno.readTextFile(`${runDir}/run.json`));
    assert.equal(info.status, "finished");
    assert.match(info.adapter, /SwiftShader|software/i);

    // Deno evaluates the page's final checkpoint on the same validation batch: the same loss.
    const ckptDir = `${runDir}/checkpoints/step_${String(STEPS).padStart(6, "0")}`;
    const evalOut = await deno(["src/cli/eval.ts", "base", "--checkpoint", ckptDir, "--bpb", "--data-dir", `${f.tmp}/data`, "--tokens", "64", "--batch-size", "2"]);
    const m = /validation bits per byte: ([\d.]+)\s+\(loss ([\d.]+)/.exec(evalOut);
    assert.ok(m, evalOut);
    assert.ok(Math.abs(Number(m[2]) - (lastEval.val_loss as number)) < 1e-4, `Deno's loss ${m[2]} vs the page's last logged ${lastEval.val_loss}`);
    assert.ok(Math.abs(Number(m[1]) - (lastEval.val_bpb as number)) < 1e-4, `Deno's bpb ${m[1]} vs the page's ${lastEval.val_bpb}`);

    // The same run trained by the CLI without a stop: the page's losses, step by step (same batches,
    // same schedule; the stop and resume changed nothing), to float32 noise between the two adapters.
    const settingsFlags = SETTINGS.split(" ").map((kv) => kv.split("=")).flatMap(([k, v]) => [`--${k.replaceAll("_", "-")}`, v]);
    const common = ["--config", "tiny", "--data-dir", `${f.tmp}/data`, "--tokenizer-dir", `${f.tmp}/tok`, "--no-prepare", ...settingsFlags];
    await deno(["src/cli/train.ts", "base", "--run", run, "--runs-dir", `${f.tmp}/cli-runs`, ...common, "--num-iterations", String(STEPS)]);
    const cli = readMetrics(await Deno.readTextFile(`${f.tmp}/cli-runs/${run}/metrics.jsonl`));
    const lossesOf = (recs: typeof records) => recs.filter((r) => r.type === "train").map((r) => r.loss as number);
    const pageLosses = lossesOf(records), cliLosses = lossesOf(cli);
    assert.equal(cliLosses.length, STEPS);
    for (let i = 0; i < STEPS; i++) assert.ok(Math.abs(pageLosses[i] - cliLosses[i]) < 1e-5, `step ${i}: the page's loss ${pageLosses[i]} vs the CLI's ${cliLosses[i]}`);
    // The smoothed loss carries across the resume (it is restored from the checkpoint, not restarted).
    const emaOf = (recs: typeof records) => recs.filter((r) => r.type === "train").map((r) => r.loss_ema as number);
    const pageEma = emaOf(records), cliEma = emaOf(cli);
    for (let i = 0; i < STEPS; i++) assert.ok(Math.abs(pageEma[i] - cliEma[i]) < 1e-5, `step ${i}: the page's smoothed loss ${pageEma[i]} vs the CLI's ${cliEma[i]}`);

    // `train base --resume` continues the downloaded run two more steps from its last checkpoint.
    const resumed = await deno(["src/cli/train.ts", "base", "--run", run, "--runs-dir", dl, ...common, "--num-iterations", String(STEPS + 2), "--resume"]);
    assert.match(resumed, new RegExp(`resuming from .*step_${String(STEPS).padStart(6, "0")} \\(step ${STEPS}\\)`));
    const after = readMetrics(await Deno.readTextFile(`${runDir}/metrics.jsonl`)).filter((r) => r.type === "train").map((r) => r.step);
    assert.deepEqual(after, [...Array(STEPS + 2).keys()]);

    const chat = await deno(["src/cli/chat.ts", "--checkpoint", ckptDir, "--mode", "complete", "-p", "The", "--max-tokens", "4", "--temperature", "0"]);
    assert.ok(chat.length > 0);
  },
});

Deno.test({
  name: "lab: a run training in one tab shows as running in another, which cannot train it too",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    const lab = await f.open("#train");
    const a = lab.page;
    try {
      await a.fill("[data-testid=train-run]", "busy");
      await a.fill("[data-testid=train-steps]", "400");
      await a.fill("[data-testid=train-settings]", SETTINGS);
      await a.click("[data-testid=train-start]");
      await waitFor(a, "the first checkpoint", () => /\b2\b/.test(document.querySelector("[data-testid=train-run-busy-checkpoints]")?.textContent ?? ""));
      // A second tab of the same browser (same IndexedDB, same locks).
      const b = await a.context().newPage();
      await b.goto(f.server.url + "#train");
      await waitFor(b, "the other tab's view of the run", () => document.querySelector("[data-testid=train-run-busy]")?.getAttribute("data-status") === "running elsewhere");
      assert.equal(await b.$("[data-testid=train-resume-busy]"), null, "no Resume for a run another tab trains");
      await b.fill("[data-testid=train-run]", "busy");
      await b.click("[data-testid=train-start]");
      await waitFor(b, "the refusal", () => /run 'busy' is training in another tab of this browser/.test(document.querySelector("[data-testid=train-error]")?.textContent ?? ""));
      await a.click("[data-testid=train-stop]");
      await waitFor(a, "the stop", () => document.querySelector("[data-testid=train-run-busy]")?.getAttribute("data-status") === "stopped");
      // Stopped, the lock is free: the second tab may resume it now.
      await b.reload();
      await waitFor(b, "Resume in the other tab", () => document.querySelector("[data-testid=train-resume-busy]") !== null);
    } catch (err) {
      throw new Error(`${(err as Error).message}\npage console:\n${lab.console() || "(empty)"}`);
    } finally {
      await lab.close();
    }
  },
});
