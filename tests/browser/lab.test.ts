// The browser lab (web/) against the real lab server and a real tiny training run, in
// Chromium with WebGPU on SwiftShader: the runs table, the curves (one point per record,
// growing live as metrics.jsonl grows, no reload), overlays, the adapter panel, the
// checkpoint loader's download progress and IndexedDB cache, and screenshots of the views
// at 1280×800 in build/test-output/screenshots/. The first tests check the page's pure
// modules (stores, stream, chart data) in Deno.
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { FileNotFound } from "../../src/io/files.ts";
import { formatMetricsLine, RUN_LOCK_FILE } from "../../src/formats/metrics.ts";
import { acquireLock } from "../../src/io/deno_lock.ts";
import { setApiBase } from "../../web/src/api.ts";
import { chartCsv, loggedMetrics, metricPoints, metricSeries, metricSpec, smooth } from "../../web/src/chart_data.ts";
import { fmtCount } from "../../web/src/format.ts";
import type { MetricsRecord, RunSummary } from "../../web/src/api.ts";
import { compareConfigs, etaSeconds, filterRuns, runtimeSeconds, sortRuns } from "../../web/src/runs_table.ts";
import { checkpointPaths, HttpStore, type Progress, urlForPath } from "../../web/src/http_store.ts";
import { LocalFilesStore } from "../../web/src/local_store.ts";
import { RunStream, StreamHub } from "../../web/src/run_stream.ts";
import { writeScriptedChatRun } from "../fixtures/scripted_chat.ts";
import { trainTiny } from "../e2e/tiny_run.ts";
import { appendText, type LabFixture, ROOT, labFixture, type LabPage, recordsOf, SCREENSHOT_DIR, VIEWPORT } from "./lab_fixture.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const UI_TIMEOUT = 30_000;

/** Runs `fn` on a fresh lab page; a failure carries the page's console. */
async function withLab(f: LabFixture, hash: string, fn: (page: Page, lab: LabPage) => Promise<void>, init?: string): Promise<void> {
  const lab = await f.open(hash, init);
  try {
    await fn(lab.page, lab);
  } catch (err) {
    throw new Error(`${(err as Error).message}\npage console:\n${lab.console() || "(empty)"}`);
  } finally {
    await lab.close();
  }
}

const attr = (page: Page, selector: string, name: string) => page.getAttribute(selector, name, { timeout: UI_TIMEOUT });

