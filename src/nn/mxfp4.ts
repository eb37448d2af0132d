// Host wrappers for kernels/mxfp4.wgsl: MXFP4 weights on the GPU. The layout is
// src/formats/mxfp4.ts's (the CPU reference these kernels match bit for bit), held in two
// u32 tensors: `blocks` (rows × bpr·4 words, 8 elements a word) and `scales` (the rows × bpr
// E8M0 bytes packed four to a word), bpr = ceil(K / 32) blocks a row.
//   mxfp4QuantizeOp    f32 rows × K → blocks, scales
//   mxfp4DequantizeOp  blocks, scales → f32 rows × K (exactly the CPU decode)
//   mxfp4MatmulOp      y = x · Wᵀ, x M × K f32, W N × K in MXFP4, f32 accumulation (the engine's
//                      linear layers and logits when a checkpoint is MXFP4)
import { type Gpu, GpuError } from "../gpu/device.ts";
import { grid1d, gridOp, requireSize } from "../gpu/grid.ts";
import { loadKernel, type Op } from "../gpu/kernel.ts";
import { createTensor, readBuffer, type Tensor, writeTensor } from "../gpu/tensor.ts";

export const MXFP4_WGSL = new URL("../../kernels/mxfp4.wgsl", import.meta.url);
/** Elements per block (src/formats/mxfp4.ts's MXFP4_BLOCK; nn sits below formats and cannot import it). */
const BLOCK = 32;
const MATMUL_THREADS = 64;

/** The tensors of one MXFP4 matrix on the GPU. */
export interface Mxfp4Tensors {
  blocks: Tensor;
  scales: Tensor;
}

/** A rows × K matrix in MXFP4. */
export interface Mxfp4Shape {
  rows: number;
  K: number;
}

/** u32 words of the blocks and scales tensors for rows × K. */
export function mxfp4Words(s: Mxfp4Shape): { blocks: number; scales: number } {
  const bpr = Math.ceil(s.K / BLOCK);
  return { blocks: s.rows * bpr * 4, scales: Math.ceil((s.rows * bpr) / 4) };
}

function checkShape(name: string, s: Record<string, number>): void {
  for (const [k, v] of Object.entries(s)) {
    if (!Number.isInteger(v) || v < 1) throw new GpuError(`${name}: ${k} must be a positive integer, got ${v}`);
  }
}

function checkWeights(name: string, t: Mxfp4Tensors, s: Mxfp4Shape): void {
  const words = mxfp4Words(s);
  for (const role of ["blocks", "scales"] as const) {
    if (t[role].dtype !== "u32") throw new GpuError(`${name}: ${role} ${t[role]} must be u32 (packed bytes), got ${t[role].dtype}`);
    requireSize(name, role, t[role], words[role]);
  }
}

function requireF32(name: string, role: string, t: Tensor): void {
  if (t.dtype !== "f32") throw new GpuError(`${name}: ${role} ${t} must be f32, got ${t.dtype}`);
}

function params(s: Mxfp4Shape, M = 0, x: { lda?: number; offA?: number } = {}) {
  return { rows: s.rows, K: s.K, bpr: Math.ceil(s.K / BLOCK), M, lda: x.lda ?? s.K, offA: x.offA ?? 0 };
}

/** Uploads MXFP4 bytes (src/formats/mxfp4.ts's blocks and scales) as the two u32 tensors. */
export function uploadMxfp4(gpu: Gpu, bytes: { blocks: Uint8Array; scales: Uint8Array }, s: Mxfp4Shape, label = "mxfp4"): Mxfp4Tensors {
  const words = mxfp4Words(s);
  const out = {} as Mxfp4Tensors;
  for (const role of ["blocks", "scales"] as const) {
    if (Math.ceil(bytes[role].length / 4) !== words[role]) {
      throw new GpuError(`${label}: ${bytes[role].length} ${role} bytes do not fit rows ${s.rows} × K ${s.K} (${words[role]} words)`);
    }
    const padded = new Uint8Array(words[role] * 4);
    padded.set(bytes[role]);
    out[role] = createTensor(gpu, [words[role]], "u32", `${label}.${role}`);
    writeTensor(out[role], new Uint32Array(padded.buffer));
  }
  return out;
}

export function destroyMxfp4(t: Mxfp4Tensors): void {
  t.blocks.destroy();
  t.scales.destroy();
}

/** Reads the two tensors back as the CPU layout's bytes (scales without the last word's padding). */
export async function readMxfp4(gpu: Gpu, t: Mxfp4Tensors, s: Mxfp4Shape): Promise<{ blocks: Uint8Array; scales: Uint8Array }> {
  const bpr = Math.ceil(s.K / BLOCK);
  const [blocks, scales] = await Promise.all([
    readBuffer(gpu, t.blocks.buffer, 0, s.rows * bpr * 16),
    readBuffer(gpu, t.scales.buffer, 0, s.rows * bpr),
  ]);
  return { blocks: new Uint8Array(blocks), scales: new Uint8Array(scales) };
}

