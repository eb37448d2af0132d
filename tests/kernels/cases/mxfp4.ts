// MXFP4 kernels (kernels/mxfp4.wgsl) against the CPU reference (src/formats/mxfp4.ts, itself
// pinned to hand-worked blocks in tests/unit/mxfp4.test.ts):
//   quantize    the same bytes as encodeMxfp4, bit for bit, on blocks built to hit every
//               rule (midpoints and their neighbours, saturation, outliers, the clamped
//               scale with float32 subnormals, the largest float, NaN, ±Inf, any bit pattern)
//   dequantize  exactly decodeMxfp4: every scale byte × element code, and random bytes
//   matmul      y = x·Wᵀ within γ_n·Σ_k|x_k·w_k| of a float64 product with the dequantised
//               weights, n = 8⌈K/512⌉ + 6 the roundings on the kernel's longest summation
//               path (each thread's fma chain, then the 64-way tree), γ_n = n·u/(1 − n·u)
//   bounds      all three on views of larger buffers write nothing past them
// Exact cases report relErr 0 (or Infinity naming the first differing byte) under bound 1e-30.
import type { Gpu } from "../../../src/gpu/device.ts";
import { runOps } from "../../../src/gpu/kernel.ts";
import { createTensor, fillTensorBits, NAN_BITS, prefixView, readF32, readTensor, uploadTensor, writeTensor } from "../../../src/gpu/tensor.ts";
import { decodeMxfp4, encodeMxfp4, type Mxfp4Matrix } from "../../../src/formats/mxfp4.ts";
import { mxfp4DequantizeOp, mxfp4MatmulOp, mxfp4QuantizeOp, mxfp4Words, readMxfp4, uploadMxfp4 } from "../../../src/nn/mxfp4.ts";
import type { Rng } from "../../../src/util/rng.ts";
import { freshRng, type KernelCase, randomF32, relErr } from "../harness.ts";

const EXACT = 1e-30;
const POISON = 0xdeadbeef;
const MIDPOINTS = [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5];

/** rows × K float32s whose 32-blocks each exercise one rule (see the header). */
function ruleMatrix(rng: Rng, rows: number, K: number): Float32Array {
  const x = new Float32Array(rows * K), bits = new Uint32Array(x.buffer);
  const f32 = (v: number) => Math.fround(v);
  const nudge = (v: number, d: number) => {
    const b = new Float32Array([v]);
    new Uint32Array(b.buffer)[0] += d;
    return b[0];
  };
  for (let r = 0; r < rows; r++) {
    for (let k0 = 0; k0 < K; k0 += 32) {
      const kind = rng.int(8), e = rng.int(250) - 127; // the block's scale 2^e (its max in [4, 8)·2^e)
      for (let k = k0; k < Math.min(K, k0 + 32); k++) {
        const i = r * K + k, sign = rng.int(2) ? -1 : 1;
        if (kind === 0) x[i] = (rng.uniform() * 2 - 1) * 2 ** (rng.int(8) - 4);
        else if (kind === 1) x[i] = f32(sign * MIDPOINTS[rng.int(7)] * 2 ** e); // ties (rounded to f32 only when subnormal)
        else if (kind === 2) x[i] = nudge(f32(sign * MIDPOINTS[rng.int(7)] * 2 ** Math.max(e, -120)), rng.int(3) - 1);
        else if (kind === 3) x[i] = f32(sign * (6 + 2 * rng.uniform()) * 2 ** Math.min(e, 125)); // past ±6·scale
        else if (kind === 4) x[i] = (rng.uniform() * 2 - 1) * 2 ** (-150 + rng.int(30)); // float32 subnormals, clamped scale
        else if (kind === 5) bits[i] = rng.nextU32(); // anything: NaN, ±Inf, subnormals, the largest floats
        else if (kind === 6) x[i] = rng.int(4) === 0 ? sign * 2 ** (rng.int(20) - 2) : (rng.uniform() - 0.5) * 0.01; // outliers
        else x[i] = rng.int(2) ? 0 : -0;
      }
      if (kind === 1 || kind === 2) x[r * K + k0] = f32(4 * 2 ** Math.max(e, kind === 2 ? -120 : -127)); // pin the scale
    }
  }
  // The special values themselves, in the first blocks.
  const special = [0x7f7fffff, 0xff7fffff, 0x00000001, 0x80000001, 0x007fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001];
  special.forEach((b, j) => (bits[j * 32 + 1 < x.length ? j * 32 + 1 : j] = b));
  return x;
}