async function waitAttr(page: Page, selector: string, name: string, want: string, what: string): Promise<void> {
  try {
    await page.waitForFunction(
      ([s, n, w]) => document.querySelector(s)?.getAttribute(n) === w,
      [selector, name, want] as const,
      { timeout: UI_TIMEOUT, polling: 100 },
    );
  } catch {
    throw new Error(`${what}: ${selector} [${name}] is ${JSON.stringify(await page.getAttribute(selector, name).catch(() => null))}, expected ${JSON.stringify(want)}`);
  }
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(bytes: Uint8Array): { width: number; height: number } {
  assert.deepEqual([...bytes.subarray(1, 4)], [0x50, 0x4e, 0x47], "not a PNG");
  const v = new DataView(bytes.buffer, bytes.byteOffset);
  return { width: v.getUint32(16), height: v.getUint32(20) };
}

// ------------------------------------------------------------ pure modules, in Deno

Deno.test("lab (deno): the runs table's runtime, ETA, sort (runs without a value last) and filter", () => {
  const t0 = Date.parse("2026-01-01T00:00:00Z");
  const iso = (s: number) => new Date(t0 + s * 1000).toISOString();
  const run = (name: string, o: Partial<RunSummary>): RunSummary => ({
    name, status: "finished", stage: "base", adapter: "llvmpipe (software)", step: null, started_at: iso(0), updated_at: iso(60), config: null,
    last_loss: null, last_val_bpb: null, tok_per_sec: null, checkpoints: [], report: false, ...o,
  });
  const now = t0 + 100_000;
  const live = run("live", { status: "running", step: 25, config: { num_iterations: 100 }, last_loss: 2 });
  assert.equal(runtimeSeconds(live, now), 100); // running: to now
  assert.equal(etaSeconds(live, now), 300); // 4 s a step, 75 steps to go
  const done = run("done", { step: 100, config: { num_iterations: 100 }, last_loss: 1 });
  assert.equal(runtimeSeconds(done, now), 60); // finished: to its last update
  assert.equal(etaSeconds(done, now), null);
  assert.equal(etaSeconds(run("x", { status: "running", step: 0, config: { num_iterations: 10 } }), now), null);
  assert.equal(runtimeSeconds(run("y", { started_at: null }), now), null);
  const blank = run("blank", {});
  assert.deepEqual(sortRuns([done, blank, live], "loss", "asc", now).map((r) => r.name), ["done", "live", "blank"]);
  assert.deepEqual(sortRuns([done, blank, live], "loss", "desc", now).map((r) => r.name), ["live", "done", "blank"]);
  assert.deepEqual(sortRuns([live, done, blank], "name", "asc", now).map((r) => r.name), ["blank", "done", "live"]);
  assert.deepEqual(sortRuns([done, live], "runtime", "desc", now).map((r) => r.name), ["live", "done"]);
  assert.deepEqual(filterRuns([live, done, blank], "RUNNING base").map((r) => r.name), ["live"]);
  assert.deepEqual(filterRuns([live, done, blank], "  ").map((r) => r.name), ["live", "done", "blank"]);
  assert.deepEqual(filterRuns([live, done], "software").length, 2);
});

Deno.test("lab (deno): chart series on tokens and time, debiased smoothing, any logged metric, CSV", () => {
  const recs = [
    { type: "eval", step: 0, val_bpb: 3, time: 100 },
    { type: "train", step: 0, loss: 8, grad_norm: 1, time: 102 },
    { type: "train", step: 1, loss: 6, grad_norm: 0.5, mfu: 40, time: 105 },
    { type: "eval", step: 2, val_bpb: 2.5, "pass@1": 0.25, time: 109 },
  ] as MetricsRecord[];
  assert.deepEqual(metricSeries(recs, "train", "loss", "step", 64), { xs: [0, 1], ys: [8, 6] });
  // A train record at step s has trained on s + 1 batches; an evaluation at step s on s.
  assert.deepEqual(metricSeries(recs, "train", "loss", "tokens", 64), { xs: [64, 128], ys: [8, 6] });
  assert.deepEqual(metricSeries(recs, "eval", "val_bpb", "tokens", 64), { xs: [0, 128], ys: [3, 2.5] });
  assert.deepEqual(metricSeries(recs, "train", "loss", "tokens", null), { xs: [], ys: [] });
  // Seconds after the run's first record (the step-0 evaluation).
  assert.deepEqual(metricSeries(recs, "train", "loss", "time", null), { xs: [2, 5], ys: [8, 6] });
  assert.deepEqual(smooth([4, 4, 4], 0.9), [4, 4, 4]); // debiased: a constant stays itself
  const s = smooth([10, null, 0], 0.5) as number[];
  assert.equal(s[0], 10);
  assert.equal(s[1], null);
  assert.ok(Math.abs(s[2] - (0.5 * 10 * 0.5 + 0) / (1 - 0.25)) < 1e-12, `${s[2]}`); // (0.25·10)/(0.75)
  assert.deepEqual(smooth([1, 2], 0), [1, 2]);
  assert.deepEqual(loggedMetrics(recs), ["eval:pass@1", "train:grad_norm", "train:mfu"]);
  assert.deepEqual([metricSpec("train:grad_norm").type, metricSpec("train:grad_norm").field, metricSpec("eval:pass@1").type, metricSpec("loss").emaField], ["train", "grad_norm", "eval", "loss_ema"]);
  assert.equal(chartCsv("step", ["a", "b,c"], [[0, 1], [8, null], [7, 5]]), 'step,a,"b,c"\n0,8,7\n1,,5\n');
});

Deno.test("lab (deno): comparing configs lists every field once, marks the differing ones (a missing field differs too)", () => {
  const run = (name: string, config: Record<string, unknown> | null) => ({ name, config }) as unknown as RunSummary;
  const rows = compareConfigs([run("a", { depth: 2, lr: 0.02, seq: [1, 2] }), run("b", { depth: 2, lr: 0.03, seq: [1, 2], extra: true }), run("c", null)]);
  assert.deepEqual(rows.map((r) => [r.field, r.differs]), [["depth", true], ["lr", true], ["seq", true], ["extra", true]]);
  const two = compareConfigs([run("a", { depth: 2, lr: 0.02, seq: [1, 2] }), run("b", { depth: 2, lr: 0.03, seq: [1, 2] })]);
  assert.deepEqual(two.map((r) => [r.field, r.differs, r.values]), [["depth", false, [2, 2]], ["lr", true, [0.02, 0.03]], ["seq", false, [[1, 2], [1, 2]]]]);
});

Deno.test("lab (deno): counts name their noun in the right number", () => {
  assert.deepEqual([fmtCount(0, "token"), fmtCount(1, "token"), fmtCount(2, "token"), fmtCount(1024, "token"), fmtCount(1, "layer")], ["0 tokens", "1 token", "2 tokens", "1,024 tokens", "1 layer"]);
});

Deno.test("lab (deno): chart data keeps one point per step, the later record winning", () => {
  const records = [
    { type: "train", step: 0, loss: 5 }, { type: "eval", step: 0, val_bpb: 3 }, { type: "train", step: 1, loss: 4 },
    { type: "train", step: 2, loss: null }, { type: "train", step: 1, loss: 3.5 }, { type: "sample", step: 2 },
  ];
  assert.deepEqual(metricPoints(records, "train", "loss"), { xs: [0, 1, 2], ys: [5, 3.5, null] });
  assert.deepEqual(metricPoints(records, "eval", "val_bpb"), { xs: [0], ys: [3] });
});

Deno.test("lab (deno): RunStream keeps records in line order, drops repeats by id, resumes with ?after, starts over on reset", async () => {
  class FakeSource extends EventTarget {
    readyState = 1;
    constructor(readonly url: string) {
      super();
    }
    close() {
      this.readyState = 2;
    }
  }
  const sources: FakeSource[] = [];
  const stream = new RunStream("r1", (url) => {
    const s = new FakeSource(url);
    sources.push(s);
    return s as unknown as EventSource;
  });
  const changes: number[] = [];
  stream.addEventListener("change", (e) => changes.push((e as CustomEvent<{ added: unknown[] }>).detail.added.length));
  stream.start();
  const metric = (id: number, step: number) =>
    sources.at(-1)!.dispatchEvent(new MessageEvent("metric", { data: JSON.stringify({ type: "train", step, loss: 1 }), lastEventId: String(id) }));
  assert.equal(sources[0].url, "/api/runs/r1/metrics/events");
  metric(0, 0);
  metric(1, 1);
  metric(1, 1); // a repeat
  metric(3, 3);
  metric(2, 2); // late
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(stream.records.map((r) => r.step), [0, 1, 2, 3]);
  assert.deepEqual(changes, [4], "one change event per batch");
  // The server closed the stream for good: the client reopens it after the last id.
  sources[0].readyState = 2;
  sources[0].dispatchEvent(new Event("error"));
  assert.equal(stream.state, "retrying");
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(sources.length, 2);
  assert.equal(sources[1].url, "/api/runs/r1/metrics/events?after=3");
  sources[1].dispatchEvent(new MessageEvent("status", { data: JSON.stringify({ name: "r1", status: "finished", step: 3 }) }));
  sources[1].dispatchEvent(new Event("reset"));
  metric(0, 10);
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(stream.records.map((r) => r.step), [10]);
  assert.equal(stream.summary?.status, "finished");
  stream.close();
  assert.equal(sources[1].readyState, 2);
});

Deno.test("lab (deno): the stream hub keeps at most N streams open; the others catch up and close, and take a free slot", async () => {
  const sources: { url: string; closed: boolean; target: EventTarget }[] = [];
  const hub = new StreamHub((url) => {
    const target = new EventTarget();
    const entry = { url, closed: false, target };
    sources.push(entry);
    return Object.assign(target, { readyState: 1, close: () => (entry.closed = true) }) as unknown as EventSource;
  }, 1);
  const a = hub.acquire("a");
  const b = hub.acquire("b");
  assert.equal(hub.acquire("a"), a, "one stream per run");
  assert.equal(a.isLive, true);
  assert.equal(b.isLive, false);
  const bSource = sources.find((s) => s.url.includes("/runs/b/"))!;
  bSource.target.dispatchEvent(new MessageEvent("metric", { data: JSON.stringify({ type: "train", step: 0 }), lastEventId: "0" }));
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(bSource.closed, true, "a catching-up stream closes once the server is quiet");
  assert.equal(b.records.length, 1);
  hub.release("a");
  assert.equal(sources.find((s) => s.url.includes("/runs/a/"))!.closed, false, "a has another user");
  hub.release("a");
  assert.equal(b.isLive, true, "b takes the free slot");
  assert.equal(sources.at(-1)!.url, "/api/runs/b/metrics/events?after=0");
  hub.release("b");
  assert.equal(sources.at(-1)!.closed, true);
});

Deno.test("lab (deno): a dropped folder store finds the newest checkpoint and the run's tokenizer, or names what is missing", async () => {
  const file = (text: string, name: string) => new File([text], name);
  const store = new LocalFilesStore([
    { path: "myrun/checkpoints/step_000004/model.safetensors", file: file("m4", "model.safetensors") },
    { path: "myrun/checkpoints/step_000004/meta.json", file: file("{}", "meta.json") },
    { path: "myrun/checkpoints/step_000008/model.safetensors", file: file("m8", "model.safetensors") },
    { path: "myrun/checkpoints/step_000008/meta.json", file: file("{}", "meta.json") },
    { path: "myrun/tokenizer/tokenizer.json", file: file("tok", "tokenizer.json") },
    { path: "myrun/run.json", file: file("{}", "run.json") },
  ]);
  assert.deepEqual(store.findModel(), { checkpointDir: "myrun/checkpoints/step_000008", tokenizerDir: "myrun/tokenizer", label: "myrun" });
  assert.equal(new TextDecoder().decode(await store.read("myrun/checkpoints/step_000008/model.safetensors")), "m8");
  assert.deepEqual(await store.list("myrun/checkpoints"), ["step_000004", "step_000008"]);
  await assert.rejects(store.read("myrun/nope.json"), FileNotFound);
  const loose = new LocalFilesStore([
    { path: "model.safetensors", file: file("m", "model.safetensors") },
    { path: "meta.json", file: file("{}", "meta.json") },
    { path: "tokenizer.json", file: file("t", "tokenizer.json") },
  ]);
  assert.deepEqual(loose.findModel(), { checkpointDir: "", tokenizerDir: "", label: "chosen files" });
  const noTok = new LocalFilesStore([{ path: "a/model.safetensors", file: file("m", "model.safetensors") }, { path: "a/meta.json", file: file("{}", "meta.json") }]);
  assert.throws(() => noTok.findModel(), /lack tokenizer\.json/);
});

Deno.test("lab (deno): store paths map onto the API's URLs", () => {
  assert.deepEqual(checkpointPaths("r", 8), { checkpointDir: "runs/r/checkpoints/8", tokenizerDir: "runs/r/tokenizer" });
  assert.equal(urlForPath("runs/r/checkpoints/8/model.safetensors"), "/api/runs/r/checkpoints/8/model.safetensors");
  assert.equal(urlForPath("runs/r/tokenizer/tokenizer.json"), "/api/runs/r/tokenizer/tokenizer.json");
  assert.equal(urlForPath("runs/r/checkpoints/step_000008/meta.json"), null);
  assert.equal(urlForPath("other/x"), null);
});

// ------------------------------------------------------------ against the real server

Deno.test({
  name: "lab (deno): the HTTP store reads checkpoint and tokenizer files from the lab server, with progress; optim.safetensors is never fetched",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    setApiBase(f.server.url);
    try {
      const progress: Progress[] = [];
      const store = new HttpStore({ exclude: ["optim.safetensors"], onProgress: (p) => progress.push(p) });
      const { checkpointDir, tokenizerDir } = checkpointPaths(f.run, 8);
      const model = await store.read(`${checkpointDir}/model.safetensors`);
      assert.deepEqual(model, await Deno.readFile(`${f.runDir}/checkpoints/step_000008/model.safetensors`));
      const tok = await store.read(`${tokenizerDir}/tokenizer.json`);
      assert.deepEqual(tok, await Deno.readFile(`${f.runDir}/tokenizer/tokenizer.json`));
      const last = progress.filter((p) => p.path.endsWith("model.safetensors")).at(-1)!;
      assert.equal(last.done, true);
      assert.equal(last.loaded, model.byteLength);
      assert.equal(last.total, model.byteLength);
      await assert.rejects(store.read(`${checkpointDir}/optim.safetensors`), FileNotFound);
      await assert.rejects(store.read(`runs/${f.run}/checkpoints/8/nothing.json`), FileNotFound);
      assert.deepEqual(await store.list(`runs/${f.run}/checkpoints`), ["4", "8"]);
    } finally {
      setApiBase("");
    }
  },
});

