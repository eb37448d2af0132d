// Host wrappers for kernels/reduce.wgsl: sums of squares in two fixed-order stages
// (partials per workgroup, then one workgroup over the partials — bitwise reproducible,
// no atomics), the gradient-clip factor, and y ← αx + βy.
import type { Gpu } from "../gpu/device.ts";
import { grid1d, gridOp, requireSize } from "../gpu/grid.ts";
import { type BoundKernel, loadKernel, type Op } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";

export const REDUCE_WGSL = new URL("../../kernels/reduce.wgsl", import.meta.url);
const WG = 256;
/** Elements per thread before another workgroup is added (keeps partials few). */
const PER_THREAD = 16;

/** Partial sums (= workgroups) the first stage writes for n elements. */
export function partialCount(n: number): number {
  return Math.max(1, Math.min(256, Math.ceil(n / (WG * PER_THREAD))));
}

/**
 * partials[offset …] = Σ x² over each workgroup's strided share of the n elements of x
 * from xOff (default 0).
 */
export async function sumsqPartialOp(
  gpu: Gpu, t: { x: Tensor; partials: Tensor }, s: { n: number; offset?: number; xOff?: number }, opts: { label?: string } = {},
): Promise<Op> {
  const groups = partialCount(s.n), offset = s.offset ?? 0, xOff = s.xOff ?? 0;
  const name = `${opts.label ?? "sumsq"}.partial(n=${s.n})`;
  requireSize(name, "x", t.x, xOff + s.n);
  requireSize(name, "partials", t.partials, offset + groups);
  const k = await loadKernel(gpu, { url: REDUCE_WGSL, entry: "sumsq_partial" });
  return gridOp(k.bind({ x: t.x, partials: t.partials }, { n: s.n, offset, x_off: xOff, alpha: 0, beta: 0 }, name), [groups, 1]);
}

/** out[0] = Σ partials[0 … n). */
export async function sumPartialsOp(
  gpu: Gpu, t: { partials: Tensor; out: Tensor }, s: { n: number }, opts: { label?: string } = {},
): Promise<Op> {
  const name = `${opts.label ?? "sumsq"}.sum(n=${s.n})`;
  requireSize(name, "partials", t.partials, s.n);
  requireSize(name, "out", t.out, 1);
  const k = await loadKernel(gpu, { url: REDUCE_WGSL, entry: "sum_partials" });
  return gridOp(k.bind({ partials: t.partials, out: t.out }, { n: s.n, offset: 0, x_off: 0, alpha: 0, beta: 0 }, name), [1, 1]);
}

/** out[0] = Σ x² of the n elements from xOff (partials: ≥ partialCount(n) floats of scratch). */
export async function sumOfSquaresOps(
  gpu: Gpu, t: { x: Tensor; partials: Tensor; out: Tensor }, s: { n: number; xOff?: number }, opts: { label?: string } = {},
): Promise<Op[]> {
  return [
    await sumsqPartialOp(gpu, { x: t.x, partials: t.partials }, { n: s.n, xOff: s.xOff }, opts),
    await sumPartialsOp(gpu, { partials: t.partials, out: t.out }, { n: partialCount(s.n) }, opts),
  ];
}

export interface ClipFactorOp extends Op {
  setMaxNorm(maxNorm: number): void;
}

/** From Σ g² in state[0]: state[1] = ‖g‖, state[2] = min(1, maxNorm / (‖g‖ + 1e-6)) (maxNorm ≤ 0: 1). */
export async function clipFactorOp(gpu: Gpu, t: { state: Tensor }, opts: { maxNorm: number; label?: string }): Promise<ClipFactorOp> {
  const name = opts.label ?? "clip_factor";
  requireSize(name, "state", t.state, 3);
  const k = await loadKernel(gpu, { url: REDUCE_WGSL, entry: "clip_factor" });
  const params = (maxNorm: number) => ({ n: 0, offset: 0, x_off: 0, alpha: maxNorm, beta: 0 });
  const bound: BoundKernel = k.bind({ out: t.state }, params(opts.maxNorm), name);
  return { ...gridOp(bound, [1, 1]), setMaxNorm: (maxNorm) => bound.setParams(params(maxNorm)) };
}

/** y ← alpha·x + beta·y over the first n elements. */
export async function axpbyOp(
  gpu: Gpu, t: { x: Tensor; y: Tensor }, s: { n: number }, opts: { alpha: number; beta: number; label?: string },
): Promise<Op> {
  const name = `${opts.label ?? "axpby"}(n=${s.n})`;
  requireSize(name, "x", t.x, s.n);
  requireSize(name, "y", t.y, s.n);
  const k = await loadKernel(gpu, { url: REDUCE_WGSL, entry: "axpby" });
  return gridOp(k.bind({ x: t.x, y: t.y }, { n: s.n, offset: 0, x_off: 0, alpha: opts.alpha, beta: opts.beta }, name), grid1d(gpu, s.n, WG, name));
}
