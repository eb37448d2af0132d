// Half-precision (f16) weights, without a GPU: the rounding (hand-computed bits, then random
// f32 patterns against a float64 nearest-even reference), the exact widening over every
// f16 pattern, and checkpoint bytes f32 → F16 model.safetensors → load.
import assert from "node:assert/strict";
import { type CheckpointData, decodeCheckpoint, encodeCheckpoint, META_FILE, MODEL_FILE } from "../../src/formats/checkpoint.ts";
import { fromFloat16, toFloat16 } from "../../src/formats/f16.ts";
import { decodeSafetensors, toFloat32 } from "../../src/formats/safetensors.ts";
import { concatChunks } from "../../src/formats/zip.ts";
import { type GPTConfig, paramShapes } from "../../src/model/config.ts";
import { Rng } from "../../src/util/rng.ts";

const f32 = (...bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);
const bitsOf = (x: Float32Array) => [...new Uint32Array(x.buffer, x.byteOffset, x.length)];
const hex = (x: number) => "0x" + x.toString(16).padStart(4, "0");

Deno.test("f16 rounding: hand-computed bits (nearest, ties to even, overflow, subnormals, -0, NaN)", () => {
  const cases: [number, number, string][] = [
    [0x3f800000, 0x3c00, "1.0"],
    [0xc0000000, 0xc000, "-2.0"],
    [0x3f801000, 0x3c00, "1 + 2^-11: halfway between 0x3c00 and 0x3c01, to the even one below"],
    [0x3f803000, 0x3c02, "1 + 3·2^-11: halfway between 0x3c01 and 0x3c02, to the even one above"],
    [0x3f801001, 0x3c01, "just above halfway: up"],
    [0x3f800fff, 0x3c00, "just below halfway: down"],
    [0x3fffffff, 0x4000, "the carry out of the mantissa bumps the exponent (→ 2.0)"],
    [0x477fe000, 0x7bff, "65504, the largest finite f16"],
    [0x477fefff, 0x7bff, "just below 65520: still 65504"],
    [0x477ff000, 0x7c00, "65520, halfway to the next (odd last bit): +Inf"],
    [0xc77ff000, 0xfc00, "and its negative: -Inf"],
    [0x7f7fffff, 0x7c00, "the largest finite f32: +Inf"],
    [0x38800000, 0x0400, "2^-14, the smallest normal"],
    [0x387fc000, 0x03ff, "1023·2^-24, the largest subnormal"],
    [0x387fe000, 0x0400, "1023.5·2^-24: halfway (odd below), rounds up to the smallest normal"],
    [0x33800000, 0x0001, "2^-24, the smallest subnormal"],
    [0x33000000, 0x0000, "2^-25: halfway between 0 and the smallest subnormal, to zero"],
    [0x33000001, 0x0001, "just above it: the smallest subnormal"],
    [0x33c00000, 0x0002, "3·2^-25: halfway between 0x0001 and 0x0002, to even"],
    [0x34b00000, 0x0006, "11·2^-25: halfway between 0x0005 and 0x0006, to even"],
    [0x80000000, 0x8000, "-0 keeps its sign"],
    [0xb3800000, 0x8001, "-2^-24"],
    [0x7f800000, 0x7c00, "+Inf"],
    [0x7fc00000, 0x7e00, "quiet NaN"],
    [0x7f800001, 0x7e00, "a NaN whose payload is only in the dropped bits stays NaN (not Inf)"],
    [0xffffffff, 0xffff, "the all-ones NaN"],
  ];
  const got = toFloat16(f32(...cases.map((c) => c[0])));
  cases.forEach(([x, want, what], i) => assert.equal(hex(got[i]), hex(want), `${what}: f32 0x${x.toString(16)}`));
  assert.deepEqual([...toFloat16(f32(0x3f803000, 0x3f801000).subarray(1))], [0x3c00], "a view's own elements");
});

Deno.test("f16 widening is exact: hand-computed values, and every f16 pattern rounds back to itself", () => {
  const h = Uint16Array.of(0x3c00, 0x3c01, 0xc000, 0x0001, 0x03ff, 0x0400, 0x7bff, 0x8000, 0x7c00, 0xfc00, 0x7e00);
  const want = [1, 1 + 2 ** -10, -2, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, 65504, -0, Infinity, -Infinity, NaN];
  const got = fromFloat16(h);
  want.forEach((w, i) => assert.ok(Object.is(got[i], w), `${hex(h[i])} → ${got[i]}, want ${w}`));
  assert.deepEqual(bitsOf(toFloat32({ dtype: "F16", shape: [h.length], data: h })), bitsOf(got), "safetensors widens through the same code");
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const back = toFloat16(fromFloat16(all));
  for (let i = 0; i < 65536; i++) {
    if ((i & 0x7c00) === 0x7c00 && (i & 0x3ff)) assert.ok(Number.isNaN(fromFloat16(Uint16Array.of(back[i]))[0]), `NaN ${hex(i)} stays NaN`);
    else if (back[i] !== i) assert.fail(`f16 ${hex(i)} → f32 → f16 gives ${hex(back[i])}`);
  }
});