Deno.test({
  name: "lab: the runs table lists the trained run as finished at step 8",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    const lastLoss = (await recordsOf(f.metricsPath, "train")).at(-1)!.loss as number;
    await withLab(f, "", async (page) => {
      const row = `[data-testid=run-row][data-run="${f.run}"]`;
      await page.waitForSelector(row, { timeout: UI_TIMEOUT });
      assert.equal((await page.textContent(`${row} [data-testid=run-status]`))?.trim(), "finished");
      assert.equal(await attr(page, `${row} [data-testid=run-step]`, "data-step"), "8");
      assert.match((await page.textContent(`${row} [data-testid=run-step]`)) ?? "", /8\s*\/\s*8/);
      assert.equal((await page.textContent(`${row} [data-testid=run-stage]`))?.trim(), "base");
      assert.equal(Number((await page.textContent(`${row} [data-testid=run-loss]`))?.trim()).toFixed(3), lastLoss.toFixed(3));
      assert.match((await page.textContent(`${row} [data-testid=run-rate]`)) ?? "", /tok\/s/);
      assert.match((await page.textContent(`${row} [data-testid=run-adapter]`)) ?? "", /software/);
      // Its details: the two checkpoints, newest first.
      await page.waitForSelector("[data-testid=checkpoint-row]", { timeout: UI_TIMEOUT });
      const steps = await page.$$eval("[data-testid=checkpoint-row]", (rows) => rows.map((r) => r.getAttribute("data-step")));
      assert.deepEqual(steps, ["8", "4"]);
      // Config: a field the run gave shows as given; one it left at 0 shows the value the depth rule gave the model.
      const cfgRow = (field: string) => page.textContent(`[data-testid=config-row][data-field=${field}] td`).then((t) => (t ?? "").replace(/\s+/g, " ").trim());
      assert.equal(await cfgRow("n_embd"), "32");
      assert.equal(await cfgRow("n_kv_head"), "2 (from depth)");
    });
  },
});

Deno.test({
  name: "lab: each curve has one point per record of metrics.jsonl; hover reads out values with units; log y keeps the points",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    const train = (await recordsOf(f.metricsPath, "train")).length;
    const evals = (await recordsOf(f.metricsPath, "eval")).length;
    assert.equal(train, 8);
    await withLab(f, "#runs", async (page) => {
      await waitAttr(page, "[data-testid=chart-loss]", "data-points", String(train), "loss curve");
      await waitAttr(page, "[data-testid=chart-val_bpb]", "data-points", String(evals), "val bpb curve");
      await waitAttr(page, "[data-testid=chart-lrm]", "data-points", String(train), "lrm curve");
      await waitAttr(page, "[data-testid=chart-tok_per_sec]", "data-points", String(train), "throughput curve");
      assert.equal(await attr(page, "[data-testid=chart-loss]", "data-runs"), f.run);
      const canvas = await page.$eval("[data-testid=chart-loss] canvas", (c) => ({ w: (c as HTMLCanvasElement).width, h: (c as HTMLCanvasElement).height }));
      assert.ok(canvas.w > 200 && canvas.h > 100, `loss canvas is ${canvas.w}×${canvas.h}`);
      // The legend names the run; away from the cursor it shows the latest value, under it the hovered one.
      const legend = "[data-testid=chart-loss] .u-legend .u-series:nth-child(2)";
      assert.match((await page.textContent(legend)) ?? "", new RegExp(`${f.run}.*nats · step 7`));
      const over = await page.$("[data-testid=chart-loss] .u-over");
      const box = (await over!.boundingBox())!;
      await page.mouse.move(box.x + box.width * 0.02, box.y + box.height / 2);
      await page.waitForFunction((s) => /\d nats$/.test(document.querySelector(s)?.textContent?.trim() ?? ""), legend, { timeout: UI_TIMEOUT });
      assert.match((await page.textContent("[data-testid=chart-loss] .u-legend .u-series:nth-child(1)")) ?? "", /step\s*0/);
      // Log scale: the chart is rebuilt with the same points.
      await page.click("[data-testid=chart-loss-log]");
      await waitAttr(page, "[data-testid=chart-loss]", "data-log", "true", "log toggle");
      assert.equal(await attr(page, "[data-testid=chart-loss]", "data-points"), String(train));
      // Its y ticks are numbers or blank (uPlot leaves the ticks between decades unlabelled), never "—".
      const ticks = ((await attr(page, "[data-testid=chart-loss]", "data-y-ticks")) ?? "").split("|");
      assert.ok(ticks.some((t) => /^\d/.test(t)), `log ticks ${ticks.join(" | ")}`);
      assert.ok(ticks.every((t) => t === "" || /^\d[\d.,e+-]*$/.test(t)), `log ticks ${ticks.join(" | ")}`);
      // Unticking the run in the table empties the curves.
      await page.click(`[data-testid=run-row][data-run="${f.run}"] [data-testid=run-plot-toggle]`);
      await waitAttr(page, "[data-testid=chart-loss]", "data-points", "0", "deselected run");
    });
  },
});

Deno.test({
  name: "lab: charts — x on tokens or time, smoothing, a chart of any logged metric, CSV and PNG, one zoom for all",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    const train = await recordsOf(f.metricsPath, "train");
    const batch = JSON.parse(await Deno.readTextFile(`${f.runDir}/run.json`)).config.total_batch_size as number;
    await withLab(f, "#runs", async (page) => {
      const loss = "[data-testid=chart-loss]";
      await page.waitForFunction((s) => Number(document.querySelector(s)?.getAttribute("data-points")) > 0, loss, { timeout: UI_TIMEOUT });
      const download = async (testid: string) => {
        const [d] = await Promise.all([page.waitForEvent("download", { timeout: UI_TIMEOUT }), page.click(`[data-testid="${testid}"]`)]);
        return { name: d.suggestedFilename(), bytes: await Deno.readFile((await d.path())!) };
      };
      // CSV on step: one row per train record, the loss as logged.
      const csv = new TextDecoder().decode((await download("chart-loss-csv")).bytes).trim().split("\n");
      assert.equal(csv[0], `step,${f.run}`);
      assert.deepEqual(csv.slice(1).map((l) => l.split(",").map(Number)), train.map((r) => [r.step, r.loss]));
      // Tokens on x: every chart switches; train step s sits at (s + 1) × the run's tokens per step.
      await page.selectOption("[data-testid=chart-x]", "tokens");
      await waitAttr(page, "[data-testid=chart-val_bpb]", "data-x", "tokens", "val chart on tokens");
      const onTokens = new TextDecoder().decode((await download("chart-loss-csv")).bytes).trim().split("\n");
      assert.equal(onTokens[0], `tokens,${f.run}`);
      assert.deepEqual(onTokens.slice(1).map((l) => Number(l.split(",")[0])), train.map((r) => ((r.step as number) + 1) * batch));
      await page.selectOption("[data-testid=chart-x]", "time");
      await waitAttr(page, loss, "data-x", "time", "time on x");
      await page.selectOption("[data-testid=chart-x]", "step");
      // Smoothing 0.9: the first point is the loss itself (debiased), the last is pulled toward the earlier ones.
      await setField(page, "chart-smoothing", "0.9", "input");
      const smoothed = new TextDecoder().decode((await download("chart-loss-csv")).bytes).trim().split("\n").slice(1).map((l) => Number(l.split(",")[1]));
      assert.equal(smoothed[0], train[0].loss);
      assert.notEqual(smoothed.at(-1), train.at(-1)!.loss);
      await setField(page, "chart-smoothing", "0", "input");
      // Any logged metric as a chart of its own: grad_norm, one point per train record.
      await page.selectOption("[data-testid=chart-add]", "train:grad_norm");
      await waitAttr(page, '[data-testid="chart-train:grad_norm"]', "data-points", String(train.length), "grad norm chart");
      // PNG: the chart's canvas.
      const png = await download("chart-loss-png");
      assert.equal(png.name, "loss.png");
      assert.deepEqual([...png.bytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
      // Dragging across the loss chart zooms the other charts to the same steps.
      const box = (await (await page.$(`${loss} .u-over`))!.boundingBox())!;
      await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 5 });
      await page.mouse.up();
      await page.waitForFunction(() => {
        const a = document.querySelector("[data-testid=chart-loss]")?.getAttribute("data-x-range");
        return a && a === document.querySelector("[data-testid=chart-lrm]")?.getAttribute("data-x-range");
      }, undefined, { timeout: UI_TIMEOUT }).catch(async () => assert.fail(`x ranges: loss ${await attr(page, loss, "data-x-range")}, lrm ${await attr(page, "[data-testid=chart-lrm]", "data-x-range")}`));
      const zoomed = await attr(page, "[data-testid=chart-lrm]", "data-x-range");
      assert.ok(zoomed && Number(zoomed.split("..")[0]) > 0, `zoomed to ${zoomed}`);
      // A double click resets every chart.
      await page.mouse.dblclick(box.x + box.width / 2, box.y + box.height / 2);
      await page.waitForFunction((z) => document.querySelector("[data-testid=chart-lrm]")?.getAttribute("data-x-range") !== z, zoomed, { timeout: UI_TIMEOUT });
      assert.match((await attr(page, "[data-testid=chart-lrm]", "data-x-range")) ?? "", /^0\.\./);
      // The added chart can be removed; the choices are remembered across a reload.
      await page.reload();
      await page.waitForSelector('[data-testid="chart-train:grad_norm"]', { timeout: UI_TIMEOUT });
      await page.click('[data-testid="chart-train:grad_norm-remove"]');
      await page.waitForSelector('[data-testid="chart-train:grad_norm"]', { state: "detached", timeout: UI_TIMEOUT });
    });
  },
});

