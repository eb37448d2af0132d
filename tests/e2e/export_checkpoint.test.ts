// `deno task export checkpoint` end to end on a real tiny run: the bf16 copy is a lab
// checkpoint directory (meta.json + model.safetensors + tokenizer/, no optimizer) about
// half the size whose weights load as exactly the source's rounded to bf16; f32 is bitwise;
// an existing --out is refused and nothing is left half-written; `deno task chat` and
// loadChatModel load it (its own tokenizer found inside); `train --resume` refuses a bf16
// checkpoint, and so does an f32 export of one. mxfp4 (--save-dtype mxfp4, --mxfp4-all): the
// weights load as the CPU decode of the CPU MXFP4 encode (wte, lm_head bf16 by default), the
// sizes, the engine generating from it, and the same resume refusal.
import assert from "node:assert/strict";
import { fromBFloat16, toBFloat16 } from "../../src/formats/bf16.ts";
import { MXFP4_BF16_PARAMS } from "../../src/formats/checkpoint.ts";
import { decodeMxfp4, encodeMxfp4 } from "../../src/formats/mxfp4.ts";
import { decodeSafetensors } from "../../src/formats/safetensors.ts";
import { Engine } from "../../src/engine/engine.ts";
import { loadChatModel } from "../../src/engine/session.ts";
import { denoFiles } from "../../src/io/deno_files.ts";
import { resolveCheckpointArgs } from "../../src/cli/checkpoint_args.ts";
import { loadCheckpoint } from "../../src/train/deno_checkpoint.ts";
import { testGpu } from "../kernels/gpu.ts";
import { ROOT, tinyTrainArgs, trainTiny } from "./tiny_run.ts";

const TMP = await Deno.makeTempDir({ prefix: "nanochat-export-ckpt-" });
const RUNS = `${TMP}/runs`;
const SOURCE = `${RUNS}/tiny/checkpoints/step_000008`;
const opts = { sanitizeResources: false, sanitizeOps: false };

async function deno(args: string[]): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", ...args], cwd: ROOT, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } }).output();
  return { code: r.code, out: new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr) };
}
const exportCkpt = (...args: string[]) => deno(["src/cli/export.ts", "checkpoint", "--runs-dir", RUNS, ...args]);
const ls = async (dir: string) => (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);
const size = async (p: string) => (await Deno.stat(p)).size;
const leftovers = async () => (await ls(TMP)).filter((n) => n.startsWith("."));

let trained: Promise<string> | null = null;
const tiny = () => (trained ??= trainTiny(TMP, "tiny", { checkpointEvery: 4 }));

