// MXFP4 weights in the lab's checkpoints, without a GPU: what model.safetensors holds (U8
// `<name>.mxfp4_blocks` / `.mxfp4_scales` pairs, wte and lm_head BF16 unless mxfp4All), that
// decodeCheckpoint loads exactly the CPU decode of the CPU encode, the bytes, and the
// refusals (optimizer state, a damaged or mismatched pair, meta.json disagreeing with the
// tensors). The CLI, chat and the resume refusal: tests/e2e/export_checkpoint.test.ts.
import assert from "node:assert/strict";
import { fromBFloat16, toBFloat16 } from "../../src/formats/bf16.ts";
import { CheckpointError, type CheckpointData, decodeCheckpoint, encodeCheckpoint, META_FILE, MODEL_FILE, MXFP4_BF16_PARAMS } from "../../src/formats/checkpoint.ts";
import { decodeMxfp4, encodeMxfp4 } from "../../src/formats/mxfp4.ts";
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from "../../src/formats/safetensors.ts";
import { type GPTConfig, paramShapes } from "../../src/model/config.ts";
import { concatChunks } from "../../src/formats/zip.ts";
import { Rng } from "../../src/util/rng.ts";

// n_embd 16: every K = 16 row is padded to one 32-element block; the MLP's K = 64 rows hold two.
const CFG: GPTConfig = { sequence_len: 16, vocab_size: 64, n_layer: 2, n_head: 2, n_kv_head: 1, n_embd: 16 };
const bitsOf = (x: Float32Array) => [...new Uint32Array(x.buffer, x.byteOffset, x.length)];

function makeData(seed: number): CheckpointData {
  const rng = new Rng(seed);
  const params = new Map<string, Float32Array>();
  for (const { name, shape } of paramShapes(CFG)) params.set(name, Float32Array.from({ length: shape[0] * shape[1] }, () => (rng.uniform() - 0.5) * 0.2));
  // An outlier and a NaN in one matrix: the file path sees them, not only the codec.
  params.get("transformer.h.0.attn.c_q.weight")!.set([3, NaN], 0);
  const meta = { user_config: { depth: 2 }, val_bpb: 1.5, loader_state: null, rng_state: null, metrics: {}, tokenizer: null, stage: "base" };
  return { params, cfg: CFG, meta };
}

type Files = Map<string, Uint8Array>;
const toFiles = (parts: { name: string; chunks: Uint8Array[] }[]): Files => new Map(parts.map((p) => [p.name, concatChunks(p.chunks)]));
const load = (files: Files) => decodeCheckpoint((name) => Promise.resolve(files.get(name) ?? null), "mem/step_000003");
const metaOf = (files: Files) => JSON.parse(new TextDecoder().decode(files.get(META_FILE)!));
const dataBytes = (b: Uint8Array) => b.length - 8 - Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
/** The files with model.safetensors' tensors edited (and meta.json replaced when given). */
function edit(files: Files, change: (t: Map<string, SafeTensor>) => void, meta?: Record<string, unknown>): Files {
  const t = decodeSafetensors(files.get(MODEL_FILE)!).tensors;
  change(t);
  const out = new Map(files).set(MODEL_FILE, encodeSafetensors(t));
  return meta ? out.set(META_FILE, new TextEncoder().encode(JSON.stringify(meta))) : out;
}