Deno.test({
  name: "lab: records appended to metrics.jsonl reach the open page's curves without a reload (a partial line waits for its newline)",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    const before = (await recordsOf(f.metricsPath, "train")).length;
    const evalsBefore = (await recordsOf(f.metricsPath, "eval")).length;
    await withLab(f, "", async (page) => {
      await waitAttr(page, "[data-testid=chart-loss]", "data-points", String(before), "initial loss curve");
      await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));
      const rec = (step: number, loss: number) => ({
        type: "train", step, loss, loss_ema: loss, lrm: 0.25, grad_norm: 0.5, dt: 0.1, tok_per_sec: 1000, mfu: 1, time: Date.now() / 1000,
      });
      await appendText(f.metricsPath, formatMetricsLine(rec(8, 5.5)) + formatMetricsLine(rec(9, 5.4)));
      await waitAttr(page, "[data-testid=chart-loss]", "data-points", String(before + 2), "after appending two train records");
      await waitAttr(page, "[data-testid=chart-tok_per_sec]", "data-points", String(before + 2), "throughput after appending");
      // Half a line is not a record yet.
      const line = formatMetricsLine(rec(10, 5.3));
      await appendText(f.metricsPath, line.slice(0, 20));
      await new Promise((r) => setTimeout(r, 800));
      assert.equal(await attr(page, "[data-testid=chart-loss]", "data-points"), String(before + 2));
      await appendText(f.metricsPath, line.slice(20) + formatMetricsLine({ type: "eval", step: 10, val_bpb: 3.6, val_loss: 5.5, time: Date.now() / 1000 }));
      await waitAttr(page, "[data-testid=chart-loss]", "data-points", String(before + 3), "after completing the line");
      await waitAttr(page, "[data-testid=chart-val_bpb]", "data-points", String(evalsBefore + 1), "val bpb after an eval record");
      // The table follows (its summary's step is the last step in metrics.jsonl).
      await waitAttr(page, `[data-testid=run-row][data-run="${f.run}"] [data-testid=run-step]`, "data-step", "10", "table step");
      assert.equal(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload), true, "the page reloaded");
      const nav = await page.evaluate(() => performance.getEntriesByType("navigation").length);
      assert.equal(nav, 1);
    });
  },
});

Deno.test({
  name: "lab: several runs overlay on one chart with a legend entry each",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    const copy = `${f.run}-b`;
    await Deno.mkdir(`${f.runsDir}/${copy}`);
    const info = JSON.parse(await Deno.readTextFile(`${f.runDir}/run.json`));
    // The copy differs in one config field (matrix_lr), which the comparison marks.
    await Deno.writeTextFile(`${f.runsDir}/${copy}/run.json`, JSON.stringify({ ...info, name: copy, started_at: new Date().toISOString(), config: { ...info.config, matrix_lr: 0.0123 } }));
    // The copy: its first five steps, with a higher loss, so the curves are told apart.
    const copied = (await recordsOf(f.metricsPath, "train")).slice(0, 5).map((r) => ({ ...r, loss: (r.loss as number) + 0.3, tok_per_sec: (r.tok_per_sec as number) * 0.8 }));
    await Deno.writeTextFile(`${f.runsDir}/${copy}/metrics.jsonl`, copied.map(formatMetricsLine).join(""));
    const own = (await recordsOf(f.metricsPath, "train")).length;
    await withLab(f, "", async (page) => {
      const row = `[data-testid=run-row][data-run="${copy}"]`;
      await page.waitForSelector(row, { timeout: UI_TIMEOUT });
      // A new browser profile selects the newest runs: both are on.
      await waitAttr(page, "[data-testid=chart-loss]", "data-points", String(own + 5), "two runs overlaid");
      const runs = (await attr(page, "[data-testid=chart-loss]", "data-runs"))!.split(",").sort();
      assert.deepEqual(runs, [f.run, copy].sort());
      const labels = await page.$$eval("[data-testid=chart-loss] .u-legend .u-series .u-label", (els) => els.map((e) => e.textContent));
      assert.deepEqual(labels.slice(1).sort(), [f.run, copy].sort());
      // Two runs with the same numbers would draw one line: the second is dashed.
      const dashes = (await attr(page, "[data-testid=chart-loss]", "data-dashes"))!.split(",");
      assert.equal(dashes.length, 2);
      assert.notEqual(dashes[0], dashes[1]);
      await page.screenshot({ path: `${SCREENSHOT_DIR}/lab-runs-overlay.png` });

      // Compare: both ticked runs side by side; only matrix_lr differs (the rows shown by default), all rows on request.
      await page.waitForSelector("[data-testid=compare]", { timeout: UI_TIMEOUT });
      assert.deepEqual((await page.$$eval("[data-testid=compare-run]", (t) => t.map((e) => e.textContent))).sort(), [f.run, copy].sort());
      assert.deepEqual(await page.$$eval("[data-testid=compare-row]", (t) => t.map((e) => [e.getAttribute("data-field"), e.className])), [["matrix_lr", "differs"]]);
      assert.match((await page.textContent("[data-testid=compare-row][data-field=matrix_lr]")) ?? "", /0\.0123/);
      await page.click("[data-testid=compare-only-diff]");
      const all = await page.$$eval("[data-testid=compare-row]", (t) => t.map((e) => [e.getAttribute("data-field"), e.className]));
      assert.ok(all.length > 20 && all.filter(([, c]) => c === "differs").length === 1, JSON.stringify(all));

      // Sorting: the copy has the higher last loss; a header click sorts, a second reverses.
      const order = () => page.$$eval("[data-testid=run-row]", (rows) => rows.map((r) => r.getAttribute("data-run")));
      await page.click("[data-testid=sort-loss] button");
      assert.equal(await attr(page, "[data-testid=sort-loss]", "aria-sort"), "descending");
      assert.deepEqual(await order(), [copy, f.run]);
      await page.click("[data-testid=sort-loss] button");
      assert.deepEqual(await order(), [f.run, copy]);
      assert.equal(await attr(page, "[data-testid=sort-loss]", "aria-sort"), "ascending");
      // Runtime: both runs are finished, so it is their run.json's start to their last update.
      assert.ok(Number(await attr(page, `[data-testid=run-row][data-run="${f.run}"] [data-testid=run-runtime]`, "data-seconds")) > 0);
      assert.equal((await page.textContent(`[data-testid=run-row][data-run="${f.run}"] [data-testid=run-eta]`))?.trim(), "—");
      // The filter keeps the runs matching every word.
      await page.fill("[data-testid=runs-filter]", "-b");
      await page.waitForFunction(() => document.querySelectorAll("[data-testid=run-row]").length === 1, undefined, { timeout: UI_TIMEOUT });
      assert.deepEqual(await order(), [copy]);
      assert.match((await page.textContent("[data-testid=runs-shown]")) ?? "", /1 of 2/);
      await page.fill("[data-testid=runs-filter]", "");

      // A run that starts while the page is open (run.json running, its owner lock held by a
      // live process: this one) is plotted as soon as a poll lists it, without a tick.
      const live = `${f.run}-live`;
      await Deno.mkdir(`${f.runsDir}/${live}`);
      const lock = await acquireLock(`${f.runsDir}/${live}/${RUN_LOCK_FILE}`, { what: "the live test run" });
      try {
        await Deno.writeTextFile(`${f.runsDir}/${live}/metrics.jsonl`, copied.slice(0, 3).map(formatMetricsLine).join(""));
        await Deno.writeTextFile(`${f.runsDir}/${live}/run.json`, JSON.stringify({ ...info, name: live, status: "running", started_at: new Date().toISOString() }));
        await page.waitForFunction((n) => (document.querySelector("[data-testid=chart-loss]")?.getAttribute("data-runs") ?? "").split(",").includes(n), live, { timeout: UI_TIMEOUT });
        await waitAttr(page, "[data-testid=chart-loss]", "data-points", String(own + 5 + 3), "the new run's points");
      } finally {
        lock.release();
      }
    });
    await Deno.remove(`${f.runsDir}/${copy}`, { recursive: true });
    await Deno.remove(`${f.runsDir}/${f.run}-live`, { recursive: true });
  },
});

