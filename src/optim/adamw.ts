// AdamW on the GPU (kernels/adamw.wgsl): one fused dispatch per parameter tensor.
import type { Gpu } from "../gpu/device.ts";
import { type BoundKernel, loadKernel, type Op } from "../gpu/kernel.ts";
import { createTensor, fillTensorBits, type Tensor } from "../gpu/tensor.ts";
import { grid1d, gridOp } from "../gpu/grid.ts";

export const ADAMW_WGSL = new URL("../../kernels/adamw.wgsl", import.meta.url);

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** nanochat's AdamW settings (lr is per group). */
export const NANOCHAT_ADAMW = { beta1: 0.8, beta2: 0.95, eps: 1e-10, weightDecay: 0 };

export interface AdamWParam {
  name: string;
  param: Tensor;
  grad: Tensor;
  /** The group's base learning rate; the schedule multiplies it. */
  lr: number;
}

export class AdamW {
  readonly ops: Op[] = [];
  readonly state = new Map<string, { m: Tensor; v: Tensor }>();
  private bounds: { bound: BoundKernel; n: number; lr: number }[] = [];
  /** Number of steps taken (t in the bias corrections). */
  step = 0;

  private constructor(readonly hyper: Omit<AdamWHyper, "lr">) {}

  /** gradScale: a buffer whose element [2] scales the gradients (GradNorm.state). */
  static async create(gpu: Gpu, params: AdamWParam[], hyper: Omit<AdamWHyper, "lr">, gradScale: Tensor): Promise<AdamW> {
    const opt = new AdamW(hyper);
    const kernel = await loadKernel(gpu, { url: ADAMW_WGSL, entry: "step" });
    for (const p of params) {
      const m = createTensor(gpu, p.param.shape, "f32", `adamw.m:${p.name}`);
      const v = createTensor(gpu, p.param.shape, "f32", `adamw.v:${p.name}`);
      fillTensorBits(m, 0);
      fillTensorBits(v, 0);
      opt.state.set(p.name, { m, v });
      const n = p.param.size;
      const label = `adamw ${p.name}`;
      const bound = kernel.bind({ p: p.param, g: p.grad, m, v, grad_scale: gradScale }, opt.uniform(n, p.lr, 1), label);
      opt.bounds.push({ bound, n, lr: p.lr });
      opt.ops.push(gridOp(bound, grid1d(gpu, n, 256, label)));
    }
    return opt;
  }

  private uniform(n: number, lr: number, t: number) {
    const { beta1, beta2, eps, weightDecay } = this.hyper;
    return {
      n,
      step_size: lr * Math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t),
      decay: 1 - lr * weightDecay,
      beta1,
      beta2,
      eps,
    };
  }

  /** Call before recording `ops` for a step: advances t and sets lr = base·lrMultiplier. */
  prepareStep(lrMultiplier: number): void {
    this.step += 1;
    for (const b of this.bounds) b.bound.setParams(this.uniform(b.n, b.lr * lrMultiplier, this.step));
  }

  destroy(): void {
    for (const { m, v } of this.state.values()) {
      m.destroy();
      v.destroy();
    }
  }
}