/** Nearest-even f16 of a finite f32 by float64 arithmetic over the f16 values: independent of the bit tricks. */
function referenceF16(x: number): number {
  const a = Math.abs(x), sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  if (a >= 65520) return sign | 0x7c00;
  // Candidates: the f16 magnitudes around a (step 2^(e-10) in [2^e, 2^(e+1)), 2^-24 below 2^-14).
  const e = a < 2 ** -14 ? -14 : Math.floor(Math.log2(a));
  const step = 2 ** (Math.max(e, -14) - 10);
  const lo = Math.floor(a / step) * step, hi = lo + step;
  const bits = (v: number) => v === 65536 ? 0x7c00 : toFloat16Exact(v);
  const dLo = a - lo, dHi = hi - a;
  const pick = dLo < dHi ? lo : dHi < dLo ? hi : (bits(lo) & 1 ? hi : lo);
  return sign | bits(pick);
}

/** The bits of a value that f16 holds exactly. */
function toFloat16Exact(v: number): number {
  if (v < 2 ** -14) return v / 2 ** -24;
  const e = Math.floor(Math.log2(v));
  return ((e + 15) << 10) | ((v / 2 ** e - 1) * 1024);
}

Deno.test("f16 rounding equals a float64 nearest-even reference on 50,000 random f32 values across f16's range", () => {
  const rng = new Rng(11);
  const xs = new Float32Array(50_000);
  for (let i = 0; i < xs.length; i++) {
    // Exponents from below the subnormals to past the overflow, often exactly on a tie.
    const e = -27 + rng.int(45), m = 1 + rng.uniform();
    let x = Math.fround((rng.uniform() < 0.5 ? -1 : 1) * m * 2 ** e);
    if (rng.int(3) === 0) {
      const step = 2 ** (Math.max(Math.floor(Math.log2(Math.abs(x))), -14) - 10);
      x = Math.fround((Math.floor(x / step) + 0.5) * step);
    }
    xs[i] = x;
  }
  const got = toFloat16(xs);
  xs.forEach((x, i) => {
    const want = referenceF16(x);
    if (got[i] !== want) assert.fail(`f32 ${x} (0x${bitsOf(xs.subarray(i, i + 1))[0].toString(16)}): got ${hex(got[i])}, want ${hex(want)}`);
  });
});

const CFG: GPTConfig = { sequence_len: 16, vocab_size: 64, n_layer: 2, n_head: 2, n_kv_head: 1, n_embd: 16 };

Deno.test("checkpoint: f32 params → F16 model.safetensors → load equals the f16-rounded values exactly; half the bytes", async () => {
  const rng = new Rng(5);
  const params = new Map(paramShapes(CFG).map(({ name, shape }) => [name, Float32Array.from({ length: shape[0] * (shape[1] ?? 1) }, () => (rng.uniform() - 0.5) * 0.2)]));
  const data: CheckpointData = { params, cfg: CFG, meta: { user_config: {}, val_bpb: null, loader_state: null, rng_state: null, metrics: {}, tokenizer: null, stage: "sft", source: "" } };
  const files = new Map(encodeCheckpoint(3, data, { weightsDtype: "f16" }).map((p) => [p.name, concatChunks(p.chunks)]));
  const full = concatChunks(encodeCheckpoint(3, data).find((p) => p.name === MODEL_FILE)!.chunks);
  const st = decodeSafetensors(files.get(MODEL_FILE)!);
  for (const [name, t] of st.tensors) assert.equal(t.dtype, "F16", name);
  assert.equal(JSON.parse(new TextDecoder().decode(files.get(META_FILE)!)).weights_dtype, "f16");
  const ck = await decodeCheckpoint((name) => Promise.resolve(files.get(name) ?? null), "mem/step_000003");
  assert.equal(ck.meta.weights_dtype, "f16");
  let changed = 0;
  for (const [name, v] of params) {
    const want = fromFloat16(toFloat16(v));
    assert.deepEqual(bitsOf(ck.params.get(name)!), bitsOf(want), `${name}: loaded = rounded`);
    changed += want.filter((w, i) => w !== v[i]).length;
  }
  assert.ok(changed > 0, "random weights are not all f16 already");
  const ratio = files.get(MODEL_FILE)!.length / full.length;
  assert.ok(ratio > 0.5 && ratio < 0.55, `f16 file is ${ratio.toFixed(3)} of f32's`);
  assert.throws(() => encodeCheckpoint(3, { ...data, optimizer: { tensors: new Map(), meta: {} } }, { weightsDtype: "f16" }), /f16 weights and optimizer state/);
});