Deno.test("checkpoint: mxfp4 stores the blocks' matrices as U8 block/scale pairs and wte, lm_head as BF16; loads as the CPU decode of the CPU encode", async () => {
  const data = makeData(1);
  const files = toFiles(encodeCheckpoint(3, data, { weightsDtype: "mxfp4" }));
  assert.deepEqual([...files.keys()], [MODEL_FILE, META_FILE]);
  assert.equal(metaOf(files).weights_dtype, "mxfp4");
  const st = decodeSafetensors(files.get(MODEL_FILE)!).tensors;
  // In parameter order, except that every scales tensor comes last (any byte count there keeps the rest aligned).
  const want: [string, string, number[]][] = [], scales: [string, string, number[]][] = [];
  for (const { name, shape: [rows, cols] } of paramShapes(CFG)) {
    if (MXFP4_BF16_PARAMS.includes(name)) want.push([name, "BF16", [rows, cols]]);
    else {
      want.push([`${name}.mxfp4_blocks`, "U8", [rows, Math.ceil(cols / 32) * 16]]);
      scales.push([`${name}.mxfp4_scales`, "U8", [rows, Math.ceil(cols / 32)]]);
    }
  }
  assert.deepEqual([...st].map(([n, t]) => [n, t.dtype, t.shape]), [...want, ...scales]);
  assert.deepEqual(st.get("transformer.h.1.mlp.c_proj.weight.mxfp4_scales")!.shape, [16, 2], "K = 64: two blocks a row");

  const ck = await load(files);
  assert.equal(ck.meta.weights_dtype, "mxfp4");
  assert.equal(ck.optimizer, undefined);
  for (const { name, shape: [rows, cols] } of paramShapes(CFG)) {
    const v = data.params.get(name)!;
    const expect = MXFP4_BF16_PARAMS.includes(name) ? fromBFloat16(toBFloat16(v)) : decodeMxfp4(encodeMxfp4(v, rows, cols));
    assert.deepEqual(bitsOf(ck.params.get(name)!), bitsOf(expect), name);
    const q = st.get(`${name}.mxfp4_blocks`);
    if (q) assert.deepEqual(q.data, encodeMxfp4(v, rows, cols).blocks, `${name}: the file holds the encoder's bytes`);
  }
  // The NaN made its block NaN (element 1's 32-block is all of row 0: K = 16), the rest of the matrix is finite.
  const cq = ck.params.get("transformer.h.0.attn.c_q.weight")!;
  assert.ok(cq.subarray(0, 16).every(Number.isNaN));
  assert.ok(cq.subarray(16).every(Number.isFinite));

  // Bytes: a matrix of r × K is r·ceil(K/32)·17 bytes; wte and lm_head 2 a weight.
  let expected = 0;
  for (const { name, shape: [rows, cols] } of paramShapes(CFG)) expected += MXFP4_BF16_PARAMS.includes(name) ? rows * cols * 2 : rows * Math.ceil(cols / 32) * 17;
  assert.equal(dataBytes(files.get(MODEL_FILE)!), expected);
});

Deno.test("checkpoint: mxfp4All quantises wte and lm_head too; the tensor bytes are 17/128 of f32's when K is a multiple of 32", async () => {
  const cfg: GPTConfig = { ...CFG, n_embd: 32, n_head: 2 };
  const rng = new Rng(2);
  const params = new Map(paramShapes(cfg).map(({ name, shape }) => [name, Float32Array.from({ length: shape[0] * shape[1] }, () => rng.uniform() - 0.5)]));
  const data: CheckpointData = { ...makeData(2), params, cfg };
  const all = toFiles(encodeCheckpoint(3, data, { weightsDtype: "mxfp4", mxfp4All: true }));
  const f32 = toFiles(encodeCheckpoint(3, data));
  const st = decodeSafetensors(all.get(MODEL_FILE)!).tensors;
  assert.ok([...st.values()].every((t) => t.dtype === "U8"));
  assert.equal(st.size, 2 * paramShapes(cfg).length);
  const ck = await load(all);
  for (const { name, shape: [rows, cols] } of paramShapes(cfg)) {
    assert.deepEqual(bitsOf(ck.params.get(name)!), bitsOf(decodeMxfp4(encodeMxfp4(params.get(name)!, rows, cols))), name);
  }
  assert.equal(dataBytes(all.get(MODEL_FILE)!) * 128, dataBytes(f32.get(MODEL_FILE)!) * 17);
  // Encoding the loaded weights again gives the same file: decoded MXFP4 re-encodes to itself.
  const again = toFiles(encodeCheckpoint(3, { ...data, params: ck.params }, { weightsDtype: "mxfp4", mxfp4All: true }));
  assert.deepEqual(again.get(MODEL_FILE), all.get(MODEL_FILE));
});

