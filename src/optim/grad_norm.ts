// Global gradient norm over many tensors and the clip factor, on the GPU: each gradient's
// sum of squares into its own slice of one partials buffer, one sum over all partials,
// then the clip factor (src/nn/reduce.ts) — no readback inside the step. The optimizers
// read the clip factor from `state[2]`; `state[1]` holds the norm for logging.
import type { Gpu } from "../gpu/device.ts";
import type { Op } from "../gpu/kernel.ts";
import { createTensor, readF32, type Tensor } from "../gpu/tensor.ts";
import { type ClipFactorOp, clipFactorOp, partialCount, sumPartialsOp, sumsqPartialOp } from "../nn/reduce.ts";

/** Floats of the two buffers a GradNorm over tensors of these sizes holds. */
export function gradNormScratchSizes(sizes: readonly number[]): { state: number; partials: number } {
  return { state: 4, partials: sizes.reduce((s, n) => s + partialCount(n), 0) };
}

export class GradNorm {
  readonly ops: Op[] = [];
  /** [Σ g², ‖g‖, clip factor] */
  readonly state: Tensor;
  private partials: Tensor;
  private clip!: ClipFactorOp;

  private constructor(gpu: Gpu, sizes: { state: number; partials: number }) {
    this.state = createTensor(gpu, [sizes.state], "f32", "grad_norm.state");
    this.partials = createTensor(gpu, [sizes.partials], "f32", "grad_norm.partials");
  }

  /** maxNorm ≤ 0 computes the norm but never clips. */
  static async create(gpu: Gpu, grads: Tensor[], maxNorm: number): Promise<GradNorm> {
    const sizes = gradNormScratchSizes(grads.map((g) => g.size));
    const gn = new GradNorm(gpu, sizes);
    let offset = 0;
    for (const g of grads) {
      gn.ops.push(await sumsqPartialOp(gpu, { x: g, partials: gn.partials }, { n: g.size, offset }, { label: `grad_norm ${g.label}` }));
      offset += partialCount(g.size);
    }
    gn.ops.push(await sumPartialsOp(gpu, { partials: gn.partials, out: gn.state }, { n: sizes.partials }, { label: "grad_norm" }));
    gn.clip = await clipFactorOp(gpu, { state: gn.state }, { maxNorm, label: "grad_norm.clip" });
    gn.ops.push(gn.clip);
    return gn;
  }

  setMaxNorm(maxNorm: number): void {
    this.clip.setMaxNorm(maxNorm);
  }

  /** The last step's global gradient norm (reads back; call after the step's submit). */
  async readNorm(): Promise<number> {
    return (await readF32(this.state))[1];
  }

  destroy(): void {
    this.state.destroy();
    this.partials.destroy();
  }
}