Deno.test({
  ...opts,
  name: "export checkpoint: bf16 is half the size and loads as the source rounded to bf16; f32 is bitwise; existing --out refused",
  fn: async () => {
    await tiny();
    const r16 = await exportCkpt("--run", "tiny", "--out", `${TMP}/exp16`);
    assert.equal(r16.code, 0, r16.out);
    assert.match(r16.out, /exported .*step_000008 \(step 8\) → .*exp16: bf16 weights, model\.safetensors [\d.]+ MiB \(source [\d.]+ MiB\), no optimizer state/);
    assert.match(r16.out, /chat with: deno task chat --checkpoint .*exp16/);
    assert.deepEqual(await ls(`${TMP}/exp16`), ["meta.json", "model.safetensors", "tokenizer"]);
    assert.deepEqual(await ls(`${TMP}/exp16/tokenizer`), await ls(`${RUNS}/tiny/tokenizer`));
    for (const f of await ls(`${TMP}/exp16/tokenizer`)) {
      assert.deepEqual(await Deno.readFile(`${TMP}/exp16/tokenizer/${f}`), await Deno.readFile(`${RUNS}/tiny/tokenizer/${f}`), `tokenizer/${f} copied as is`);
    }

    const meta = JSON.parse(await Deno.readTextFile(`${TMP}/exp16/meta.json`));
    const srcMeta = JSON.parse(await Deno.readTextFile(`${SOURCE}/meta.json`));
    assert.equal(meta.weights_dtype, "bf16");
    for (const k of ["step", "model_config", "user_config", "val_bpb", "tokenizer", "stage", "created_at"]) assert.deepEqual(meta[k], srcMeta[k], k);
    for (const [name, t] of decodeSafetensors(await Deno.readFile(`${TMP}/exp16/model.safetensors`)).tensors) assert.equal(t.dtype, "BF16", name);

    const src = await loadCheckpoint(SOURCE);
    const b16 = await loadCheckpoint(`${TMP}/exp16`);
    assert.equal(b16.meta.weights_dtype, "bf16");
    assert.equal(b16.optimizer, undefined);
    let changed = 0;
    for (const [name, v] of src.params) {
      const want = bits(fromBFloat16(toBFloat16(v))), got = bits(b16.params.get(name)!);
      assert.deepEqual(got, want, `${name}: the source rounded to bf16, exactly`);
      changed += want.filter((w, i) => w !== bits(v)[i]).length;
    }
    assert.ok(changed > 0, "trained weights are not all bf16 already");

    const ratio = (await size(`${TMP}/exp16/model.safetensors`)) / (await size(`${SOURCE}/model.safetensors`));
    console.log(`model.safetensors: ${await size(`${SOURCE}/model.safetensors`)} bytes f32 → ${await size(`${TMP}/exp16/model.safetensors`)} bytes bf16 (ratio ${ratio.toFixed(4)})`);
    assert.ok(ratio > 0.5 && ratio < 0.52, `size ratio ${ratio}`);

    const r32 = await exportCkpt("--run", "tiny", "--step", "4", "--out", `${TMP}/exp32/`, "--save-dtype", "f32");
    assert.equal(r32.code, 0, r32.out);
    const f32 = await loadCheckpoint(`${TMP}/exp32`), src4 = await loadCheckpoint(`${RUNS}/tiny/checkpoints/step_000004`);
    assert.equal(f32.meta.step, 4);
    assert.equal(f32.meta.weights_dtype, "f32");
    assert.equal("weights_dtype" in JSON.parse(await Deno.readTextFile(`${TMP}/exp32/meta.json`)), false);
    for (const [name, v] of src4.params) assert.deepEqual(bits(f32.params.get(name)!), bits(v), `${name}: f32 is bitwise`);
    assert.deepEqual(await Deno.readFile(`${TMP}/exp32/model.safetensors`), await Deno.readFile(`${RUNS}/tiny/checkpoints/step_000004/model.safetensors`));

    // Refusals write nothing: an existing --out is left as it was, and no staging directory remains.
    const before = await Deno.readFile(`${TMP}/exp16/model.safetensors`);
    const again = await exportCkpt("--run", "tiny", "--out", `${TMP}/exp16`, "--save-dtype", "f32");
    assert.notEqual(again.code, 0);
    assert.match(again.out, /exp16 already exists; export to a new --out directory \(nothing was written\)/);
    assert.deepEqual(await Deno.readFile(`${TMP}/exp16/model.safetensors`), before);
    const badDtype = await exportCkpt("--run", "tiny", "--out", `${TMP}/exp8`, "--save-dtype", "fp8");
    assert.match(badDtype.out, /--save-dtype must be bf16, f16, mxfp4 or f32, got 'fp8'/);
    const noStep = await exportCkpt("--run", "tiny", "--step", "3", "--out", `${TMP}/exp3`);
    assert.match(noStep.out, /run 'tiny' has no checkpoint of step 3 in .*runs\/tiny\/checkpoints/);
    for (const p of ["exp8", "exp3"]) assert.equal(await Deno.stat(`${TMP}/${p}`).then(() => true, () => false), false, `${p} not created`);
    assert.deepEqual(await leftovers(), [], "no staging directory left behind");
    // The nanochat path is unchanged, and without a format the command says both.
    const noFormat = await deno(["src/cli/export.ts", "--run", "tiny", "--out", `${TMP}/x`]);
    assert.match(noFormat.out, /say the format: deno task export nanochat --run NAME --out DIR, or deno task export checkpoint --run NAME --out DIR/);
  },
});

