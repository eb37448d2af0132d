// `deno task experiment mxfp4` end to end on a real tiny run and a QAT twin (`train base
// --qat mxfp4`, the same recipe): the rows in order, each form's size equal to what `export
// checkpoint` writes for it and its bits per byte equal to what `eval base --bpb` measures
// on that export (the same weights, not a re-implementation), the JSON record in the run,
// the section written into --out between its markers (rewritten, never duplicated; the
// file's other text kept), and the refusals (a run not trained with --qat, damaged markers).
import assert from "node:assert/strict";
import { ROOT, trainTiny } from "./tiny_run.ts";

const TMP = await Deno.makeTempDir({ prefix: "nanochat-experiment-" });
const RUNS = `${TMP}/runs`;
const opts = { sanitizeResources: false, sanitizeOps: false };

async function deno(args: string[]): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", ...args], cwd: ROOT, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } }).output();
  return { code: r.code, out: new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr) };
}
const common = ["--runs-dir", RUNS, "--data-dir", `${TMP}/data`, "--tokens", "128", "--batch-size", "2"];
const experiment = (...args: string[]) => deno(["src/cli/experiment.ts", "mxfp4", ...common, "--decode-tokens", "4", "--repeats", "1", ...args]);
const bpbOf = async (...args: string[]) => {
  const r = await deno(["src/cli/eval.ts", "base", "--bpb", ...common, ...args]);
  assert.equal(r.code, 0, r.out);
  return Number(/validation bits per byte: ([\d.]+)/.exec(r.out)![1]);
};