/** The first differing byte of two byte arrays, or null. */
function firstDiff(got: Uint8Array, want: Uint8Array): number | null {
  if (got.length !== want.length) return -1;
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) return i;
  return null;
}

function exactVerdict(parts: [string, Uint8Array, Uint8Array][], what: string) {
  for (const [name, got, want] of parts) {
    const d = firstDiff(got, want);
    if (d !== null) {
      const show = (a: Uint8Array) => (d < 0 ? `${a.length} bytes` : `0x${a[d]?.toString(16)}`);
      return { relErr: Infinity, bound: EXACT, detail: `${what}: ${name} byte ${d}: got ${show(got)}, want ${show(want)}` };
    }
  }
  return { relErr: 0, bound: EXACT };
}

const bytesOf = (a: Float32Array | Uint32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

async function quantizeCase(gpu: Gpu, rows: number, K: number, make: (rng: Rng) => Float32Array) {
  const x = make(freshRng());
  const want = encodeMxfp4(x, rows, K);
  const X = uploadTensor(gpu, x, [rows * K], "x");
  const words = mxfp4Words({ rows, K });
  const W = { blocks: createTensor(gpu, [words.blocks], "u32", "blocks"), scales: createTensor(gpu, [words.scales], "u32", "scales") };
  fillTensorBits(W.blocks, POISON);
  fillTensorBits(W.scales, POISON);
  await runOps(gpu, [await mxfp4QuantizeOp(gpu, { x: X, ...W }, { rows, K })]);
  const got = await readMxfp4(gpu, W, { rows, K });
  // The last scale word's unused bytes are written as zero, not left as they were.
  const lastWord = (await readTensor(W.scales) as Uint32Array)[words.scales - 1];
  for (const t of [X, W.blocks, W.scales]) t.destroy();
  const r = exactVerdict([["blocks", got.blocks, want.blocks], ["scales", got.scales, want.scales]], `quantize ${rows}×${K}`);
  const used = (rows * Math.ceil(K / 32)) % 4;
  if (used && lastWord >>> (8 * used) !== 0) return { relErr: Infinity, bound: EXACT, detail: `the last scale word's padding is 0x${lastWord.toString(16)}` };
  return r;
}

async function dequantize(gpu: Gpu, m: Mxfp4Matrix): Promise<Float32Array> {
  const s = { rows: m.rows, K: m.cols };
  const W = uploadMxfp4(gpu, m, s);
  const out = createTensor(gpu, [m.rows * m.cols], "f32", "out");
  fillTensorBits(out, NAN_BITS ^ 1);
  await runOps(gpu, [await mxfp4DequantizeOp(gpu, { ...W, out }, s)]);
  const got = await readF32(out);
  for (const t of [W.blocks, W.scales, out]) t.destroy();
  return got;
}

async function dequantizeAllCodes(gpu: Gpu) {
  const blocks = new Uint8Array(256 * 16), scales = Uint8Array.from({ length: 256 }, (_, s) => s);
  // Row s: codes 0…15 then 15…0, so both nibbles of a byte carry every code.
  for (let s = 0; s < 256; s++) for (let j = 0; j < 32; j++) blocks[s * 16 + (j >> 1)] |= (j < 16 ? j : 31 - j) << (4 * (j & 1));
  const m = { rows: 256, cols: 32, blocks, scales };
  return exactVerdict([["out", bytesOf(await dequantize(gpu, m)), bytesOf(decodeMxfp4(m))]], "dequantize 256 scales × 16 codes");
}

async function dequantizeRandom(gpu: Gpu, rows: number, K: number) {
  const rng = freshRng(), bpr = Math.ceil(K / 32);
  const m = { rows, cols: K, blocks: Uint8Array.from({ length: rows * bpr * 16 }, () => rng.int(256)), scales: Uint8Array.from({ length: rows * bpr }, () => rng.int(256)) };
  return exactVerdict([["out", bytesOf(await dequantize(gpu, m)), bytesOf(decodeMxfp4(m))]], `dequantize random ${rows}×${K}`);
}

/** γ_n for the kernel's summation of K products: n = 8⌈K/512⌉ + 6. */
export function mxfp4MatmulGamma(K: number): number {
  const n = 8 * Math.ceil(K / 512) + 6, u = 2 ** -24;
  return (n * u) / (1 - n * u);
}

/**
 * strided: x's rows are every other row of a wider matrix past an offset (the logits of
 * chosen positions); the op is first made for other rows and re-aimed with update().
 */
async function matmulCase(gpu: Gpu, M: number, N: number, K: number, opts: { nanRow?: number; strided?: boolean } = {}) {
  const rng = freshRng();
  const w = randomF32(rng, N * K, 0.5);
  for (let i = 0; i < N * K; i += 97) w[i] *= 16; // outliers: some blocks with small values flushed
  if (opts.nanRow !== undefined) w[opts.nanRow * K + K - 1] = NaN;
  const q = encodeMxfp4(w, N, K), wd = decodeMxfp4(q);
  const x = randomF32(rng, M * K);
  const lda = opts.strided ? 2 * K + 3 : K, offA = opts.strided ? K + 5 : 0;
  const stored = new Float32Array(offA + (M - 1) * lda + K + 7).fill(1e30); // anything else read would blow up the sums
  for (let m = 0; m < M; m++) stored.set(x.subarray(m * K, (m + 1) * K), offA + m * lda);
  const X = uploadTensor(gpu, stored, [stored.length], "x"), Y = createTensor(gpu, [M * N], "f32", "y");
  fillTensorBits(Y, NAN_BITS);
  const W = uploadMxfp4(gpu, q, { rows: N, K });
  const op = await mxfp4MatmulOp(gpu, { x: X, w: W, y: Y }, opts.strided ? { M: 1, N, K } : { M, N, K });
  if (opts.strided) op.update({ M, N, K }, { lda, offA });
  await runOps(gpu, [op]);
  const y = await readF32(Y);
  for (const t of [X, Y, W.blocks, W.scales]) t.destroy();
  const ref = new Float64Array(M * N), abs = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0, a = 0;
      for (let k = 0; k < K; k++) {
        s += x[m * K + k] * wd[n * K + k];
        a += Math.abs(x[m * K + k] * wd[n * K + k]);
      }
      ref[m * N + n] = s;
      abs[m * N + n] = a;
    }
  }
  let worst = 0;
  for (let i = 0; i < M * N; i++) {
    const n = i % N;
    if (n === opts.nanRow) {
      if (!Number.isNaN(y[i])) return { relErr: Infinity, bound: 1, detail: `y[${i}] = ${y[i]}: column ${n}'s weights hold a NaN block, so it must be NaN` };
      continue;
    }
    const e = Math.abs(y[i] - ref[i]) / abs[i];
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e; // NaN (an unwritten output) counts as failing
  }
  const keep = (a: ArrayLike<number>) => Array.from(a).filter((_, i) => i % N !== opts.nanRow);
  return { relErr: worst, bound: mxfp4MatmulGamma(K), detail: `max |y − ref| / Σ|x·w| = ${worst.toExponential(2)}, ‖y − ref‖/‖ref‖ = ${relErr(keep(y), keep(ref)).toExponential(2)}` };
}