Deno.test({
  ...opts,
  name: "export checkpoint: chat loads the bf16 copy (its own tokenizer), generating as the rounded weights do",
  fn: async () => {
    await tiny();
    const out = `${TMP}/chat16`;
    assert.equal((await exportCkpt("--run", "tiny", "--out", out)).code, 0);
    const paths = await resolveCheckpointArgs({ run: "", checkpoint: out, "runs-dir": RUNS, "tokenizer-dir": "/nonexistent-tokenizer" });
    assert.deepEqual(paths, { checkpointDir: out, tokenizerDir: `${out}/tokenizer` });

    const gpu = await testGpu();
    const model = await loadChatModel(gpu, denoFiles("."), paths, { maxBatch: 1 });
    assert.equal(model.meta.weights_dtype, "bf16");
    const prompt = [model.tokenizer.bosId, ...model.tokenizer.encodeOrdinary("The")];
    const greedy = async (engine: Engine) => {
      const ids: number[] = [];
      for await (const c of engine.generate(prompt, { maxTokens: 12, temperature: 0 })) ids.push(c.tokens[0]);
      return ids;
    };
    const fromExport = await greedy(model.engine);
    model.destroy();
    // The engine over the source's weights rounded here must generate the same tokens.
    const src = await loadCheckpoint(SOURCE);
    const rounded = new Map([...src.params].map(([n, v]) => [n, fromBFloat16(toBFloat16(v))]));
    const direct = await Engine.create(gpu, src.cfg, rounded, model.tokenizer, { maxBatch: 1 });
    assert.deepEqual(fromExport, await greedy(direct));
    direct.destroy();
    assert.equal(fromExport.length, 12);

    // And the command itself, with no usable --tokenizer-dir: the copy inside is found.
    const chat = await deno(["src/cli/chat.ts", "--checkpoint", out, "--tokenizer-dir", "/nonexistent-tokenizer", "-p", "The", "--max-tokens", "4", "--temperature", "0", "--tokens"]);
    assert.equal(chat.code, 0, chat.out);
    assert.match(chat.out, /tokens: \d+(,\d+)*/);
  },
});

Deno.test({
  ...opts,
  name: "export checkpoint: train --resume refuses a bf16 checkpoint (master weights would be lost), and so does an f32 export of it",
  fn: async () => {
    await tiny();
    // A copy of the run whose latest checkpoint was replaced by its bf16 inference copy.
    const cp = await new Deno.Command("cp", { args: ["-a", `${RUNS}/tiny`, `${RUNS}/lossy`] }).output();
    assert.ok(cp.success);
    const latest = `${RUNS}/lossy/checkpoints/step_000008`;
    await Deno.remove(latest, { recursive: true });
    assert.equal((await exportCkpt("--run", "tiny", "--out", latest)).code, 0);

    const r = await new Deno.Command(Deno.execPath(), { args: tinyTrainArgs(TMP, "lossy", { checkpointEvery: 4, extra: ["--resume"] }), cwd: ROOT, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } }).output();
    const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
    assert.notEqual(r.code, 0, text);
    assert.match(text, /--resume: .*lossy\/checkpoints\/step_000008 holds bf16 weights \(an inference copy, as 'deno task export checkpoint --save-dtype bf16' writes\); resuming from it would lose the float32 master weights\. Resume from the float32 checkpoint it was exported from: put that back in its place, or move it out of .*lossy\/checkpoints/);
    assert.doesNotMatch(text, /resuming from \//);
    assert.equal((await ls(latest)).includes("optim.safetensors"), false);
    assert.deepEqual(await ls(`${RUNS}/lossy/checkpoints`), ["step_000004", "step_000008"], "nothing was trained or saved");

    const widened = await exportCkpt("--run", "lossy", "--out", `${TMP}/widened`, "--save-dtype", "f32");
    assert.notEqual(widened.code, 0);
    assert.match(widened.out, /step_000008 holds bf16 weights; an f32 copy of it would pass for the master weights: export from the float32 checkpoint/);
    // bf16 of bf16 is allowed, and changes nothing (the rounding is idempotent).
    assert.equal((await exportCkpt("--run", "lossy", "--out", `${TMP}/twice`)).code, 0);
    assert.deepEqual(await Deno.readFile(`${TMP}/twice/model.safetensors`), await Deno.readFile(`${latest}/model.safetensors`));
  },
});

