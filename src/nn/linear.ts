// A linear layer without bias, as PyTorch's nn.Linear stores it: W is (out, in), and
//   forward   y = x·Wᵀ                       x (N, in) → y (N, out)
//   backward  dx (+)= dy·W,  dW += dyᵀ·x      (dW always accumulates: micro-batches add up)
// Both are the matmul kernel with the transposes that make the layout work.
import type { Gpu } from "../gpu/device.ts";
import type { Op } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { type MatmulOp, matmulOp } from "./matmul.ts";

export interface LinearShape {
  /** Rows (tokens). */
  N: number;
  /** Input features (W's columns). */
  inF: number;
  /** Output features (W's rows). */
  outF: number;
}

/** y = x·Wᵀ. */
export function linearOp(
  gpu: Gpu, t: { x: Tensor; w: Tensor; y: Tensor }, s: LinearShape, opts: { label?: string } = {},
): Promise<MatmulOp> {
  return matmulOp(gpu, { a: t.x, b: t.w, c: t.y }, { M: s.N, N: s.outF, K: s.inF }, { transB: true, label: opts.label ?? "linear" });
}

/**
 * dx = dy·W (or dx += dy·W with accumulateDx, when another branch already wrote dx) and
 * dW += dyᵀ·x, in that order.
 */
export async function linearBackwardOps(
  gpu: Gpu, t: { x: Tensor; w: Tensor; dy: Tensor; dx: Tensor; dw: Tensor }, s: LinearShape,
  opts: { accumulateDx?: boolean; label?: string } = {},
): Promise<Op[]> {
  const label = opts.label ?? "linear";
  return [
    await matmulOp(gpu, { a: t.dy, b: t.w, c: t.dx }, { M: s.N, N: s.inF, K: s.outF }, { accumulate: !!opts.accumulateDx, label: `${label}.dx` }),
    await matmulOp(gpu, { a: t.dy, b: t.x, c: t.dw }, { M: s.outF, N: s.inF, K: s.N }, { transA: true, accumulate: true, label: `${label}.dW` }),
  ];
}