Deno.test("checkpoint: mxfp4 refuses optimizer state and mxfp4All without mxfp4", () => {
  const data = makeData(3);
  const optimizer = { tensors: new Map([["adamw.exp_avg.transformer.wte.weight", new Float32Array(64 * 16)]]), meta: {} };
  assert.throws(() => encodeCheckpoint(1, { ...data, optimizer }, { weightsDtype: "mxfp4" }), (e) => e instanceof CheckpointError && /mxfp4 weights and optimizer state: a mxfp4 checkpoint is for inference/.test(e.message));
  assert.throws(() => encodeCheckpoint(1, data, { weightsDtype: "bf16", mxfp4All: true }), /mxfp4All applies to mxfp4 weights only, not bf16/);
});

Deno.test("checkpoint: a damaged MXFP4 pair or a meta.json that disagrees with the tensors is refused, naming the tensor", async () => {
  const data = makeData(4);
  const files = toFiles(encodeCheckpoint(3, data, { weightsDtype: "mxfp4" }));
  const bf16 = toFiles(encodeCheckpoint(3, data, { weightsDtype: "bf16" }));
  const q = "transformer.h.1.attn.c_k.weight";
  await assert.rejects(load(edit(files, (t) => t.delete(`${q}.mxfp4_scales`))), /model\.safetensors: tensor transformer\.h\.1\.attn\.c_k\.weight\.mxfp4_scales is missing, but its MXFP4 pair is there/);
  await assert.rejects(load(edit(files, (t) => t.set(`${q}.mxfp4_blocks`, { dtype: "U32", shape: [8, 4], data: new Uint32Array(32) }))), /tensor transformer\.h\.1\.attn\.c_k\.weight\.mxfp4_blocks is U32, expected U8 \(MXFP4 bytes\)/);
  await assert.rejects(load(edit(files, (t) => t.set(`${q}.mxfp4_scales`, { dtype: "U8", shape: [4, 2], data: new Uint8Array(8) }))), /c_k\.weight\.mxfp4_scales has shape \[4,2\], expected \[8,1\] for the MXFP4 of \[8,16\]; it does not match the model_config/);
  await assert.rejects(load(edit(files, (t) => t.set(q, { dtype: "BF16", shape: [8, 16], data: new Uint16Array(128) }))), /c_k\.weight is stored twice, whole and as MXFP4/);
  await assert.rejects(load(edit(files, (t) => t.set("transformer.h.9.mlp.c_fc.weight.mxfp4_blocks", { dtype: "U8", shape: [1, 16], data: new Uint8Array(16) }))), /unexpected tensor transformer\.h\.9\.mlp\.c_fc\.weight \(MXFP4\)/);
  // meta.json and the tensors from different saves, either way round.
  await assert.rejects(load(edit(files, () => {}, { ...metaOf(files), weights_dtype: "bf16" })), /tensor transformer\.h\.0\.attn\.c_q\.weight\.mxfp4_blocks is half of an MXFP4 pair, but meta\.json records weights_dtype "bf16" \(BF16\)/);
  await assert.rejects(load(edit(bf16, () => {}, { ...metaOf(bf16), weights_dtype: "mxfp4" })), /meta\.json records weights_dtype "mxfp4", but no tensor is an MXFP4 pair/);
  const f32 = toFiles(encodeCheckpoint(3, data));
  await assert.rejects(load(edit(files, (t) => t.set("lm_head.weight", decodeSafetensors(f32.get(MODEL_FILE)!).tensors.get("lm_head.weight")!))), /tensor lm_head\.weight is F32, but meta\.json records weights_dtype "mxfp4" \(MXFP4 pairs, the rest BF16\)/);
  // Written by another tool without weights_dtype: the pairs say what it is.
  const { weights_dtype: _, ...plain } = metaOf(files);
  assert.equal((await load(edit(files, () => {}, plain))).meta.weights_dtype, "mxfp4");
});