/** x (f32 rows × K) → MXFP4: the same bits as src/formats/mxfp4.ts's encodeMxfp4. */
export async function mxfp4QuantizeOp(gpu: Gpu, t: { x: Tensor } & Mxfp4Tensors, s: Mxfp4Shape, opts: { label?: string } = {}): Promise<Op> {
  const name = `${opts.label ?? "mxfp4.quantize"}(rows=${s.rows} K=${s.K})`;
  checkShape(name, { rows: s.rows, K: s.K });
  requireF32(name, "x", t.x);
  requireSize(name, "x", t.x, s.rows * s.K);
  checkWeights(name, t, s);
  const kernel = await loadKernel(gpu, { url: MXFP4_WGSL, entry: "quantize" });
  const bound = kernel.bind({ xbits: t.x, blocks: t.blocks, scales: t.scales }, params(s), name);
  return gridOp(bound, grid1d(gpu, mxfp4Words(s).scales, 64, name));
}

/** MXFP4 → out (f32 rows × K), exactly src/formats/mxfp4.ts's decodeMxfp4 (NaN blocks as 0x7fc00000). */
export async function mxfp4DequantizeOp(gpu: Gpu, t: Mxfp4Tensors & { out: Tensor }, s: Mxfp4Shape, opts: { label?: string } = {}): Promise<Op> {
  const name = `${opts.label ?? "mxfp4.dequantize"}(rows=${s.rows} K=${s.K})`;
  checkShape(name, { rows: s.rows, K: s.K });
  checkWeights(name, t, s);
  requireF32(name, "out", t.out);
  requireSize(name, "out", t.out, s.rows * s.K);
  const kernel = await loadKernel(gpu, { url: MXFP4_WGSL, entry: "dequantize" });
  const bound = kernel.bind({ blocks: t.blocks, scales: t.scales, out: t.out }, params(s), name);
  return gridOp(bound, grid1d(gpu, mxfp4Words(s).blocks, 64, name));
}

/** Where x's rows are: lda elements apart (default K, packed), from element offA (default 0). */
export interface Mxfp4MatmulLayout {
  lda?: number;
  offA?: number;
}

export interface Mxfp4MatmulOp extends Op {
  /** Re-aims the same binding at M rows of x at another stride/offset (the logits of chosen rows). */
  update(shape: { M: number; N: number; K: number }, layout?: Mxfp4MatmulLayout): void;
}

function checkMatmul(name: string, t: { x: Tensor; w: Mxfp4Tensors; y: Tensor }, s: { M: number; N: number; K: number }, layout: Mxfp4MatmulLayout): void {
  checkShape(name, s);
  for (const [role, tensor] of [["x", t.x], ["y", t.y]] as const) requireF32(name, role, tensor);
  const lda = layout.lda ?? s.K, offA = layout.offA ?? 0;
  if (!Number.isInteger(lda) || lda < s.K) throw new GpuError(`${name}: x's row stride lda ${lda} is smaller than K ${s.K}`);
  if (!Number.isInteger(offA) || offA < 0) throw new GpuError(`${name}: offA must be a non-negative integer, got ${offA}`);
  requireSize(name, "x", t.x, offA + (s.M - 1) * lda + s.K);
  checkWeights(name, t.w, { rows: s.N, K: s.K });
  requireSize(name, "y", t.y, s.M * s.N);
}

/**
 * y = x · Wᵀ: x M × K f32 (rows lda apart from offA), W N × K in MXFP4, y M × N packed.
 * One workgroup a column of y, so it suits decode steps (M a few rows); any M is correct.
 */
export async function mxfp4MatmulOp(
  gpu: Gpu, t: { x: Tensor; w: Mxfp4Tensors; y: Tensor }, s: { M: number; N: number; K: number },
  opts: { label?: string } & Mxfp4MatmulLayout = {},
): Promise<Mxfp4MatmulOp> {
  const describe = (sh: { M: number; N: number; K: number }) => `${opts.label ?? "mxfp4.matmul"}(x·Wᵀ M=${sh.M} N=${sh.N} K=${sh.K})`;
  let name = describe(s);
  checkMatmul(name, t, s, opts);
  const kernel = await loadKernel(gpu, { url: MXFP4_WGSL, entry: "matmul", overrides: { SW: MATMUL_THREADS } });
  const bound = kernel.bind({ x: t.x, blocks: t.w.blocks, scales: t.w.scales, y: t.y }, params({ rows: s.N, K: s.K }, s.M, opts), name);
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  const x = Math.min(s.N, max);
  if (Math.ceil(s.N / x) > max) throw new GpuError(`${name}: N=${s.N} columns need more than ${max}² workgroups`);
  const grid = gridOp(bound, [x, Math.ceil(s.N / x)], name);
  return {
    get label() {
      return name;
    },
    record: (pass) => grid.record(pass),
    update(shape, layout = {}) {
      if (shape.N !== s.N || shape.K !== s.K) throw new GpuError(`${name}: update() keeps W's N=${s.N} K=${s.K}; make a new op for another matrix`);
      name = describe(shape);
      checkMatmul(name, t, shape, layout);
      bound.setParams(params({ rows: s.N, K: s.K }, shape.M, layout));
    },
  };
}
