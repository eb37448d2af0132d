// bf16 weights in the lab's own checkpoints, without a GPU: the rounding (hand-computed
// bits, then random bit patterns against a float64 nearest-even reference), the exact
// widening, and checkpoint bytes f32 → bf16 file → load. The CLI, chat and the resume
// refusal: tests/e2e/export_checkpoint.test.ts.
import assert from "node:assert/strict";
import { fromBFloat16, toBFloat16 } from "../../src/formats/bf16.ts";
import { CheckpointError, decodeCheckpoint, encodeCheckpoint, type CheckpointData, META_FILE, MODEL_FILE, OPTIM_FILE } from "../../src/formats/checkpoint.ts";
import { decodeSafetensors, encodeSafetensors, toFloat32 } from "../../src/formats/safetensors.ts";
import { type GPTConfig, paramShapes } from "../../src/model/config.ts";
import { concatChunks } from "../../src/formats/zip.ts";
import { Rng } from "../../src/util/rng.ts";

const f32 = (...bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);
const bitsOf = (x: Float32Array) => [...new Uint32Array(x.buffer, x.byteOffset, x.length)];
const hex = (xs: Iterable<number>) => [...xs].map((x) => "0x" + x.toString(16).padStart(4, "0"));

Deno.test("bf16 rounding: hand-computed bits (nearest, ties to even, Inf, subnormals, -0, NaN)", () => {
  const cases: [number, number, string][] = [
    [0x3f800000, 0x3f80, "1.0"],
    [0xbf800000, 0xbf80, "-1.0"],
    [0x40490fdb, 0x4049, "π (f32): the dropped half 0x0fdb is below one half"],
    [0x3f808000, 0x3f80, "1 + 2^-8: halfway between 0x3f80 and 0x3f81, to the even one below"],
    [0x3f818000, 0x3f82, "1 + 3·2^-8: halfway between 0x3f81 and 0x3f82, to the even one above"],
    [0xbf818000, 0xbf82, "its negative: ties to even by magnitude"],
    [0x3f808001, 0x3f81, "just above halfway: up"],
    [0x3f807fff, 0x3f80, "just below halfway: down"],
    [0x3fffffff, 0x4000, "the carry out of the mantissa bumps the exponent (→ 2.0)"],
    [0x7f7fffff, 0x7f80, "the largest finite f32 rounds to +Inf"],
    [0xff7fffff, 0xff80, "and its negative to -Inf"],
    [0x7f7f7fff, 0x7f7f, "below the overflow threshold: the largest finite bf16"],
    [0x7f7f8000, 0x7f80, "halfway to the threshold with an odd last bit: Inf, as IEEE rounding does"],
    [0x00010000, 0x0001, "a subnormal bf16 exactly"],
    [0x00018000, 0x0002, "a subnormal halfway between 0x0001 and 0x0002: to even"],
    [0x00008000, 0x0000, "halfway between 0 and the smallest subnormal: to zero"],
    [0x00008001, 0x0001, "just above it: the smallest subnormal"],
    [0x00000001, 0x0000, "the smallest f32 subnormal vanishes"],
    [0x007fffff, 0x0080, "the largest f32 subnormal rounds up to the smallest normal"],
    [0x80000000, 0x8000, "-0 keeps its sign"],
    [0x7f800000, 0x7f80, "+Inf"],
    [0xff800000, 0xff80, "-Inf"],
    [0x7fc00000, 0x7fc0, "quiet NaN"],
    [0xffc00000, 0xffc0, "negative NaN"],
    [0x7f800001, 0x7fc0, "a NaN whose payload is only in the dropped half stays NaN (not Inf)"],
    [0xffffffff, 0xffff, "the all-ones NaN (rounding it would carry out of 32 bits)"],
  ];
  const got = toBFloat16(f32(...cases.map((c) => c[0])));
  cases.forEach(([x, want, what], i) => assert.equal(hex([got[i]])[0], hex([want])[0], `${what}: f32 0x${x.toString(16)}`));
  // toBFloat16 reads a view's own elements, not its buffer's start.
  const backing = f32(0x3f818000, 0x3f808001, 0x3f808000);
  assert.deepEqual(hex(toBFloat16(backing.subarray(1))), hex([0x3f81, 0x3f80]));
});