/** The three ops on views whose buffers run PAD words past them, filled with a sentinel. */
async function boundsCase(gpu: Gpu) {
  const PAD = 300, SENTINEL = 0x7eadbe01, rows = 5, K = 40, M = 3;
  const rng = freshRng();
  const w = randomF32(rng, rows * K), x = randomF32(rng, M * K);
  const words = mxfp4Words({ rows, K });
  const view = (n: number, dtype: "f32" | "u32", data?: Float32Array) => {
    const full = createTensor(gpu, [n + PAD], dtype, "slack");
    const body = new Uint32Array(n + PAD).fill(SENTINEL);
    if (data) body.set(new Uint32Array(data.buffer), 0);
    else body.fill(POISON, 0, n);
    writeTensor(full, body);
    return { full, t: prefixView(full, [n]), n };
  };
  const Wf = view(rows * K, "f32", w), B = view(words.blocks, "u32"), S = view(words.scales, "u32");
  const O = view(rows * K, "f32"), X = view(M * K, "f32", x), Y = view(M * rows, "f32");
  const mx = { blocks: B.t, scales: S.t };
  await runOps(gpu, [
    await mxfp4QuantizeOp(gpu, { x: Wf.t, ...mx }, { rows, K }),
    await mxfp4DequantizeOp(gpu, { ...mx, out: O.t }, { rows, K }),
    await mxfp4MatmulOp(gpu, { x: X.t, w: mx, y: Y.t }, { M, N: rows, K }),
  ]);
  let touched = 0;
  const all = [Wf, B, S, O, X, Y];
  for (const v of all) touched += (new Uint32Array((await readTensor(v.full)).buffer)).subarray(v.n).filter((b) => b !== SENTINEL).length;
  const q = encodeMxfp4(w, rows, K), d = decodeMxfp4(q);
  const got = await readMxfp4(gpu, mx, { rows, K }), out = (await readF32(O.full)).slice(0, rows * K), y = (await readF32(Y.full)).slice(0, M * rows);
  for (const v of all) v.full.destroy();
  if (touched) return { relErr: Infinity, bound: EXACT, detail: `${touched} words past the end of a view changed` };
  const exact = exactVerdict([["blocks", got.blocks, q.blocks], ["scales", got.scales, q.scales], ["out", bytesOf(out), bytesOf(d)]], "bounds");
  if (exact.relErr !== 0) return exact;
  const ref = new Float64Array(M * rows);
  for (let m = 0; m < M; m++) for (let n = 0; n < rows; n++) for (let k = 0; k < K; k++) ref[m * rows + n] += x[m * K + k] * d[n * K + k];
  return { relErr: relErr(y, ref), bound: 1e-5 };
}

