// Shared by the kernel tests under Deno (tests/kernels/*.test.ts) and in Chromium
// (tests/browser/): a case runs a kernel on fresh random data, with its outputs
// poisoned (NaN) beforehand, and compares the result to a float64 CPU reference.
import type { Gpu } from "../../src/gpu/device.ts";
import type { GPTConfig } from "../../src/model/config.ts";
import { initParams } from "../../src/model/params.ts";
import { Rng } from "../../src/util/rng.ts";

export interface CaseResult {
  /** ‖out − ref‖ / ‖ref‖ (or the largest of several outputs' errors). */
  relErr: number;
  /** The bound the case must stay under. */
  bound: number;
  detail?: string;
}

export interface KernelCase {
  name: string;
  run(gpu: Gpu): Promise<CaseResult>;
}

let seedCounter = 0x5eed;
/** A new seed per call, so every case gets different (but reproducible) data. */
export function freshRng(): Rng {
  return new Rng(seedCounter++);
}

/**
 * nanochat's init (seeded), then the zero-initialised matrices filled uniformly in ±spread
 * and lm_head scaled up, so every layer shapes the logits and every gradient path carries
 * signal (the model and engine tests).
 */
export function nudgedParams(cfg: GPTConfig, seed: number, spread: number, lmHeadScale: number): Map<string, Float32Array> {
  const params = initParams(cfg, seed);
  const rng = new Rng(seed + 1);
  for (const [name, w] of params) {
    if (w.every((x) => x === 0)) for (let i = 0; i < w.length; i++) w[i] = (rng.uniform() * 2 - 1) * spread;
    if (name === "lm_head.weight") for (let i = 0; i < w.length; i++) w[i] *= lmHeadScale;
  }
  return params;
}

/** Uniform in [-1, 1), never all zeros. */
export function randomF32(rng: Rng, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.uniform() * 2 - 1) * scale;
  return out;
}

export function relErr(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (out.length !== ref.length) throw new Error(`length mismatch: got ${out.length}, expected ${ref.length}`);
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = out[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  // NaN anywhere (a poisoned element never written) makes num NaN: report Infinity.
  if (!Number.isFinite(num)) return Infinity;
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** Float64 reference: C[b] = alpha·op(A[b])·op(B[b]) (+ C0), matrices packed per batch. */
export function matmulRef(
  a: ArrayLike<number>, b: ArrayLike<number>, M: number, N: number, K: number,
  o: { transA?: boolean; transB?: boolean; batch?: number; alpha?: number; c0?: ArrayLike<number> } = {},
): Float64Array {
  const batch = o.batch ?? 1, alpha = o.alpha ?? 1;
  const c = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    const ao = z * M * K, bo = z * K * N, co = z * M * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = o.transA ? a[ao + k * M + m] : a[ao + m * K + k];
          const bv = o.transB ? b[bo + n * K + k] : b[bo + k * N + n];
          s += av * bv;
        }
        c[co + m * N + n] = alpha * s + (o.c0 ? o.c0[co + m * N + n] : 0);
      }
    }
  }
  return c;
}

export function assertCase(name: string, r: CaseResult): void {
  if (!(r.relErr < r.bound)) {
    throw new Error(`${name}: relative error ${r.relErr.toExponential(3)} is not under ${r.bound}${r.detail ? ` (${r.detail})` : ""}`);
  }
}
