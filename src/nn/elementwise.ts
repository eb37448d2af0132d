// Element-wise ops — kernels/elementwise.wgsl: residual add, ReLU², scale, fill.
import type { Gpu } from "../gpu/device.ts";
import { grid1d, gridOp, requireSize } from "../gpu/grid.ts";
import { loadKernel, type Op } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";

export const ELEMENTWISE_WGSL = new URL("../../kernels/elementwise.wgsl", import.meta.url);

/** The first n elements of every tensor. */
export interface ElementwiseShape {
  n: number;
}

async function op(gpu: Gpu, entry: string, buffers: Record<string, Tensor>, n: number, alpha: number, label: string): Promise<Op> {
  const name = `${label}(n=${n})`;
  for (const [k, t] of Object.entries(buffers)) requireSize(name, k, t, n);
  const kernel = await loadKernel(gpu, { url: ELEMENTWISE_WGSL, entry });
  return gridOp(kernel.bind(buffers, { n, alpha }, name), grid1d(gpu, n, 256, name));
}

/** out = a + b */
export const addOp = (gpu: Gpu, t: { a: Tensor; b: Tensor; out: Tensor }, s: ElementwiseShape, opts: { label?: string } = {}) =>
  op(gpu, "add", { a: t.a, b: t.b, out: t.out }, s.n, 0, opts.label ?? "add");

/** out = relu(x)² */
export const relu2ForwardOp = (gpu: Gpu, t: { x: Tensor; out: Tensor }, s: ElementwiseShape, opts: { label?: string } = {}) =>
  op(gpu, "relu2_forward", { a: t.x, out: t.out }, s.n, 0, opts.label ?? "relu2");

/** dx = dy · 2·relu(x), with x the pre-activation */
export const relu2BackwardOp = (gpu: Gpu, t: { x: Tensor; dy: Tensor; dx: Tensor }, s: ElementwiseShape, opts: { label?: string } = {}) =>
  op(gpu, "relu2_backward", { a: t.x, b: t.dy, out: t.dx }, s.n, 0, `${opts.label ?? "relu2"}.backward`);

/** x = alpha · x */
export const scaleOp = (gpu: Gpu, t: { x: Tensor }, s: ElementwiseShape, opts: { alpha: number; label?: string }) =>
  op(gpu, "scale", { out: t.x }, s.n, opts.alpha, opts.label ?? "scale");

/** out = value */
export const fillOp = (gpu: Gpu, t: { out: Tensor }, s: ElementwiseShape, opts: { value: number; label?: string }) =>
  op(gpu, "fill", { out: t.out }, s.n, opts.value, opts.label ?? "fill");