/** What an mxfp4 export's weights must load as: MXFP4 decode of the MXFP4 encode, the kept ones bf16-rounded. */
function mxfp4Expected(params: Map<string, Float32Array>, shapes: Map<string, number[]>, all: boolean): Map<string, Float32Array> {
  return new Map([...params].map(([name, v]) => {
    const [rows, cols] = shapes.get(name)!;
    return [name, !all && MXFP4_BF16_PARAMS.includes(name) ? fromBFloat16(toBFloat16(v)) : decodeMxfp4(encodeMxfp4(v, rows, cols))];
  }));
}

Deno.test({
  ...opts,
  name: "export checkpoint: mxfp4 loads as the CPU decode of the CPU encode (wte, lm_head bf16; --mxfp4-all: every matrix), its sizes, and the engine generates from it",
  fn: async () => {
    await tiny();
    const r4 = await exportCkpt("--run", "tiny", "--out", `${TMP}/mx4`, "--save-dtype", "mxfp4");
    assert.equal(r4.code, 0, r4.out);
    assert.match(r4.out, /→ .*mx4: mxfp4 weights \(wte and lm_head bf16\), model\.safetensors [\d.]+ MiB \(source [\d.]+ MiB\), no optimizer state/);
    const rAll = await exportCkpt("--run", "tiny", "--out", `${TMP}/mx4all`, "--save-dtype", "mxfp4", "--mxfp4-all");
    assert.equal(rAll.code, 0, rAll.out);
    assert.match(rAll.out, /mxfp4 weights \(every matrix\)/);
    assert.equal((await exportCkpt("--run", "tiny", "--out", `${TMP}/m16`)).code, 0);
    assert.deepEqual(await ls(`${TMP}/mx4`), ["meta.json", "model.safetensors", "tokenizer"]);
    assert.equal(JSON.parse(await Deno.readTextFile(`${TMP}/mx4/meta.json`)).weights_dtype, "mxfp4");

    const src = await loadCheckpoint(SOURCE);
    const shapes = new Map([...decodeSafetensors(await Deno.readFile(`${SOURCE}/model.safetensors`)).tensors].map(([n, t]) => [n, t.shape]));
    for (const [dir, all] of [["mx4", false], ["mx4all", true]] as const) {
      const st = decodeSafetensors(await Deno.readFile(`${TMP}/${dir}/model.safetensors`)).tensors;
      for (const [name, [rows, cols]] of shapes) {
        if (!all && MXFP4_BF16_PARAMS.includes(name)) assert.equal(st.get(name)?.dtype, "BF16", `${dir}: ${name}`);
        else {
          assert.deepEqual([st.get(`${name}.mxfp4_blocks`)?.dtype, st.get(`${name}.mxfp4_blocks`)?.shape], ["U8", [rows, cols / 2]], `${dir}: ${name} blocks`);
          assert.deepEqual([st.get(`${name}.mxfp4_scales`)?.dtype, st.get(`${name}.mxfp4_scales`)?.shape], ["U8", [rows, cols / 32]], `${dir}: ${name} scales`);
        }
      }
      const loaded = await loadCheckpoint(`${TMP}/${dir}`);
      assert.equal(loaded.meta.weights_dtype, "mxfp4");
      assert.equal(loaded.optimizer, undefined);
      for (const [name, want] of mxfp4Expected(src.params, shapes, all)) assert.deepEqual(bits(loaded.params.get(name)!), bits(want), `${dir}: ${name}`);
    }

    // Sizes: tensor bytes exactly (17 bytes a 32-block, 2 a bf16 weight), and the files' ratios.
    const dataBytes = (b: Uint8Array) => b.length - 8 - Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
    let want4 = 0, wantAll = 0;
    for (const [name, [rows, cols]] of shapes) {
      want4 += MXFP4_BF16_PARAMS.includes(name) ? rows * cols * 2 : (rows * cols * 17) / 32;
      wantAll += (rows * cols * 17) / 32;
    }
    assert.equal(dataBytes(await Deno.readFile(`${TMP}/mx4/model.safetensors`)), want4);
    assert.equal(dataBytes(await Deno.readFile(`${TMP}/mx4all/model.safetensors`)), wantAll);
    const [f32, b16, m4, mAll] = await Promise.all([`${SOURCE}`, `${TMP}/m16`, `${TMP}/mx4`, `${TMP}/mx4all`].map((d) => size(`${d}/model.safetensors`)));
    console.log(`model.safetensors: f32 ${f32} bytes, bf16 ${b16} (${(b16 / f32).toFixed(4)}), mxfp4 ${m4} (${(m4 / f32).toFixed(4)}), mxfp4 --mxfp4-all ${mAll} (${(mAll / f32).toFixed(4)})`);
    assert.ok(m4 / f32 > 0.38 && m4 / f32 < 0.43, `mxfp4 ratio ${m4 / f32}: wte and lm_head (2/3 of this model's weights) at bf16, the rest at 17/128`);
    assert.ok(mAll / f32 > 0.13 && mAll / f32 < 0.16, `--mxfp4-all ratio ${mAll / f32}`);

    const bad = await exportCkpt("--run", "tiny", "--out", `${TMP}/mxbad`, "--mxfp4-all");
    assert.match(bad.out, /--mxfp4-all quantises wte and lm_head to MXFP4 and needs --save-dtype mxfp4 \(got bf16\)/);
    assert.equal(await Deno.stat(`${TMP}/mxbad`).then(() => true, () => false), false);

    // The engine (through loadChatModel, as chat and the lab load) generates as the expected weights do.
    const gpu = await testGpu();
    const model = await loadChatModel(gpu, denoFiles("."), { checkpointDir: `${TMP}/mx4`, tokenizerDir: `${TMP}/mx4/tokenizer` }, { maxBatch: 1 });
    assert.equal(model.meta.weights_dtype, "mxfp4");
    // Its block matrices stay MXFP4 on the GPU (the forward multiplies by them directly); wte and lm_head were bf16.
    assert.deepEqual(model.engine.quantizedWeights.sort(), [...shapes.keys()].filter((n) => n.startsWith("transformer.h.")).sort());
    const prompt = [model.tokenizer.bosId, ...model.tokenizer.encodeOrdinary("The")];
    const greedy = async (engine: Engine) => {
      const ids: number[] = [];
      for await (const c of engine.generate(prompt, { maxTokens: 12, temperature: 0 })) ids.push(c.tokens[0]);
      return ids;
    };
    const fromExport = await greedy(model.engine);
    model.destroy();
    const direct = await Engine.create(gpu, src.cfg, mxfp4Expected(src.params, shapes, false), model.tokenizer, { maxBatch: 1 });
    assert.deepEqual(fromExport, await greedy(direct));
    direct.destroy();
    assert.equal(fromExport.length, 12);
  },
});