Deno.test("bf16 widening is exact: hand-computed values, and every bf16 pattern rounds back to itself", () => {
  const h = Uint16Array.of(0x3f80, 0x3f81, 0xc000, 0x4049, 0x0001, 0x0080, 0x7f7f, 0x8000, 0x0000, 0x7f80, 0xff80, 0x7fc0);
  const want = [1, 1 + 2 ** -7, -2, 3.140625, 2 ** -133, 2 ** -126, (2 - 2 ** -7) * 2 ** 127, -0, 0, Infinity, -Infinity, NaN];
  const got = fromBFloat16(h);
  want.forEach((w, i) => assert.ok(Object.is(got[i], w), `0x${h[i].toString(16)} → ${got[i]}, want ${w}`));
  // safetensors' loader widens through the same code.
  assert.deepEqual(bitsOf(toFloat32({ dtype: "BF16", shape: [h.length], data: h })), bitsOf(got));
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const back = toBFloat16(fromBFloat16(all));
  for (let i = 0; i < 65536; i++) {
    const isNaN = (i & 0x7f80) === 0x7f80 && (i & 0x7f) !== 0;
    if (isNaN) assert.ok(Number.isNaN(fromBFloat16(Uint16Array.of(back[i]))[0]), `NaN 0x${i.toString(16)} stays NaN`);
    else assert.equal(back[i], i, `bf16 0x${i.toString(16)} → f32 → bf16`);
  }
});

/** Nearest-even bf16 of a finite or infinite f32 by float64 arithmetic: independent of the bit trick. */
function referenceBf16(bits: number): number {
  const x = f32(bits)[0];
  if (!Number.isFinite(x)) return bits >>> 16;
  const lo = bits >>> 16, hi = lo + 1; // same sign; hi is the next magnitude up
  const value = (h: number) => (h & 0x7fff) === 0x7f80 ? Math.sign(x) * 2 ** 128 : fromBFloat16(Uint16Array.of(h))[0];
  const dLo = Math.abs(x - value(lo)), dHi = Math.abs(value(hi) - x); // exact in float64
  return dLo < dHi ? lo : dHi < dLo ? hi : (lo & 1 ? hi : lo);
}

Deno.test("bf16 rounding equals a float64 nearest-even reference on 50,000 random finite f32 bit patterns", () => {
  const rng = new Rng(7);
  const bits = new Uint32Array(50_000);
  for (let n = 0; n < bits.length;) {
    // Exponents across the whole range, and often a dropped half at or next to one half.
    let b = (rng.int(2 ** 16) * 2 ** 16 + rng.int(2 ** 16)) >>> 0;
    const k = rng.int(4);
    if (k === 0) b = (b & 0xffff0000) | 0x8000;
    if (k === 1) b = (b & 0xffff0000) | (0x7fff + rng.int(3));
    if ((b & 0x7f800000) !== 0x7f800000) bits[n++] = b;
  }
  const got = toBFloat16(new Float32Array(bits.buffer));
  bits.forEach((b, i) => {
    if (got[i] !== referenceBf16(b)) assert.fail(`f32 0x${b.toString(16)}: got 0x${got[i].toString(16)}, want 0x${referenceBf16(b).toString(16)}`);
  });
});

// ---------------------------------------------------------------- checkpoints

const CFG: GPTConfig = { sequence_len: 16, vocab_size: 64, n_layer: 2, n_head: 2, n_kv_head: 1, n_embd: 16 };
const HALFWAY_ODD = 0x3f818000, HALFWAY_EVEN = 0x3f808000, MAX_F32 = 0x7f7fffff;

