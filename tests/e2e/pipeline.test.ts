// `deno task pipeline` end to end on a toy preset (every stage a few steps): tokenizer →
// base → mid → SFT → RL → evals → report, a report whose table has a BASE / MID / SFT / RL
// column with real numbers; stopped with a signal during a stage and started again, it
// finishes without redoing finished stages; run again, it skips everything; a stage whose
// input checkpoint is corrupt stops naming the stage and the file.
import assert from "node:assert/strict";
import { ROOT } from "./tiny_run.ts";

const TMP = await Deno.makeTempDir({ prefix: "nanochat-pipeline-" });
const opts = { sanitizeResources: false, sanitizeOps: false };

const PRESET = `${TMP}/toy.ts`;
await Deno.writeTextFile(PRESET, `
export default {
  run: "toy", data_dir: ${JSON.stringify(`${TMP}/data`)}, tokenizer_dir: ${JSON.stringify(`${TMP}/tok`)},
  depth: 1, n_embd: 32, n_head: 2, vocab_size: 512, max_seq_len: 32, device_batch_size: 2, total_batch_size: 128,
  num_iterations: 8, eval_every: 4, eval_tokens: 64, sample_every: -1, checkpoint_every: 4,
};
export const mid = { num_iterations: 30, eval_every: -1, checkpoint_every: 1, keep_last: 2 };
export const sft = { num_iterations: 2, target_examples_per_step: 4, device_batch_size: 2, max_seq_len: 32, eval_every: -1 };
export const rl = { num_iterations: 2, target_examples_per_step: 1, device_batch_size: 2, max_seq_len: 32, eval_every: -1 };
export const rlSampling = { samples: 4, maxNewTokens: 8, evalProblems: 2, evalSamples: 2 };
export const pipeline = { evalTasks: "arithmetic", evalProblems: 4, evalMaxTokens: 8, secondsBase: 20, secondsMid: 20 };
`);

const RUNS = `${TMP}/runs`;
// CORE's fixture bundle (an unpacked copy holding core.yaml): the eval stage scores the base checkpoint on it.
const ARGS = ["run", "-A", "src/cli/pipeline.ts", "--config", PRESET, "--runs-dir", RUNS, "--bundle-dir", "tests/fixtures/core/eval_bundle"];
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function pipeline(): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(Deno.execPath(), { args: ARGS, cwd: ROOT, stdout: "piped", stderr: "piped", stdin: "null", env: { NO_COLOR: "1" } }).output();
  return { code: r.code, out: dec(r.stdout) + dec(r.stderr) };
}

