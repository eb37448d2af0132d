// The chat half from the command line: `train base` → `train mid` → `train sft` → `train rl` on the tiny
// test config (each stage starts from the newest run of the one before), checkpoints that
// record their stage and source, `eval chat` over the lineage writing its results into the
// run; and `deno task chat` showing a calculator call of a chat checkpoint.
import assert from "node:assert/strict";
import { readMetrics } from "../../src/formats/metrics.ts";
import { writeScriptedChatRun } from "../fixtures/scripted_chat.ts";
import { ROOT, trainTiny } from "./tiny_run.ts";

const TMP = await Deno.makeTempDir({ prefix: "nanochat-chat-" });
const opts = { sanitizeResources: false, sanitizeOps: false };

async function deno(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", ...args], cwd: ROOT, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } }).output();
  return { code: r.code, out: new TextDecoder().decode(r.stdout), err: new TextDecoder().decode(r.stderr) };
}

const meta = async (dir: string) => JSON.parse(await Deno.readTextFile(`${dir}/meta.json`));

Deno.test({
  ...opts,
  name: "chat stages: mid, sft and rl continue the previous stage's newest run; stages, sources, rewards and eval chat land in the runs",
  fn: async () => {
    const runs = `${TMP}/runs`;
    const noBase = await deno(["src/cli/train.ts", "mid", "--runs-dir", runs]);
    assert.notEqual(noBase.code, 0);
    assert.match(noBase.err, /no base run in .*runs: train one first \('deno task train base'\), or pass --from RUN\[\/STEP\]/);

    // The base run's preset is a file whose `mid` export has an unusual final LR: mid and
    // sft, given no --config, must take their settings from it (run.json records it).
    const preset = `${TMP}/chat_preset.ts`;
    await Deno.writeTextFile(preset, `export default {};\nexport const mid = { final_lr_frac: 0.25 };\nexport const sft = { final_lr_frac: 0.125 };\n`);
    await trainTiny(TMP, "tiny", { extra: ["--config", preset] });
    assert.equal(JSON.parse(await Deno.readTextFile(`${runs}/tiny/run.json`)).preset, preset);
    const mid = await deno(["src/cli/train.ts", "mid", "--runs-dir", runs, "--num-iterations", "3", "--eval-every", "-1"]);
    assert.equal(mid.code, 0, mid.err);
    assert.ok(mid.out.includes(`mid settings: preset ${preset} (the source run's preset)`), mid.out);
    assert.match(mid.out, /mixture offline-mid: 6,725 train conversations \(arithmetic-train 6,300, simple-spelling 150, spelling-bee 75, identity 200\)/);
    assert.match(mid.out, /starting from tiny\/step_000008/);
    const sft = await deno(["src/cli/train.ts", "sft", "--runs-dir", runs, "--num-iterations", "2", "--target-examples-per-step", "4", "--device-batch-size", "2", "--max-seq-len", "32", "--eval-every", "-1"]);
    assert.equal(sft.code, 0, sft.err);
    assert.match(sft.out, /starting from tiny-mid\/step_000003/);
    assert.match(sft.out, /2 steps of 128 tokens \(2 micro-batches of 2×32\)/);

    const midMeta = await meta(`${runs}/tiny-mid/checkpoints/step_000003`), sftMeta = await meta(`${runs}/tiny-sft/checkpoints/step_000002`);
    assert.deepEqual([midMeta.stage, midMeta.source, sftMeta.stage, sftMeta.source], ["mid", "tiny/step_000008", "sft", "tiny-mid/step_000003"]);
    assert.equal(sftMeta.user_config.init_lr_frac, 0.02);
    assert.deepEqual([midMeta.user_config.final_lr_frac, sftMeta.user_config.final_lr_frac], [0.25, 0.125]);
    assert.equal(JSON.parse(await Deno.readTextFile(`${runs}/tiny-sft/run.json`)).preset, preset);
    assert.equal(JSON.parse(await Deno.readTextFile(`${runs}/tiny-sft/run.json`)).stage, "sft");
    // RL from the newest sft run: sampled completions, rewards and held-out pass@k in its metrics.
    const rl = await deno([
      "src/cli/train.ts", "rl", "--runs-dir", runs, "--num-iterations", "2", "--target-examples-per-step", "1", "--device-batch-size", "2",
      "--samples", "4", "--max-new-tokens", "8", "--max-seq-len", "32", "--eval-problems", "2", "--eval-samples", "2",
    ]);
    assert.equal(rl.code, 0, rl.err);
    assert.match(rl.out, /starting from tiny-sft\/step_000002/);
    assert.match(rl.out, /rl: arithmetic-train \(4,000 problems\), 1 a step × 4 samples \(2 passes of 2\), ≤ 8 new tokens, temperature 1, top-k 50; held out: 2 arithmetic-test problems × 2 samples/);
    assert.match(rl.out, /2 steps of 128 tokens \(2 micro-batches of 2×32\)/);
    assert.match(rl.out, /step 0: held-out arithmetic-test: pass@1 [\d.]+, pass@2 [\d.]+ \(2 problems × 2 samples\)/);
    const rlRecords = readMetrics(await Deno.readTextFile(`${runs}/tiny-rl/metrics.jsonl`));
    const rlTrain = rlRecords.filter((r) => r.type === "train"), rlEval = rlRecords.filter((r) => r.type === "eval");
    assert.equal(rlTrain.length, 2);
    for (const r of rlTrain) {
      assert.ok((r.reward as number) >= 0 && (r.reward as number) <= 1, `reward ${r.reward}`);
      assert.ok((r.seq_len as number) > 0 && (r.seq_len as number) <= 8, `seq_len ${r.seq_len}`);
      assert.ok((r.sample_tok_per_sec as number) > 0);
    }
    assert.deepEqual(rlEval.map((r) => r.step), [0, 2]);
    for (const r of rlEval) assert.ok((r["pass@1"] as number) <= (r["pass@2"] as number));
    const rlMeta = await meta(`${runs}/tiny-rl/checkpoints/step_000002`);
    assert.deepEqual([rlMeta.stage, rlMeta.source, rlMeta.user_config.init_lr_frac], ["rl", "tiny-sft/step_000002", 0.05]);
    const badSamples = await deno(["src/cli/train.ts", "rl", "--runs-dir", runs, "--run", "rl-bad", "--device-batch-size", "2", "--samples", "3"]);
    assert.match(badSamples.err, /--samples 3 must be a positive multiple of device_batch_size 2/);

    // --resume of a finished sft run with another stage's command is refused, naming the right one.
    const wrong = await deno(["src/cli/train.ts", "mid", "--runs-dir", runs, "--run", "tiny-sft", "--resume"]);
    assert.match(wrong.err, /is a sft checkpoint, not mid; resume it with 'deno task train sft'/);

    const ev = await deno(["src/cli/eval.ts", "chat", "-a", "arithmetic,simple-spelling", "--run", "tiny-sft", "--runs-dir", runs, "--max-problems", "2", "--max-tokens", "8"]);
    assert.equal(ev.code, 0, ev.err);
    assert.match(ev.out, /\| task \| sft \| mid \| base \|/);
    assert.match(ev.out, /\| arithmetic \| [\d.]+% \(\d\/2\) \| [\d.]+% \(\d\/2\) \| [\d.]+% \(\d\/2\) \|/);
    const rec = readMetrics(await Deno.readTextFile(`${runs}/tiny-sft/metrics.jsonl`)).filter((r) => r.type === "eval_chat");
    assert.equal(rec.length, 1);
    assert.deepEqual((rec[0].scores as { task: string }[]).map((s) => s.task), ["arithmetic", "simple-spelling"]);
    assert.ok(await Deno.stat(`${runs}/tiny/eval/chat_step_000008.json`));
    const bad = await deno(["src/cli/eval.ts", "chat", "-a", "arithmetic,nope", "--run", "tiny-sft", "--runs-dir", runs]);
    assert.match(bad.err, /unknown task 'nope'; the tasks are: arc-easy, arc-challenge, mmlu/);
  },
});

Deno.test({
  ...opts,
  name: "deno task chat: a chat checkpoint answers in chat mode and its calculator call and result are shown",
  fn: async () => {
    await writeScriptedChatRun(`${TMP}/runs`);
    const r = await deno(["src/cli/chat.ts", "--run", "scripted", "--runs-dir", `${TMP}/runs`, "-p", "What is 2+3?", "--temperature", "0"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err + r.out, /\(step 1, sft\).*mode chat/);
    assert.match(r.out, /⟦calculator: 2\+3⟧⟦= 5⟧/);
    assert.doesNotMatch(r.err, /max-tokens|context is full/, "a reply that ended with its end token says nothing more");
    // A reply cut by --max-tokens says so (on stderr), and how to get longer ones.
    const cut = await deno(["src/cli/chat.ts", "--run", "scripted", "--runs-dir", `${TMP}/runs`, "-p", "What is 2+3?", "--temperature", "0", "--max-tokens", "3"]);
    assert.equal(cut.code, 0, cut.err);
    assert.match(cut.err, /the reply reached --max-tokens; pass a larger one/);
  },
});
