// Global gradient norm over many tensors and the clip factor, on the GPU: two-stage
// sums of squares (kernels/reduce.wgsl), no readback inside the step. The optimizers
// read the clip factor from `state[2]`; `state[1]` holds the norm for logging.
import type { Gpu } from "../gpu/device.ts";
import { loadKernel, type Op } from "../gpu/kernel.ts";
import { createTensor, readF32, type Tensor } from "../gpu/tensor.ts";
import { gridOp } from "../nn/grid.ts";

export const REDUCE_WGSL = new URL("../../kernels/reduce.wgsl", import.meta.url);
const WG = 256;
/** Elements per thread before another workgroup is added (keeps partials few). */
const PER_THREAD = 16;

export function partialCount(n: number): number {
  return Math.max(1, Math.min(256, Math.ceil(n / (WG * PER_THREAD))));
}

/** Ops that write Σ x² of the first n elements of `x` into out[0] (partials: ≥ partialCount(n) floats). */
export async function sumOfSquaresOps(gpu: Gpu, x: Tensor, n: number, partials: Tensor, out: Tensor, label: string): Promise<Op[]> {
  const groups = partialCount(n);
  const k1 = await loadKernel(gpu, { url: REDUCE_WGSL, entry: "sumsq_partial" });
  const k2 = await loadKernel(gpu, { url: REDUCE_WGSL, entry: "sum_partials" });
  return [
    gridOp(k1.bind({ x, partials }, { n, offset: 0, alpha: 0, beta: 0 }, `${label}.partial`), [groups, 1]),
    gridOp(k2.bind({ partials, out }, { n: groups, offset: 0, alpha: 0, beta: 0 }, `${label}.sum`), [1, 1]),
  ];
}

export class GradNorm {
  readonly ops: Op[] = [];
  /** [Σ g², ‖g‖, clip factor] */
  readonly state: Tensor;
  private partials: Tensor;
  private clipBound!: ReturnType<Awaited<ReturnType<typeof loadKernel>>["bind"]>;

  private constructor(gpu: Gpu, totalPartials: number) {
    this.state = createTensor(gpu, [4], "f32", "grad_norm.state");
    this.partials = createTensor(gpu, [totalPartials], "f32", "grad_norm.partials");
  }

  /** maxNorm ≤ 0 computes the norm but never clips. */
  static async create(gpu: Gpu, grads: Tensor[], maxNorm: number): Promise<GradNorm> {
    const counts = grads.map((g) => partialCount(g.size));
    const total = counts.reduce((a, b) => a + b, 0);
    const gn = new GradNorm(gpu, total);
    const k1 = await loadKernel(gpu, { url: REDUCE_WGSL, entry: "sumsq_partial" });
    let offset = 0;
    grads.forEach((g, i) => {
      gn.ops.push(gridOp(k1.bind({ x: g, partials: gn.partials }, { n: g.size, offset, alpha: 0, beta: 0 }, `grad_norm ${g.label}`), [counts[i], 1]));
      offset += counts[i];
    });
    const k2 = await loadKernel(gpu, { url: REDUCE_WGSL, entry: "sum_partials" });
    gn.ops.push(gridOp(k2.bind({ partials: gn.partials, out: gn.state }, { n: total, offset: 0, alpha: 0, beta: 0 }, "grad_norm.sum"), [1, 1]));
    const k3 = await loadKernel(gpu, { url: REDUCE_WGSL, entry: "clip_factor" });
    gn.clipBound = k3.bind({ out: gn.state }, { n: 0, offset: 0, alpha: maxNorm, beta: 0 }, "grad_norm.clip");
    gn.ops.push(gridOp(gn.clipBound, [1, 1]));
    return gn;
  }

  setMaxNorm(maxNorm: number): void {
    this.clipBound.setParams({ n: 0, offset: 0, alpha: maxNorm, beta: 0 });
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