Deno.test({
  name: "lab: the Report tab renders a pipeline's report (BASE/MID/SFT/RL table, each stage's figures and curve); the server serves its files safely",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    // A pipeline around the trained run: its chat stages are copies of it under the pipeline's names, each with a chat evaluation.
    const info = JSON.parse(await Deno.readTextFile(`${f.runDir}/run.json`));
    const train = await recordsOf(f.metricsPath, "train");
    const stages = ["mid", "sft", "rl"];
    for (const [i, stage] of stages.entries()) {
      const dir = `${f.runsDir}/${f.run}-${stage}`;
      await Deno.mkdir(dir);
      await Deno.writeTextFile(`${dir}/run.json`, JSON.stringify({ ...info, name: `${f.run}-${stage}`, stage }));
      const evalChat = { type: "eval_chat", step: 7, scores: [{ task: "arithmetic", correct: 50 + 10 * i, total: 200, accuracy: (50 + 10 * i) / 200 }], chatcore: null };
      await Deno.writeTextFile(`${dir}/metrics.jsonl`, [...train.map((r) => (stage === "rl" ? { ...r, reward: 0.1 * (r.step as number) } : r)), evalChat].map(formatMetricsLine).join(""));
    }
    const api = (path: string) => new URL(path, f.server.url).href;
    const missing = await fetch(api(`/api/runs/${f.run}/report`));
    assert.equal(missing.status, 404);
    assert.match((await missing.json()).error, new RegExp(`deno task report --run ${f.run}`));
    const { writeReport } = await import("../../src/report/deno_report.ts");
    await writeReport(f.runsDir, f.run);
    const svg = await fetch(api(`/api/runs/${f.run}/report/base_loss.svg`));
    assert.equal(svg.headers.get("content-type"), "image/svg+xml");
    assert.match(svg.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    assert.match(await svg.text(), /^<svg /);
    assert.equal((await fetch(api(`/api/runs/${f.run}/report/..%2Frun.json`))).status, 400);
    try {
      await withLab(f, "#report", async (page) => {
        await page.waitForSelector(`[data-testid=report][data-run="${f.run}"]`, { timeout: UI_TIMEOUT });
        const header = await page.$$eval("[data-testid=report-table] tr:first-child th", (els) => els.map((e) => e.textContent?.trim()));
        assert.deepEqual(header, ["metric", "BASE", "MID", "SFT", "RL"]);
        const rows = await page.$$eval("[data-testid=report-table] tr", (els) => els.slice(1).map((tr) => [...tr.children].map((c) => c.textContent?.trim())));
        const arithmetic = rows.find((r) => r[0] === "arithmetic");
        assert.deepEqual(arithmetic, ["arithmetic", "—", "25.0% (50/200)", "30.0% (60/200)", "35.0% (70/200)"]);
        const bpb = rows.find((r) => r[0] === "val bpb (base data)")!;
        assert.match(bpb[1]!, /^\d\.\d{4}$/);
        for (const stage of ["base", ...stages]) {
          await page.waitForSelector(`[data-testid=report-stage-${stage}]`, { timeout: UI_TIMEOUT });
          // Each curve is the report's own SVG, loaded and drawn.
          await page.waitForFunction((s) => (document.querySelector(`[data-testid=report-curve-${s}]`) as HTMLImageElement | null)?.naturalWidth === 480, stage, { timeout: UI_TIMEOUT });
        }
        // The run's train records so far (earlier tests append to it): its last step + 1.
        const steps = await page.textContent("[data-testid=report-figures-base] tr:first-child td");
        assert.equal(steps, String((train.at(-1)!.step as number) + 1));
        await page.screenshot({ path: `${SCREENSHOT_DIR}/lab-report.png`, fullPage: true });

        // Every view at 1400 px and at 400 px (build/test-output/screenshots/lab-<view>-<width>.png),
        // with a model loaded and a reply in the chat; at 400 px no view is wider than the window.
        await page.click("[data-testid=tab-chat]");
        await loadFixtureModel(page);
        await setField(page, "chat-max-tokens", "8", "change");
        await sendAndWait(page, "The cat sat");
        for (const width of [1400, 400]) {
          await page.setViewportSize({ width, height: 900 });
          for (const view of ["runs", "chat", "report", "adapter"]) {
            await page.click(`[data-testid=tab-${view}]`);
            await page.waitForSelector(`[data-testid=view-${view}]:not([hidden])`, { timeout: UI_TIMEOUT });
            if (view === "runs") await page.waitForFunction(() => Number(document.querySelector("[data-testid=chart-loss]")?.getAttribute("data-points")) > 0, undefined, { timeout: UI_TIMEOUT });
            if (view === "adapter") await page.waitForSelector("[data-testid=adapter-name]", { timeout: UI_TIMEOUT });
            await page.waitForTimeout(300); // charts follow the new width on their next resize callback
            if (width === 400) {
              const w = await page.evaluate(() => document.documentElement.scrollWidth);
              assert.ok(w <= 400, `the ${view} view is ${w} px wide in a 400 px window`);
            }
            await page.screenshot({ path: `${SCREENSHOT_DIR}/lab-${view}-${width}.png`, fullPage: true });
          }
        }
      });
    } finally {
      for (const stage of stages) await Deno.remove(`${f.runsDir}/${f.run}-${stage}`, { recursive: true });
      await Deno.remove(`${f.runDir}/report`, { recursive: true });
    }
  },
});

Deno.test({
  name: "lab: screenshots of the runs view at 1280×800 go to build/test-output/screenshots/",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    await withLab(f, "#runs", async (page) => {
      await page.waitForSelector(`[data-testid=run-row][data-run="${f.run}"]`, { timeout: UI_TIMEOUT });
      await page.waitForFunction(() => Number(document.querySelector("[data-testid=chart-loss]")?.getAttribute("data-points")) > 0, undefined, { timeout: UI_TIMEOUT });
      await page.waitForSelector("[data-testid=checkpoint-row]", { timeout: UI_TIMEOUT });
      await page.screenshot({ path: `${SCREENSHOT_DIR}/lab-runs.png` });
      await page.screenshot({ path: `${SCREENSHOT_DIR}/lab-runs-full.png`, fullPage: true });
    });
    const shot = await Deno.readFile(`${SCREENSHOT_DIR}/lab-runs.png`);
    assert.deepEqual(pngSize(shot), VIEWPORT);
    assert.ok(shot.byteLength > 20_000, `the screenshot is only ${shot.byteLength} bytes`);
    const full = pngSize(await Deno.readFile(`${SCREENSHOT_DIR}/lab-runs-full.png`));
    assert.equal(full.width, VIEWPORT.width);
    assert.ok(full.height >= VIEWPORT.height);
  },
});