function makeData(seed: number): CheckpointData {
  const rng = new Rng(seed);
  const params = new Map<string, Float32Array>();
  for (const { name, shape } of paramShapes(CFG)) {
    const v = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rng.uniform() - 0.5) * 0.2);
    params.set(name, v);
  }
  // The special values sit in the checkpoint too, so the file path sees them, not only the helper.
  new Uint32Array(params.get("transformer.wte.weight")!.buffer).set([HALFWAY_ODD, HALFWAY_EVEN, MAX_F32, 0x80000000, 0x00018000, 0x7fc00000, 0xff800000]);
  const meta = { user_config: { depth: 2 }, val_bpb: 1.5, loader_state: { pos: 3 }, rng_state: null, metrics: { loss_ema_raw: 2 }, tokenizer: null, stage: "sft", source: "base/step_000010" };
  return { params, cfg: CFG, meta };
}

type Files = Map<string, Uint8Array>;
const toFiles = (parts: { name: string; chunks: Uint8Array[] }[]): Files => new Map(parts.map((p) => [p.name, concatChunks(p.chunks)]));
const load = (files: Files) => decodeCheckpoint((name) => Promise.resolve(files.get(name) ?? null), "mem/step_000012");
const metaOf = (files: Files) => JSON.parse(new TextDecoder().decode(files.get(META_FILE)!));

Deno.test("checkpoint: f32 params → bf16 model.safetensors → load equals the bf16-rounded values exactly; half the bytes", async () => {
  const data = makeData(3);
  const f32Files = toFiles(encodeCheckpoint(12, data));
  const bf16Files = toFiles(encodeCheckpoint(12, data, { weightsDtype: "bf16" }));
  assert.deepEqual([...bf16Files.keys()], [MODEL_FILE, META_FILE], "no optimizer file");

  const st = decodeSafetensors(bf16Files.get(MODEL_FILE)!);
  for (const [name, t] of st.tensors) assert.equal(t.dtype, "BF16", name);
  assert.deepEqual(st.metadata, { format: "pt" });
  assert.equal(metaOf(bf16Files).weights_dtype, "bf16");
  assert.equal("weights_dtype" in metaOf(f32Files), false, "an f32 checkpoint's meta.json is as before");

  const ck = await load(bf16Files);
  assert.equal(ck.meta.weights_dtype, "bf16");
  assert.equal(ck.meta.step, 12);
  assert.deepEqual([ck.meta.stage, ck.meta.source, ck.meta.val_bpb, ck.meta.loader_state], ["sft", "base/step_000010", 1.5, { pos: 3 }]);
  assert.equal(ck.optimizer, undefined);
  for (const [name, v] of data.params) {
    assert.deepEqual(bitsOf(ck.params.get(name)!), bitsOf(fromBFloat16(toBFloat16(v))), `${name}: loaded = rounded`);
  }
  // The same, by hand: what the special values of wte load as.
  const wte = ck.params.get("transformer.wte.weight")!;
  assert.deepEqual(bitsOf(wte.subarray(0, 7)).map((b) => b.toString(16)), ["3f820000", "3f800000", "7f800000", "80000000", "20000", "7fc00000", "ff800000"]);

  const f32Ck = await load(f32Files);
  assert.equal(f32Ck.meta.weights_dtype, "f32");
  for (const [name, v] of data.params) assert.deepEqual(bitsOf(f32Ck.params.get(name)!), bitsOf(v), `${name}: f32 is bitwise`);

  const ratio = bf16Files.get(MODEL_FILE)!.length / f32Files.get(MODEL_FILE)!.length;
  console.log(`model.safetensors: f32 ${f32Files.get(MODEL_FILE)!.length} bytes, bf16 ${bf16Files.get(MODEL_FILE)!.length} bytes (ratio ${ratio.toFixed(4)})`);
  assert.ok(ratio > 0.5 && ratio < 0.55, `ratio ${ratio}`);
  const dataBytes = (b: Uint8Array) => b.length - 8 - Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  assert.equal(dataBytes(bf16Files.get(MODEL_FILE)!) * 2, dataBytes(f32Files.get(MODEL_FILE)!), "the tensor bytes are exactly half");

  // Saving the loaded bf16 weights as bf16 again changes nothing: the rounding is idempotent.
  const again = toFiles(encodeCheckpoint(12, { ...data, params: ck.params }, { weightsDtype: "bf16" }));
  assert.deepEqual(again.get(MODEL_FILE), bf16Files.get(MODEL_FILE));
});

