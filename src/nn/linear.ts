// A linear layer without bias, as PyTorch's nn.Linear stores it: W is (out, in), and
//   forward   y = x·Wᵀ                       x (N, in) → y (N, out)
//   backward  dx (+)= dy·W,  dW += dyᵀ·x      (dW always accumulates: micro-batches add up)
// Both are the matmul kernel with the transposes that make the layout work. A forward-only
// W may be MXFP4 (an inference copy kept quantised on the GPU): then y = x·Wᵀ reads the
// 4-bit blocks directly (nn/mxfp4.ts).
import type { Gpu } from "../gpu/device.ts";
import type { Op } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { matmulOp } from "./matmul.ts";
import { mxfp4MatmulOp, type Mxfp4Tensors } from "./mxfp4.ts";

export interface LinearShape {
  /** Rows (tokens). */
  N: number;
  /** Input features (W's columns). */
  inF: number;
  /** Output features (W's rows). */
  outF: number;
}

/** A linear layer's weight: float32, or MXFP4 blocks and scales (forward only). */
export type LinearWeight = Tensor | Mxfp4Tensors;

export function isMxfp4Weight(w: LinearWeight): w is Mxfp4Tensors {
  return "blocks" in w && "scales" in w;
}

/** y = x·Wᵀ. */
export function linearOp(
  gpu: Gpu, t: { x: Tensor; w: LinearWeight; y: Tensor }, s: LinearShape, opts: { label?: string } = {},
): Promise<Op> {
  const shape = { M: s.N, N: s.outF, K: s.inF }, label = opts.label ?? "linear";
  if (isMxfp4Weight(t.w)) return mxfp4MatmulOp(gpu, { x: t.x, w: t.w, y: t.y }, shape, { label });
  return matmulOp(gpu, { a: t.x, b: t.w, c: t.y }, shape, { transB: true, label });
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