Deno.test({
  name: "lab: keyboard (run rows, tab bar, file pickers), Back between tabs, each tab's scroll position, a 400 px window",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    await withLab(f, "#runs", async (page) => {
      const row = `[data-testid=run-row][data-run="${f.run}"]`;
      await page.waitForSelector(row, { timeout: UI_TIMEOUT });
      await page.waitForFunction(() => Number(document.querySelector("[data-testid=chart-loss]")?.getAttribute("data-points")) > 0, undefined, { timeout: UI_TIMEOUT });
      // A run row: Space unticks and reticks it for the charts, Enter opens its details.
      await page.focus(row);
      await page.keyboard.press("Space");
      await waitAttr(page, "[data-testid=chart-loss]", "data-points", "0", "Space unticks the run");
      await page.keyboard.press("Space");
      await page.waitForFunction(() => Number(document.querySelector("[data-testid=chart-loss]")?.getAttribute("data-points")) > 0, undefined, { timeout: UI_TIMEOUT });
      await page.keyboard.press("Enter");
      await waitAttr(page, "[data-testid=run-details]", "data-run", f.run, "Enter opens the details");

      // Scroll the runs tab, open Chat from the keyboard (→ on the tab bar): it starts at the top.
      const maxScroll = await page.evaluate(() => document.documentElement.scrollHeight - innerHeight);
      const y = Math.min(300, maxScroll);
      await page.evaluate((y) => scrollTo(0, y), y);
      await page.focus("[data-testid=tab-runs]");
      await page.keyboard.press("ArrowRight");
      await page.waitForFunction(() => location.hash === "#train" && document.activeElement?.getAttribute("data-testid") === "tab-train", undefined, { timeout: UI_TIMEOUT });
      assert.equal(await page.evaluate(() => scrollY), 0, "a tab opened for the first time starts at the top");
      await page.keyboard.press("ArrowRight");
      await page.waitForFunction(() => location.hash === "#chat" && document.activeElement?.getAttribute("data-testid") === "tab-chat", undefined, { timeout: UI_TIMEOUT });
      // The file pickers are buttons to the keyboard.
      const chooser = page.waitForEvent("filechooser", { timeout: UI_TIMEOUT });
      await page.focus("[data-testid=loader-files-button]");
      await page.keyboard.press("Enter");
      assert.equal((await chooser).isMultiple(), true);
      // Back (twice: Chat, then Train) returns to the runs tab (not out of the lab), where it was scrolled.
      await page.goBack();
      await page.waitForFunction(() => location.hash === "#train", undefined, { timeout: UI_TIMEOUT });
      await page.goBack();
      await page.waitForFunction(() => location.hash === "#runs" && !document.querySelector("[data-testid=view-runs]")?.hasAttribute("hidden"), undefined, { timeout: UI_TIMEOUT });
      await page.waitForFunction((y) => Math.abs(scrollY - y) <= 1, y, { timeout: UI_TIMEOUT });
      assert.ok(page.url().startsWith(f.server.url), page.url());

      // 400 px wide: the page is no wider than the window, the chat column keeps its width.
      await page.setViewportSize({ width: 400, height: 800 });
      await page.waitForFunction(() => document.documentElement.scrollWidth <= 400, undefined, { timeout: UI_TIMEOUT })
        .catch(async () => assert.fail(`the runs page is ${await page.evaluate(() => document.documentElement.scrollWidth)} px wide at 400`));
      await page.click("[data-testid=tab-chat]");
      await page.waitForSelector("[data-testid=view-chat]:not([hidden])", { timeout: UI_TIMEOUT });
      const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, chat: document.querySelector(".chat-main")!.getBoundingClientRect().width }));
      assert.ok(widths.page <= 400, `the chat page is ${widths.page} px wide at 400`);
      assert.ok(widths.chat >= 300, `the chat column is ${widths.chat} px wide at 400`);
    });
  },
});

Deno.test({
  name: "lab: dark mode follows the system setting, the charts' axes included, and switches back live",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    await withLab(f, "#runs", async (page) => {
      await page.waitForFunction(() => Number(document.querySelector("[data-testid=chart-loss]")?.getAttribute("data-points")) > 0, undefined, { timeout: UI_TIMEOUT });
      const look = () => page.evaluate(() => ({
        bg: getComputedStyle(document.documentElement).backgroundColor,
        panel: getComputedStyle(document.querySelector(".panel")!).backgroundColor,
        axis: document.querySelector("[data-testid=chart-loss]")!.getAttribute("data-axis-color"),
      }));
      assert.deepEqual(await look(), { bg: "rgb(244, 245, 247)", panel: "rgb(255, 255, 255)", axis: "#5b6472" });
      await page.emulateMedia({ colorScheme: "dark" });
      await waitAttr(page, "[data-testid=chart-loss]", "data-axis-color", "#9aa4b2", "dark axes");
      assert.deepEqual(await look(), { bg: "rgb(15, 19, 24)", panel: "rgb(23, 28, 35)", axis: "#9aa4b2" });
      await page.screenshot({ path: `${SCREENSHOT_DIR}/lab-runs-dark.png` });
      await page.emulateMedia({ colorScheme: "light" });
      await waitAttr(page, "[data-testid=chart-loss]", "data-axis-color", "#5b6472", "light axes again");
    });
  },
});

Deno.test({
  name: "lab: the adapter panel shows the SwiftShader adapter, its features and limits",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    await withLab(f, "#adapter", async (page) => {
      await page.waitForSelector("[data-testid=adapter-name]", { timeout: UI_TIMEOUT });
      const name = (await page.textContent("[data-testid=adapter-name]"))!.trim();
      assert.match(name, /swiftshader/i);
      assert.equal((await page.textContent("[data-testid=adapter-kind]"))?.trim(), "software");
      const expected = await page.evaluate(async () => {
        const a = await navigator.gpu.requestAdapter();
        return { maxBufferSize: a!.limits.maxBufferSize, maxComputeWorkgroupStorageSize: a!.limits.maxComputeWorkgroupStorageSize, features: a!.features.size };
      });
      assert.equal(Number(await attr(page, "[data-testid=limit-row][data-limit=maxBufferSize]", "data-value")), expected.maxBufferSize);
      assert.equal(Number(await attr(page, "[data-testid=limit-row][data-limit=maxComputeWorkgroupStorageSize]", "data-value")), expected.maxComputeWorkgroupStorageSize);
      assert.match((await page.textContent("[data-testid=limit-row][data-limit=maxBufferSize]")) ?? "", /(GiB|MiB)/);
      assert.equal(await page.$$eval("[data-testid=adapter-features] li", (l) => l.length), expected.features);
      assert.match((await page.textContent("[data-testid=adapter-chip]")) ?? "", /swiftshader/i);
      await page.screenshot({ path: `${SCREENSHOT_DIR}/lab-adapter.png` });
    });
  },
});

Deno.test({
  name: "lab: without WebGPU the adapter panel says what to do, and the runs still show",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    const noGpu = "Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });";
    await withLab(f, "#adapter", async (page) => {
      await page.waitForSelector("[data-testid=adapter-error]", { timeout: UI_TIMEOUT });
      assert.equal(await attr(page, "[data-testid=adapter-panel]", "data-problem"), "no-webgpu");
      const help = (await page.textContent("[data-testid=adapter-help]")) ?? "";
      assert.match(help, /Chromium-based browser .*113/);
      assert.match(help, /http:\/\/127\.0\.0\.1/);
      assert.match((await page.textContent("[data-testid=adapter-chip]")) ?? "", /no WebGPU/);
      await page.screenshot({ path: `${SCREENSHOT_DIR}/lab-adapter-missing.png` });
      await page.click("[data-testid=tab-runs]");
      await page.waitForSelector(`[data-testid=run-row][data-run="${f.run}"]`, { timeout: UI_TIMEOUT });
    }, noGpu);
  },
});