Deno.test("checkpoint: bf16 weights refuse optimizer state; unknown dtypes are refused by name", () => {
  const data = makeData(4);
  const optimizer = { tensors: new Map([["adamw.exp_avg.transformer.wte.weight", new Float32Array(64 * 16)]]), meta: { adamw_step: "1" } };
  assert.throws(() => encodeCheckpoint(1, { ...data, optimizer }, { weightsDtype: "bf16" }), (e) => e instanceof CheckpointError && /bf16 weights and optimizer state: a bf16 checkpoint is for inference/.test(e.message));
  assert.ok(toFiles(encodeCheckpoint(1, { ...data, optimizer })).has(OPTIM_FILE), "f32 keeps the optimizer");
  // @ts-expect-error: a dtype the encoder does not write
  assert.throws(() => encodeCheckpoint(1, data, { weightsDtype: "fp8" }), /weights dtype "fp8" is not one of f32, bf16, f16, mxfp4/);
});

Deno.test("checkpoint: meta.json's weights_dtype is validated and must match the tensors; unrecorded narrow tensors are reported", async () => {
  const data = makeData(5);
  const bf16Files = toFiles(encodeCheckpoint(12, data, { weightsDtype: "bf16" }));
  const f32Files = toFiles(encodeCheckpoint(12, data));
  const withMeta = (files: Files, meta: Record<string, unknown>): Files => new Map([...files, [META_FILE, new TextEncoder().encode(JSON.stringify(meta))]]);

  await assert.rejects(load(withMeta(bf16Files, { ...metaOf(bf16Files), weights_dtype: "fp8" })), /mem\/step_000012\/meta\.json: field "weights_dtype" must be one of f32, bf16, f16, mxfp4 .*got "fp8"/);
  // An f32 model file under a meta.json that says bf16 (or the other way round): files of two saves.
  await assert.rejects(load(withMeta(f32Files, { ...metaOf(f32Files), weights_dtype: "bf16" })), /model\.safetensors: tensor transformer\.wte\.weight is F32, but meta\.json records weights_dtype "bf16" \(BF16\): the two files come from different saves/);
  await assert.rejects(load(withMeta(bf16Files, { ...metaOf(bf16Files), weights_dtype: "f32" })), /tensor transformer\.wte\.weight is BF16, but meta\.json records weights_dtype "f32"/);
  // A bf16 model file whose meta.json does not say so (written by another tool) still loads, and says it is bf16.
  const { weights_dtype: _, ...plain } = metaOf(bf16Files);
  assert.equal((await load(withMeta(bf16Files, plain))).meta.weights_dtype, "bf16");

  // F16 model tensors widen exactly too.
  const h = Uint16Array.of(0x3c00, 0xc000, 0x0001, 0x7c00, 0x8000, 0x3555);
  const want = [1, -2, 2 ** -24, Infinity, -0, 1365 / 4096];
  const f16 = new Map(paramShapes(CFG).map(({ name, shape }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data16 = new Uint16Array(n);
    data16.set(h.subarray(0, Math.min(n, h.length)));
    return [name, { dtype: "F16" as const, shape, data: data16 }];
  }));
  const f16Files: Files = new Map([[MODEL_FILE, encodeSafetensors(f16)], [META_FILE, new TextEncoder().encode(JSON.stringify({ ...plain, weights_dtype: "f16" }))]]);
  const ck = await load(f16Files);
  assert.equal(ck.meta.weights_dtype, "f16");
  const wte = ck.params.get("transformer.wte.weight")!;
  want.forEach((w, i) => assert.ok(Object.is(wte[i], w), `f16 0x${h[i].toString(16)} → ${wte[i]}, want ${w}`));
});
