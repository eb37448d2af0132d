// Element-wise ops — kernels/elementwise.wgsl: residual add, ReLU², scale, fill.
import type { Gpu } from "../gpu/device.ts";
import { loadKernel, type Op } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { grid1d, gridOp, requireSize } from "./grid.ts";

export const ELEMENTWISE_WGSL = new URL("../../kernels/elementwise.wgsl", import.meta.url);

async function op(
  gpu: Gpu, entry: string, buffers: Record<string, Tensor>, n: number, alpha: number, label: string,
): Promise<Op> {
  const name = `${label}(n=${n})`;
  for (const [k, t] of Object.entries(buffers)) requireSize(name, k, t, n);
  const kernel = await loadKernel(gpu, { url: ELEMENTWISE_WGSL, entry });
  return gridOp(kernel.bind(buffers, { n, alpha }, name), grid1d(gpu, n, 256, name));
}

/** out = a + b */
export const addOp = (gpu: Gpu, a: Tensor, b: Tensor, out: Tensor, n = out.size, label = "add") =>
  op(gpu, "add", { a, b, out }, n, 0, label);

/** out = relu(x)² */
export const relu2ForwardOp = (gpu: Gpu, x: Tensor, out: Tensor, n = out.size, label = "relu2") =>
  op(gpu, "relu2_forward", { a: x, out }, n, 0, label);

/** dx = dy · 2·relu(x), with x the pre-activation */
export const relu2BackwardOp = (gpu: Gpu, x: Tensor, dy: Tensor, dx: Tensor, n = dx.size, label = "relu2.backward") =>
  op(gpu, "relu2_backward", { a: x, b: dy, out: dx }, n, 0, label);

/** out = alpha · out */
export const scaleOp = (gpu: Gpu, out: Tensor, alpha: number, n = out.size, label = "scale") =>
  op(gpu, "scale", { out }, n, alpha, label);

/** out = value */
export const fillOp = (gpu: Gpu, out: Tensor, value: number, n = out.size, label = "fill") =>
  op(gpu, "fill", { out }, n, value, label);
