// Finite-difference gradient checks in float64, shared by the reference's own tests and
// by anything else that wants to check a backward against its forward.
import type { Rng } from "../../src/util/rng.ts";

/** n values ~ N(0, scale²) from rng. */
export function randn(rng: Rng, n: number, scale = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * scale;
  return out;
}

/** n values uniform in [lo, hi) from rng. */
export function randu(rng: Rng, n: number, lo = -1, hi = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng.uniform();
  return out;
}

/**
 * ∂loss/∂x[i] by the fourth-order central stencil
 *   (8·(f(x+h) − f(x−h)) − (f(x+2h) − f(x−2h))) / (12h),
 * whose O(h⁴) truncation error lets h be large enough (default 1e-4) that float64 rounding
 * in `loss` (≈ 1e-16·|loss|/h) stays far below 1e-6 of the gradients we check.
 * x[i] is perturbed in place and restored exactly before returning.
 */
export function numericGradAt(loss: () => number, x: Float64Array, i: number, h = 1e-4): number {
  const x0 = x[i];
  const f = (d: number) => {
    x[i] = x0 + d;
    const v = loss();
    x[i] = x0;
    return v;
  };
  return (8 * (f(h) - f(-h)) - (f(2 * h) - f(-2 * h))) / (12 * h);
}

/** Numeric gradient at the given indices (all of x when omitted). */
export function numericGrad(loss: () => number, x: Float64Array, indices?: number[], h = 1e-4): Float64Array {
  const idx = indices ?? Array.from({ length: x.length }, (_, i) => i);
  return Float64Array.from(idx, (i) => numericGradAt(loss, x, i, h));
}

/** Picks `k` distinct indices in [0, n) (all of them when k ≥ n), sorted. */
export function sampleIndices(rng: Rng, n: number, k: number): number[] {
  if (k >= n) return Array.from({ length: n }, (_, i) => i);
  const picked = new Set<number>();
  while (picked.size < k) picked.add(rng.int(n));
  return [...picked].sort((a, b) => a - b);
}

/**
 * max_i |a_i − b_i| / max_i |b_i|: the error relative to the largest numeric gradient, so
 * tiny entries (where a relative error per element means nothing) cannot dominate.
 * Returns 0 when both are all zeros, Infinity when only b is all zeros.
 */
export function maxRelError(analytic: ArrayLike<number>, numeric: ArrayLike<number>): number {
  if (analytic.length !== numeric.length) throw new RangeError(`maxRelError: lengths ${analytic.length} and ${numeric.length} differ`);
  let err = 0, scale = 0;
  for (let i = 0; i < numeric.length; i++) {
    err = Math.max(err, Math.abs(analytic[i] - numeric[i]));
    scale = Math.max(scale, Math.abs(numeric[i]));
  }
  if (!Number.isFinite(err)) return Infinity;
  if (scale === 0) return err === 0 ? 0 : Infinity;
  return err / scale;
}

/** Σ a·w: turns an op's output into a scalar whose gradient w.r.t. the output is w. */
export function dot(a: ArrayLike<number>, w: ArrayLike<number>): number {
  if (a.length !== w.length) throw new RangeError(`dot: lengths ${a.length} and ${w.length} differ`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * w[i];
  return s;
}

/** Values of `a` at the given indices. */
export function pick(a: ArrayLike<number>, indices: number[]): Float64Array {
  return Float64Array.from(indices, (i) => a[i]);
}

/**
 * Checks an op's backward against finite differences of its forward. The scalar is
 * L = Σ forward()·R with R random, so the backward is called with dy = R. `forward` must
 * read the arrays in `inputs` (they are perturbed in place); `backward(dy)` returns the
 * gradient of each input by the same key, computed from the unperturbed inputs.
 * Checks at most `maxEntries` sampled entries per input; returns maxRelError per input.
 * `h` is the stencil step: keep it well below the inputs' scale.
 */
export function checkOpGrad(
  rng: Rng,
  inputs: Record<string, Float64Array>,
  forward: () => Float64Array,
  backward: (dy: Float64Array) => Record<string, ArrayLike<number>>,
  opts: { maxEntries?: number; h?: number } = {},
): Record<string, number> {
  const R = randn(rng, forward().length);
  const analytic = backward(R);
  const errors: Record<string, number> = {};
  for (const [name, x] of Object.entries(inputs)) {
    const g = analytic[name];
    if (!g) throw new Error(`checkOpGrad: backward returned no gradient for ${name}`);
    if (g.length !== x.length) throw new RangeError(`checkOpGrad: gradient of ${name} has ${g.length} values, input has ${x.length}`);
    const idx = sampleIndices(rng, x.length, opts.maxEntries ?? 256);
    errors[name] = maxRelError(pick(g, idx), numericGrad(() => dot(forward(), R), x, idx, opts.h));
  }
  return errors;
}