Deno.test({
  ...opts,
  name: "export checkpoint: train --resume refuses an mxfp4 checkpoint as it refuses bf16, and an f32 export of it is refused",
  fn: async () => {
    await tiny();
    const cp = await new Deno.Command("cp", { args: ["-a", `${RUNS}/tiny`, `${RUNS}/mx4run`] }).output();
    assert.ok(cp.success);
    const latest = `${RUNS}/mx4run/checkpoints/step_000008`;
    await Deno.remove(latest, { recursive: true });
    assert.equal((await exportCkpt("--run", "tiny", "--out", latest, "--save-dtype", "mxfp4")).code, 0);
    const r = await new Deno.Command(Deno.execPath(), { args: tinyTrainArgs(TMP, "mx4run", { checkpointEvery: 4, extra: ["--resume"] }), cwd: ROOT, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } }).output();
    const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
    assert.notEqual(r.code, 0, text);
    assert.match(text, /--resume: .*mx4run\/checkpoints\/step_000008 holds mxfp4 weights \(an inference copy, as 'deno task export checkpoint --save-dtype mxfp4' writes\); resuming from it would lose the float32 master weights/);
    assert.deepEqual(await ls(`${RUNS}/mx4run/checkpoints`), ["step_000004", "step_000008"], "nothing was trained or saved");
    const widened = await exportCkpt("--run", "mx4run", "--out", `${TMP}/mx4wide`, "--save-dtype", "f32");
    assert.match(widened.out, /step_000008 holds mxfp4 weights; an f32 copy of it would pass for the master weights/);
  },
});