Deno.test({
  name: "lab: the checkpoint loader downloads a run's checkpoint with progress, caches it in IndexedDB, reuses and clears the cache",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    const dir = `${f.runDir}/checkpoints/step_000008`;
    const sizes = [
      (await Deno.stat(`${dir}/meta.json`)).size,
      (await Deno.stat(`${dir}/model.safetensors`)).size,
      (await Deno.stat(`${f.runDir}/tokenizer/tokenizer.json`)).size,
    ];
    const total = sizes.reduce((a, b) => a + b, 0);
    await withLab(f, "#chat", async (page) => {
      await page.waitForSelector("[data-testid=loader-load]:not([disabled])", { timeout: UI_TIMEOUT });
      assert.equal(await page.inputValue("[data-testid=loader-run]"), f.run);
      assert.equal(await attr(page, "[data-testid=cache-size]", "data-bytes"), "0");
      assert.equal(await page.$$eval("[data-testid=chat-mode]", (els) => els.length), 0, "no mode badge before a model is loaded");
      await page.click("[data-testid=loader-load]");
      await page.waitForSelector("[data-testid=loaded-model], [data-testid=loader-error]", { timeout: 120_000 });
      const error = await page.$("[data-testid=loader-error]");
      if (error) throw new Error(`loading failed: ${await error.textContent()}`);
      assert.match((await page.textContent("[data-testid=loaded-model]")) ?? "", new RegExp(`${f.run} · step 8`));
      const files = await page.$$eval("[data-testid=loader-progress] li", (li) => li.map((l) => [l.getAttribute("data-file"), l.getAttribute("data-done"), l.getAttribute("data-cached")]));
      assert.deepEqual(files, [["meta.json", "true", "false"], ["model.safetensors", "true", "false"], ["tokenizer.json", "true", "false"]]);
      await waitAttr(page, "[data-testid=cache-size]", "data-bytes", String(total), "cache size");
      assert.match((await page.textContent("[data-testid=cache-size]")) ?? "", new RegExp(`${(total / 1e6).toFixed(2)} MB in 3 files`));
      assert.equal((await page.textContent("[data-testid=chat-mode]"))?.trim(), "complete", "a base checkpoint continues text");
      await page.screenshot({ path: `${SCREENSHOT_DIR}/lab-chat-loaded.png` });
      // Again after a reload: every file comes from the cache (revalidated by ETag).
      await page.reload();
      await page.waitForSelector("[data-testid=loader-load]:not([disabled])", { timeout: UI_TIMEOUT });
      await page.click("[data-testid=loader-load]");
      await page.waitForSelector("[data-testid=loaded-model]", { timeout: 120_000 });
      const cached = await page.$$eval("[data-testid=loader-progress] li", (li) => li.map((l) => l.getAttribute("data-cached")));
      assert.deepEqual(cached, ["true", "true", "true"]);
      await page.click("[data-testid=cache-clear]");
      await waitAttr(page, "[data-testid=cache-size]", "data-bytes", "0", "cleared cache");
    });
  },
});

/** `deno task chat` on the fixture's run: the reply's text (stdout) and token ids (--tokens, stderr). */
async function cliChat(f: LabFixture, prompt: string, extra: string[]): Promise<{ text: string; tokens: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "src/cli/chat.ts", "--run", f.run, "--runs-dir", f.runsDir, "-p", prompt, "--tokens", ...extra],
    cwd: ROOT, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" },
  }).output();
  const out = new TextDecoder().decode(r.stdout), err = new TextDecoder().decode(r.stderr);
  assert.equal(r.code, 0, `deno task chat failed:\n${out}\n${err}`);
  const tokens = err.match(/^tokens: (.*)$/m);
  assert.ok(tokens, `no token line in:\n${err}`);
  return { text: out.replace(/\n$/, ""), tokens: tokens[1] };
}

async function setField(page: Page, testid: string, value: string, event: "input" | "change"): Promise<void> {
  await page.$eval(`[data-testid=${testid}]`, (el, [v, ev]) => {
    (el as HTMLInputElement).value = v;
    el.dispatchEvent(new Event(ev, { bubbles: true }));
  }, [value, event] as const);
}

async function loadFixtureModel(page: Page): Promise<void> {
  await page.waitForSelector("[data-testid=loader-load]:not([disabled])", { timeout: UI_TIMEOUT });
  await page.click("[data-testid=loader-load]");
  await page.waitForSelector("[data-testid=loaded-model], [data-testid=loader-error]", { timeout: 120_000 });
  const error = await page.$("[data-testid=loader-error]");
  if (error) throw new Error(`loading failed: ${await error.textContent()}`);
}

/** Picks the scripted chat run `run` in the loader, loads it, and waits for chat mode (an sft checkpoint chats). */
async function loadScriptedChat(page: Page, run: string): Promise<void> {
  await page.waitForSelector(`[data-testid=loader-run] option[value=${run}]`, { state: "attached", timeout: UI_TIMEOUT });
  await page.selectOption("[data-testid=loader-run]", run);
  await loadFixtureModel(page);
  await waitAttr(page, "[data-testid=chat-mode]", "data-mode", "chat", "an sft checkpoint chats");
}

/** Sends `text` and waits for the reply turn to leave "streaming"; returns its state, text and token ids. */
async function sendAndWait(page: Page, text: string, onStreaming?: () => Promise<void>) {
  await page.fill("[data-testid=chat-input]", text);
  await page.click("[data-testid=chat-send]");
  const last = "[data-testid=turn][data-role=assistant]:last-child";
  if (onStreaming) await onStreaming();
  await page.waitForSelector(`${last}:not([data-state=streaming])`, { timeout: 120_000 });
  return await page.$eval(last, (el) => ({
    state: el.getAttribute("data-state"),
    tokens: el.getAttribute("data-tokens") ?? "",
    text: [...el.querySelectorAll("[data-testid=piece]")].map((p) => p.textContent).join(""),
  }));
}

Deno.test({
  name: "lab: a checkpoint loaded in the page streams a reply whose greedy tokens equal `deno task chat`'s; chat mode keeps turns; Stop stops",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    const prompt = "The cat sat";
    const cli = await cliChat(f, prompt, ["--temperature", "0", "--max-tokens", "12"]);
    assert.equal(cli.tokens.split(",").length, 12, `the CLI's greedy reply runs to --max-tokens: ${cli.tokens}`);
    await withLab(f, "#chat", async (page) => {
      await loadFixtureModel(page);
      await setField(page, "chat-temperature", "0", "input");
      await setField(page, "chat-max-tokens", "12", "change");
      const complete = await sendAndWait(page, prompt);
      assert.equal(complete.state, "done");
      assert.equal(complete.tokens, cli.tokens, "greedy tokens: page vs deno task chat");
      assert.equal(complete.text, cli.text);

      // Chat mode: two turns, the second prompt rendered with the first turn in it; same tokens as the CLI's one-shot chat.
      await page.click("[data-testid=chat-mode-chat]");
      await waitAttr(page, "[data-testid=chat-mode]", "data-mode", "chat", "mode switch");
      const cliChatTurn = await cliChat(f, "hi", ["--temperature", "0", "--max-tokens", "6", "--mode", "chat"]);
      await setField(page, "chat-max-tokens", "6", "change");
      const first = await sendAndWait(page, "hi");
      assert.equal(first.tokens, cliChatTurn.tokens, "chat mode greedy tokens: page vs deno task chat --mode chat");
      const second = await sendAndWait(page, "ok");
      assert.equal(second.state, "done");
      assert.equal(await page.$$eval("[data-testid=turn]", (t) => t.length), 4, "two exchanges on screen (switching mode starts a new conversation)");
      await page.screenshot({ path: `${SCREENSHOT_DIR}/lab-chat.png` });

      // Stop: a long sampled reply ends early, marked stopped.
      await page.click("[data-testid=chat-reset]");
      await setField(page, "chat-temperature", "1", "input");
      await setField(page, "chat-max-tokens", "20", "change");
      const stopped = await sendAndWait(page, "tell me more", async () => {
        await page.waitForSelector("[data-testid=turn][data-role=assistant] [data-testid=piece]", { timeout: 60_000 });
        await page.click("[data-testid=chat-stop]");
      });
      assert.equal(stopped.state, "stopped");
      assert.ok(stopped.tokens.split(",").length < 20, `stopped after ${stopped.tokens.split(",").length} tokens`);
      // Esc stops a reply as Stop does.
      const escaped = await sendAndWait(page, "go on", async () => {
        await page.waitForSelector("[data-testid=turn][data-role=assistant][data-state=streaming] [data-testid=piece]", { timeout: 60_000 });
        await page.keyboard.press("Escape");
      });
      assert.equal(escaped.state, "stopped");
      assert.ok(escaped.tokens.split(",").length < 20, `Esc stopped after ${escaped.tokens.split(",").length} tokens`);
      // A one-token reply says "1 token". A new conversation first: after the sampled turns
      // above, the greedy token could be the end of the turn (no token shown).
      await page.click("[data-testid=chat-reset]");
      await setField(page, "chat-temperature", "0", "input");
      await setField(page, "chat-max-tokens", "1", "change");
      const one = await sendAndWait(page, "hi");
      assert.equal(one.tokens, cliChatTurn.tokens.split(",")[0], `one greedy token, the CLI's first: ${one.tokens}`);
      assert.match((await page.textContent("[data-testid=turn][data-role=assistant]:last-child .turn-meta")) ?? "", /^\s*1 token · /);
    });
  },
});