Deno.test({
  ...opts,
  name: "experiment mxfp4: a row per form (and the QAT run's), sizes and bpb equal to the exports', the section written once into --out",
  fn: async () => {
    try {
      await trainTiny(TMP, "tiny");
      const qatLog = await trainTiny(TMP, "tiny-qat", { extra: ["--qat", "mxfp4"] });
      assert.match(qatLog, /qat mxfp4: forward and backward on 6 matrices rounded to MXFP4 \(wte and lm_head as they are\)/);
      assert.equal(JSON.parse(await Deno.readTextFile(`${RUNS}/tiny-qat/run.json`)).config.qat, "mxfp4");

      const out = `${TMP}/mxfp4.md`;
      await Deno.writeTextFile(out, "# Notes\n\nProse the experiment must keep.\n");
      const r = await experiment("--run", "tiny", "--qat-run", "tiny-qat", "--out", out);
      assert.equal(r.code, 0, r.out);
      const record = JSON.parse(await Deno.readTextFile(`${RUNS}/tiny/eval/mxfp4_step_000008.json`));
      const rows = record.rows as { label: string; modelBytes: number; bpb: number; gpuWeightBytes: number; decodeTokPerSec: number; source: string }[];
      assert.deepEqual(rows.map((x) => x.label), ["f32", "f16", "bf16", "MXFP4", "MXFP4 (all)", "QAT f32", "QAT MXFP4"]);
      assert.ok(rows.every((x) => x.decodeTokPerSec > 0 && Number.isFinite(x.bpb)), JSON.stringify(rows));
      assert.match(rows[5].source, /tiny-qat\/checkpoints\/step_000008$/);

      // Each form is what export checkpoint writes and what eval measures on it.
      const src = `${RUNS}/tiny/checkpoints/step_000008`;
      assert.equal(rows[0].modelBytes, (await Deno.stat(`${src}/model.safetensors`)).size);
      assert.equal(rows[0].bpb.toFixed(4), (await bpbOf("--checkpoint", src)).toFixed(4));
      for (const [i, dtype, all] of [[1, "f16", false], [3, "mxfp4", false], [4, "mxfp4", true]] as const) {
        const dir = `${TMP}/export-${dtype}${all ? "-all" : ""}`;
        const e = await deno(["src/cli/export.ts", "checkpoint", "--runs-dir", RUNS, "--run", "tiny", "--out", dir, "--save-dtype", dtype, ...(all ? ["--mxfp4-all"] : [])]);
        assert.equal(e.code, 0, e.out);
        assert.equal(rows[i].modelBytes, (await Deno.stat(`${dir}/model.safetensors`)).size, `${rows[i].label}: size`);
        assert.equal(rows[i].bpb.toFixed(4), (await bpbOf("--checkpoint", dir)).toFixed(4), `${rows[i].label}: bpb`);
      }
      assert.ok(rows[3].gpuWeightBytes < rows[0].gpuWeightBytes, "the engine keeps MXFP4 blocks on the GPU, not f32 copies");

      let text = await Deno.readTextFile(out);
      assert.ok(text.startsWith("# Notes\n\nProse the experiment must keep.\n"), text);
      assert.equal(text.split("<!-- experiment mxfp4: tiny -->").length, 2);
      assert.match(text, /\| QAT MXFP4 \| [\d.]+ MiB \| 0\.\d{3} \|/);
      assert.match(text, /### tiny \(base, step 8; QAT: .*tiny-qat\/checkpoints\/step_000008\)/);

      // Again without the QAT run: the section is replaced, not added.
      const again = await experiment("--run", "tiny", "--out", out);
      assert.equal(again.code, 0, again.out);
      text = await Deno.readTextFile(out);
      assert.equal(text.split("<!-- experiment mxfp4: tiny -->").length, 2, text);
      assert.doesNotMatch(text, /QAT MXFP4/);
      assert.ok(text.startsWith("# Notes\n\nProse the experiment must keep.\n"));

      const notQat = await experiment("--run", "tiny", "--qat-run", "tiny", "--out", "");
      assert.notEqual(notQat.code, 0);
      assert.match(notQat.out, /--qat-run: .*tiny\/checkpoints\/step_000008 was not trained with --qat mxfp4/);
      await Deno.writeTextFile(out, text.replace("<!-- /experiment mxfp4: tiny -->", ""));
      const damaged = await experiment("--run", "tiny", "--out", out);
      assert.notEqual(damaged.code, 0);
      assert.match(damaged.out, /mxfp4\.md: the markers of tiny's section are damaged/);
      // A chat run: its own val split scored as its stage scored it, and the task accuracy.
      const sftArgs = ["--runs-dir", RUNS, "--num-iterations", "2", "--target-examples-per-step", "4", "--device-batch-size", "2", "--max-seq-len", "32", "--eval-tokens", "128"];
      const mid = await deno(["src/cli/train.ts", "mid", "--runs-dir", RUNS, "--from", "tiny", "--num-iterations", "2", "--eval-every", "-1"]);
      assert.equal(mid.code, 0, mid.out);
      const sft = await deno(["src/cli/train.ts", "sft", ...sftArgs, "--from", "tiny-mid", "--run", "tiny-sft"]);
      assert.equal(sft.code, 0, sft.out);
      const stageBpb = /validation bits per byte \(offline-sft val\): [\d.]+ at step 0 → ([\d.]+) at step 2/.exec(sft.out)?.[1];
      assert.ok(stageBpb, sft.out);
      const sftQat = await deno(["src/cli/train.ts", "sft", ...sftArgs, "--from", "tiny-mid", "--run", "tiny-sft-qat", "--qat", "mxfp4"]);
      assert.equal(sftQat.code, 0, sftQat.out);
      assert.match(sftQat.out, /qat mxfp4: forward and backward on 6 matrices/);
      const chat = await experiment("--run", "tiny-sft", "--qat-run", "tiny-sft-qat", "--tasks", "arithmetic", "--max-problems", "2", "--max-tokens", "8", "--out", out);
      assert.equal(chat.code, 0, chat.out);
      const chatRows = JSON.parse(await Deno.readTextFile(`${RUNS}/tiny-sft/eval/mxfp4_step_000002.json`)).rows as { label: string; chatBpb: number; scores: { task: string; total: number }[] }[];
      assert.equal(chatRows.length, 7);
      assert.equal(chatRows[0].chatBpb.toFixed(4), stageBpb, "the f32 row's sft val bpb is the stage's own final evaluation");
      assert.ok(chatRows.every((x) => x.scores.length === 1 && x.scores[0].task === "arithmetic" && x.scores[0].total === 2));
      text = await Deno.readTextFile(out);
      assert.match(text, /\| weights \| model\.safetensors \| × f32 \| GPU weights \| val bpb \| Δ bpb \| sft val bpb \| Δ \| arithmetic \| decode tok\/s \| × f32 \|/);
      assert.equal(text.split("<!-- experiment mxfp4: tiny-sft -->").length, 2);
    } finally {
      await Deno.remove(TMP, { recursive: true });
    }
  },
});
