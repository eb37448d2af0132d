// `deno task train base` end to end on a very small config: it prepares data and a
// tokenizer, trains, checkpoints; a run killed with SIGKILL and resumed with --resume
// ends bitwise where an uninterrupted run ends.
import assert from "node:assert/strict";
import { decodeSafetensors } from "../../src/formats/safetensors.ts";
import { readMetrics } from "../../src/formats/metrics.ts";
import { ROOT, tinyTrainArgs, trainTiny } from "./tiny_run.ts";

const TMP = await Deno.makeTempDir({ prefix: "nanochat-train-" });
const trainArgs = (run: string, extra: string[] = []) => tinyTrainArgs(TMP, run, { extra });
const train = (run: string, extra: string[] = []) => trainTiny(TMP, run, { extra });

async function finalState(run: string) {
  const dir = `${TMP}/runs/${run}`;
  const records = readMetrics(await Deno.readTextFile(`${dir}/metrics.jsonl`));
  const trainLoss = new Map<number, number>();
  for (const r of records) if (r.type === "train") trainLoss.set(r.step as number, r.loss as number);
  const model = decodeSafetensors(await Deno.readFile(`${dir}/checkpoints/step_000008/model.safetensors`)).tensors;
  return { trainLoss, model };
}

Deno.test({
  name: "train base: prepares data + tokenizer, trains, and kill -9 + --resume ends bitwise like an uninterrupted run",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const first = await train("straight");
    assert.match(first, /no shards in .*building them from the embedded corpus/);
    assert.match(first, /no tokenizer in .*training one with vocab 512/);
    assert.match(first, /validation bits per byte: [\d.]+ at step 0 → [\d.]+ at step 8/);

    // deno task eval base --bpb on the final checkpoint reproduces the run's last evaluation.
    const ev = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "src/cli/eval.ts", "base", "--bpb", "--run", "straight", "--runs-dir", `${TMP}/runs`, "--data-dir", `${TMP}/data`, "--tokens", "64", "--batch-size", "2"],
      cwd: ROOT, stdout: "piped", stderr: "piped",
    }).output();
    const evOut = new TextDecoder().decode(ev.stdout);
    assert.equal(ev.code, 0, new TextDecoder().decode(ev.stderr));
    const lastEval = readMetrics(await Deno.readTextFile(`${TMP}/runs/straight/metrics.jsonl`)).filter((r) => r.type === "eval").pop()!;
    assert.match(evOut, new RegExp(`validation bits per byte: ${(lastEval.val_bpb as number).toFixed(4)}`));

    // The same run, killed with SIGKILL once its step-2 checkpoint exists, then resumed.
    const child = new Deno.Command(Deno.execPath(), { args: trainArgs("killed"), cwd: ROOT, stdout: "null", stderr: "null" }).spawn();
    const ckpt = `${TMP}/runs/killed/checkpoints/step_000002`;
    const deadline = Date.now() + 120_000;
    while (!(await Deno.stat(ckpt).then(() => true, () => false))) {
      if (Date.now() > deadline) throw new Error("the run never wrote its step-2 checkpoint");
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    await child.status;
    const info = JSON.parse(await Deno.readTextFile(`${TMP}/runs/killed/run.json`));
    assert.equal(info.status, "running", "a killed run cannot mark itself finished");
    const resumed = await train("killed", ["--resume"]);
    assert.match(resumed, /resuming from .*step_00000[2-6]/);

    const a = await finalState("straight");
    const b = await finalState("killed");
    assert.equal(b.trainLoss.get(7), a.trainLoss.get(7), "final step's loss differs");
    for (const [name, t] of a.model) {
      const x = new Uint32Array((t.data as Float32Array).buffer), y = new Uint32Array((b.model.get(name)!.data as Float32Array).buffer);
      assert.ok(x.every((w, i) => w === y[i]), `${name} differs after kill -9 + resume`);
    }
    const done = JSON.parse(await Deno.readTextFile(`${TMP}/runs/killed/run.json`));
    assert.equal(done.status, "finished");

    // Ctrl-C (SIGINT): a checkpoint at the current step, status "stopped", exit 0, and the
    // command to continue.
    const interrupted = new Deno.Command(Deno.execPath(), {
      args: trainArgs("interrupted", ["--num-iterations", "400", "--eval-every", "-1"]), cwd: ROOT, stdout: "piped", stderr: "piped",
    }).spawn();
    const firstCkpt = `${TMP}/runs/interrupted/checkpoints/step_000002`;
    while (!(await Deno.stat(firstCkpt).then(() => true, () => false))) await new Promise((r) => setTimeout(r, 20));
    interrupted.kill("SIGINT");
    const res = await interrupted.output();
    const text = new TextDecoder().decode(res.stdout);
    assert.equal(res.code, 0, new TextDecoder().decode(res.stderr));
    assert.match(text, /stopped at step (\d+); continue with: deno task train base .*--resume/);
    const stoppedAt = Number(/stopped at step (\d+)/.exec(text)![1]);
    const info2 = JSON.parse(await Deno.readTextFile(`${TMP}/runs/interrupted/run.json`));
    assert.equal(info2.status, "stopped");
    assert.ok(await Deno.stat(`${TMP}/runs/interrupted/checkpoints/step_${String(stoppedAt).padStart(6, "0")}/model.safetensors`));
    await Deno.remove(TMP, { recursive: true });
  },
});

Deno.test({
  name: "train base: a bad flag or config value is rejected before any work, naming the field",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const run = async (args: string[]) => {
      const r = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", "src/cli/train.ts", ...args], cwd: ROOT, stdout: "piped", stderr: "piped" }).output();
      return { code: r.code, err: new TextDecoder().decode(r.stderr) };
    };
    let r = await run(["base", "--device-batch-size", "3"]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /total_batch_size \(1024\) must be divisible by device_batch_size/);
    r = await run(["base", "--matrix-lr", "abc"]);
    assert.match(r.err, /--matrix-lr expects a number/);
    r = await run(["base", "--config", "nope"]);
    assert.match(r.err, /unknown preset "nope"; available presets: .*tiny/);
    r = await run(["sft", "--runs-dir", `${ROOT}/build/no-such-runs`]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /no mid run in .*no-such-runs: train one first \('deno task train mid'\), or pass --from RUN\[\/STEP\]/);
    r = await run(["rl", "--runs-dir", `${ROOT}/build/no-such-runs`]);
    assert.match(r.err, /no sft run in .*no-such-runs: train one first \('deno task train sft'\), or pass --from RUN\[\/STEP\]/);
  },
});