Deno.test({
  ...opts,
  name: "pipeline: a signal during mid stops it after a checkpoint; started again it resumes mid and finishes with a BASE/MID/SFT/RL report",
  fn: async () => {
    const child = new Deno.Command(Deno.execPath(), { args: ARGS, cwd: ROOT, stdout: "piped", stderr: "piped", stdin: "null", env: { NO_COLOR: "1" } }).spawn();
    const out = child.stdout.pipeThrough(new TextDecoderStream());
    const err = new Response(child.stderr).text();
    let text = "";
    // Wait until mid has written a checkpoint, then interrupt the pipeline (it passes the signal on).
    const midCkpt = `${RUNS}/toy-mid/checkpoints`;
    const watch = (async () => {
      for (;;) {
        const steps = await Array.fromAsync(Deno.readDir(midCkpt)).catch(() => []);
        if (steps.some((e) => e.name.startsWith("step_"))) return child.kill("SIGINT");
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    for await (const chunk of out) text += chunk;
    const status = await child.status;
    await watch;
    text += await err;
    assert.equal(status.code, 130, text);
    assert.match(text, /\[3\/7\] mid: stopped/);
    assert.match(text, /\[1\/7\] tokenizer: .*done/);
    assert.match(text, /\[2\/7\] base: .*done/);

    const again = await pipeline();
    assert.equal(again.code, 0, again.out);
    for (const s of ["tokenizer", "base"]) assert.match(again.out, new RegExp(`\\] ${s}: done already, skipped`));
    assert.match(again.out, /\[3\/7\] mid: continuing from its latest checkpoint \(--resume\)/);
    assert.match(again.out, /\[7\/7\] report: wrote .*toy\/report\/report\.md/);
    // One record per mid step although it ran in two pieces.
    const midSteps = (await Deno.readTextFile(`${RUNS}/toy-mid/metrics.jsonl`)).split("\n").filter((l) => l.includes('"type":"train"')).map((l) => JSON.parse(l).step);
    assert.equal(midSteps.at(-1), 29);

    const report = JSON.parse(await Deno.readTextFile(`${RUNS}/toy/report/report.json`));
    assert.deepEqual(report.table.columns, ["BASE", "MID", "SFT", "RL"]);
    const arithmetic = report.table.rows.find((r: { metric: string }) => r.metric === "arithmetic");
    for (const v of arithmetic.values) assert.match(v, /^\d+\.\d% \(\d\/4\)$/);
    assert.match(report.table.rows.find((r: { metric: string }) => r.metric === "val bpb (base data)").values[0], /^\d\.\d{4}$/);
    // CORE ran on the base checkpoint (the eval stage's `eval base --core`) and its mean is the BASE cell.
    const core = JSON.parse(await Deno.readTextFile(`${RUNS}/toy/eval/core_step_000008.json`));
    assert.equal(core.tasks.length, 3);
    assert.deepEqual(report.table.rows.find((r: { metric: string }) => r.metric === "CORE").values.slice(1), ["—", "—", "—"]);
    assert.equal(Number(report.table.rows.find((r: { metric: string }) => r.metric === "CORE").values[0]), Number(core.core.toFixed(4)));
    assert.deepEqual(report.stages.map((s: { stage: string; steps: number }) => [s.stage, s.steps]), [["base", 8], ["mid", 30], ["sft", 2], ["rl", 2]]);
    const md = await Deno.readTextFile(`${RUNS}/toy/report/report.md`);
    assert.match(md, /\| metric \| BASE \| MID \| SFT \| RL \|/);
    assert.match(md, /### vs GPT-2/);
    for (const s of ["base_loss", "mid_loss", "sft_loss", "rl_reward"]) assert.match(await Deno.readTextFile(`${RUNS}/toy/report/${s}.svg`), /^<svg /);
    const state = JSON.parse(await Deno.readTextFile(`${RUNS}/toy/pipeline.json`));
    for (const s of ["tokenizer", "base", "mid", "sft", "rl", "eval"]) assert.ok(state.stages[s].seconds > 0, s);

    // Everything done: a third start skips every stage but the report.
    const third = await pipeline();
    assert.equal(third.code, 0, third.out);
    for (const s of ["tokenizer", "base", "mid", "sft", "rl", "eval"]) assert.match(third.out, new RegExp(`\\] ${s}: done already, skipped`));
  },
});

Deno.test({
  ...opts,
  name: "pipeline: a stage whose input checkpoint is corrupt stops naming the stage and the file; finished stages are kept",
  fn: async () => {
    // RL's input is the SFT checkpoint: truncate its weights and make RL (and the evals) run again.
    const sft = `${RUNS}/toy-sft/checkpoints`;
    const step = (await Array.fromAsync(Deno.readDir(sft))).map((e) => e.name).filter((n) => n.startsWith("step_")).sort().at(-1)!;
    const model = `${sft}/${step}/model.safetensors`;
    const bytes = await Deno.readFile(model);
    await Deno.writeFile(model, bytes.subarray(0, bytes.length >> 1));
    await Deno.remove(`${RUNS}/toy-rl`, { recursive: true });
    const r = await pipeline();
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /pipeline stopped at stage rl/);
    assert.ok(r.out.includes(model) || r.out.includes(`${step}/model.safetensors`), r.out);
    assert.match(r.out, /tokenizer, base, mid, sft are finished and will be skipped/);
  },
});