export const mxfp4Cases: KernelCase[] = [
  { name: "mxfp4 quantize = CPU encode bit for bit: rule blocks (ties, saturation, subnormals, NaN/Inf…) 9×70", run: (g) => quantizeCase(g, 9, 70, (rng) => ruleMatrix(rng, 9, 70)) },
  { name: "mxfp4 quantize = CPU encode bit for bit: rule blocks 64×512", run: (g) => quantizeCase(g, 64, 512, (rng) => ruleMatrix(rng, 64, 512)) },
  { name: "mxfp4 quantize = CPU encode bit for bit: model-like weights 96×128", run: (g) => quantizeCase(g, 96, 128, (rng) => randomF32(rng, 96 * 128, 0.05)) },
  { name: "mxfp4 dequantize = CPU decode exactly: every scale × code", run: dequantizeAllCodes },
  { name: "mxfp4 dequantize = CPU decode exactly: random bytes 7×70", run: (g) => dequantizeRandom(g, 7, 70) },
  { name: "mxfp4 matmul x·Wᵀ (decode, batch 1) 1×300×128", run: (g) => matmulCase(g, 1, 300, 128) },
  { name: "mxfp4 matmul x·Wᵀ (decode, batch 8) 8×97×200, K padded", run: (g) => matmulCase(g, 8, 97, 200) },
  { name: "mxfp4 matmul x·Wᵀ over 8 rows 19×21×70", run: (g) => matmulCase(g, 19, 21, 70) },
  { name: "mxfp4 matmul x·Wᵀ long rows 4×40×1100", run: (g) => matmulCase(g, 4, 40, 1100) },
  { name: "mxfp4 matmul: a NaN block makes its column NaN, only it 2×33×64", run: (g) => matmulCase(g, 2, 33, 64, { nanRow: 5 }) },
  { name: "mxfp4 matmul re-aimed (update) at strided rows past an offset 3×50×70", run: (g) => matmulCase(g, 3, 50, 70, { strided: true }) },
  { name: "bounds: mxfp4 quantize, dequantize, matmul on views", run: boundsCase },
];