Deno.test({
  name: "lab: a chat checkpoint opens in chat mode, and the calculator call and its result appear as boxes",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    await writeScriptedChatRun(f.runsDir, "scripted-sft");
    await withLab(f, "#chat", async (page) => {
      await loadScriptedChat(page, "scripted-sft");
      const reply = await sendAndWait(page, "What is 2+3?");
      assert.equal(reply.state, "done");
      const pieces = await page.$$eval("[data-testid=turn][data-role=assistant]:last-child [data-testid=piece]", (ps) => ps.map((p) => [p.getAttribute("data-kind"), p.textContent?.trim()]));
      assert.deepEqual(pieces.filter(([k]) => k !== "text"), [["tool_call", "calculator2+3"], ["tool_output", "result5"]]);
      await page.screenshot({ path: `${SCREENSHOT_DIR}/lab-chat-calculator.png` });
    });
  },
});

Deno.test({
  name: "lab: chat — why a reply stopped, the context meter, copy, regenerate, edit and resend, a system prompt, the conversation kept across a reload",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    await writeScriptedChatRun(f.runsDir, "scripted-chat");
    await withLab(f, "#chat", async (page) => {
      const open = () => loadScriptedChat(page, "scripted-chat");
      await open();
      await setField(page, "chat-temperature", "0", "input");
      const turns = () => page.$$eval("[data-testid=turn]", (t) => t.map((e) => [e.getAttribute("data-role"), e.getAttribute("data-state")]));
      const last = "[data-testid=turn][data-role=assistant]:last-child";
      const meter = async () => [Number(await attr(page, "[data-testid=context-meter]", "data-used")), Number(await attr(page, "[data-testid=context-meter]", "data-capacity"))];

      // The scripted model calls the calculator (9 tokens: the call, the forced result, the end token) and ends its turn.
      const first = await sendAndWait(page, "What is 2+3?");
      assert.equal(await attr(page, last, "data-stop"), "end");
      assert.match((await page.textContent(`${last} [data-testid=turn-stop]`)) ?? "", /ended: end token/);
      const [used1, capacity] = await meter();
      assert.equal(capacity, 64);
      const prompt1 = used1 - 9;
      assert.ok(prompt1 > 12, `prompt of ${prompt1} tokens`);

      // Copy puts the reply on the clipboard as `deno task chat` prints it.
      await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
      await page.click(`${last} [data-testid=turn-copy]`);
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), "⟦calculator: 2+3⟧⟦= 5⟧");

      // Regenerate: the last reply is replaced (greedy: the same tokens), the history does not grow.
      await page.click(`${last} [data-testid=turn-regenerate]`);
      await page.waitForSelector(`${last}:not([data-state=streaming])`, { timeout: 120_000 });
      assert.deepEqual(await turns(), [["user", "done"], ["assistant", "done"]]);
      assert.equal(await attr(page, last, "data-tokens"), first.tokens);
      assert.equal((await meter())[0], used1, "the regenerated reply's prompt holds no earlier copy of it");

      // Edit: the first question goes back to the composer and the conversation is cut there.
      await sendAndWait(page, "And 1+1?");
      assert.equal((await turns()).length, 4);
      await page.click("[data-testid=turn][data-role=user]:first-child [data-testid=turn-edit]");
      assert.deepEqual(await turns(), []);
      assert.equal(await page.inputValue("[data-testid=chat-input]"), "What is 2+3?");
      await page.fill("[data-testid=chat-input]", "What is 2+3?!");
      await page.click("[data-testid=chat-send]");
      await page.waitForSelector(`${last}:not([data-state=streaming])`, { timeout: 120_000 });
      assert.equal((await meter())[0], used1 + 1, "the edited question (one byte longer) was asked on its own");

      // A system prompt is part of the prompt (folded into the first user message: its text and a blank line).
      await page.click("[data-testid=chat-reset]");
      await setField(page, "chat-system", "Hi.", "change");
      await sendAndWait(page, "What is 2+3?");
      assert.equal((await meter())[0], used1 + "Hi.\n\n".length);
      // A system prompt that leaves 4 positions for the reply: it stops with the context full.
      await page.click("[data-testid=chat-reset]");
      await setField(page, "chat-system", "x".repeat(capacity - 4 - prompt1 - 2), "change");
      await sendAndWait(page, "What is 2+3?");
      assert.equal(await attr(page, last, "data-stop"), "context_full");
      assert.equal((await meter())[0], capacity);
      // maxTokens.
      await page.click("[data-testid=chat-reset]");
      await setField(page, "chat-system", "", "change");
      await setField(page, "chat-max-tokens", "3", "change");
      await sendAndWait(page, "What is 2+3?");
      assert.equal(await attr(page, last, "data-stop"), "max_tokens");
      assert.match((await page.textContent(`${last} [data-testid=turn-stop]`)) ?? "", /ended: max tokens/);

      // Reload: loading the same model brings its conversation back.
      await setField(page, "chat-max-tokens", "64", "change");
      await sendAndWait(page, "Again?");
      const [usedBefore] = await meter();
      const before = await turns();
      const beforeTokens = await page.$$eval("[data-testid=turn]", (t) => t.map((e) => e.getAttribute("data-tokens")));
      await page.reload();
      await open();
      assert.deepEqual(await turns(), before);
      assert.deepEqual(await page.$$eval("[data-testid=turn]", (t) => t.map((e) => e.getAttribute("data-tokens"))), beforeTokens);
      // …and the model is given it again: the next prompt holds both earlier exchanges.
      await setField(page, "chat-temperature", "0", "input");
      await sendAndWait(page, "?");
      assert.equal((await turns()).length, before.length + 2);
      // The prompt: everything before, then <|user_start|> ? <|user_end|> <|assistant_start|>; the reply's 9 tokens after it.
      assert.equal((await meter())[0], Math.min(capacity, usedBefore + 4 + 9));
    });
  },
});

Deno.test({
  name: "lab: an MXFP4 checkpoint (deno task export checkpoint --save-dtype mxfp4) loads from picked files and chats: its greedy tokens equal `deno task chat --checkpoint`'s",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    // A run of its own: earlier tests of this file take the fixture run's checkpoints apart.
    const source = "mxfp4-source";
    await trainTiny(f.tmp, source, { checkpointEvery: 4 });
    const out = `${f.tmp}/mxfp4-copy`;
    const exp = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "src/cli/export.ts", "checkpoint", "--run", source, "--runs-dir", f.runsDir, "--out", out, "--save-dtype", "mxfp4"],
      cwd: ROOT, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" },
    }).output();
    assert.equal(exp.code, 0, new TextDecoder().decode(exp.stderr));
    assert.equal(JSON.parse(await Deno.readTextFile(`${out}/meta.json`)).weights_dtype, "mxfp4");
    const prompt = "The cat sat";
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "src/cli/chat.ts", "--checkpoint", out, "-p", prompt, "--tokens", "--temperature", "0", "--max-tokens", "8"],
      cwd: ROOT, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" },
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 0, err);
    const cliTokens = err.match(/^tokens: (.*)$/m)?.[1];
    assert.ok(cliTokens, err);
    try {
      await withLab(f, "#chat", async (page) => {
        await page.setInputFiles("[data-testid=loader-files]", [`${out}/meta.json`, `${out}/model.safetensors`, `${out}/tokenizer/tokenizer.json`]);
        await page.waitForSelector("[data-testid=loaded-model], [data-testid=loader-error]", { timeout: 120_000 });
        const error = await page.$("[data-testid=loader-error]");
        if (error) throw new Error(`loading the MXFP4 copy failed: ${await error.textContent()}`);
        await setField(page, "chat-temperature", "0", "input");
        await setField(page, "chat-max-tokens", "8", "change");
        const reply = await sendAndWait(page, prompt);
        assert.equal(reply.state, "done");
        assert.equal(reply.tokens, cliTokens, "greedy tokens of the MXFP4 copy: page vs deno task chat");
      });
    } finally {
      await Deno.remove(out, { recursive: true }).catch(() => {});
      await Deno.remove(`${f.runsDir}/${source}`, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "lab: closing the pages ends their event streams on the server",
  ...opts,
  fn: async () => {
    const f = await labFixture();
    await f.browser.close();
    const deadline = Date.now() + 10_000;
    while (f.server.activeStreams() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const left = f.server.activeStreams();
    await f.close();
    assert.equal(left, 0, "metric event streams still open after every page closed");
  },
});
