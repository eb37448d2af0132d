// Float64 CPU reference: lm_head → logit softcap → cross-entropy with ignore_index −1,
// forward and backward, plus each piece on its own.
//
//   z = x·Wᵀ (N,V);  logits = cap·tanh(z/cap), cap = 15;
//   loss = Σ_{n: target_n ≠ −1} w_n·(logsumexp(logits_n) − logits_n[target_n]) / #supervised
// with row weights w (default 1; RL's advantages).
//
// When no row is supervised the mean is 0/0: PyTorch returns NaN; we return loss 0 and zero
// gradients, as the GPU kernel does (it scales by 1/count with count 0 → scale 0), so a
// fully-masked micro-batch adds nothing instead of poisoning the step.
import { expectLength, linearBackward, linearForward, type Vec } from "./linalg.ts";

export const SOFTCAP = 15;

/** logits = cap·tanh(z/cap) elementwise; cap ≤ 0 means no softcap (logits = z), as the kernel's. */
export function softcapForward(z: Vec, cap = SOFTCAP): Float64Array {
  const y = new Float64Array(z.length);
  for (let i = 0; i < z.length; i++) y[i] = cap > 0 ? cap * Math.tanh(z[i] / cap) : z[i];
  return y;
}

/** dz = dlogits · (1 − tanh(z/cap)²); dz = dlogits without a softcap (cap ≤ 0). */
export function softcapBackward(dy: Vec, z: Vec, cap = SOFTCAP): Float64Array {
  expectLength("softcapBackward dy", dy, z.length);
  const dz = new Float64Array(z.length);
  for (let i = 0; i < z.length; i++) {
    const t = cap > 0 ? Math.tanh(z[i] / cap) : 0;
    dz[i] = dy[i] * (1 - t * t);
  }
  return dz;
}

function checkTargets(what: string, targets: Vec, N: number, V: number): number {
  expectLength(`${what} targets (N)`, targets, N);
  let count = 0;
  for (let n = 0; n < N; n++) {
    const y = targets[n];
    if (!Number.isInteger(y) || y < -1 || y >= V) throw new RangeError(`${what}: target ${y} at ${n} is outside [−1, ${V})`);
    if (y !== -1) count++;
  }
  return count;
}

/** Row n's logsumexp, shifted by the row max for stability. */
function rowLogSumExp(logits: Vec, n: number, V: number): number {
  let m = -Infinity;
  for (let j = 0; j < V; j++) m = Math.max(m, logits[n * V + j]);
  let s = 0;
  for (let j = 0; j < V; j++) s += Math.exp(logits[n * V + j] - m);
  return m + Math.log(s);
}

/**
 * Cross-entropy over rows of logits (N,V). losses (N): per-row loss, 0 where target = −1;
 * loss: their sum / count (0 when count = 0); count: supervised rows.
 */
export function crossEntropyForward(
  logits: Vec, targets: Vec, N: number, V: number, weights?: Vec,
): { loss: number; losses: Float64Array; count: number } {
  expectLength("crossEntropyForward logits (N,V)", logits, N * V);
  const count = checkTargets("crossEntropyForward", targets, N, V);
  const losses = new Float64Array(N);
  let sum = 0;
  for (let n = 0; n < N; n++) {
    if (targets[n] === -1) continue;
    losses[n] = (weights ? weights[n] : 1) * (rowLogSumExp(logits, n, V) - logits[n * V + targets[n]]);
    sum += losses[n];
  }
  return { loss: count > 0 ? sum / count : 0, losses, count };
}

/**
 * dlogits (N,V) of the mean loss: (softmax(logits_n) − onehot(target_n)) · gradScale / count
 * on supervised rows, 0 on ignored rows. gradScale multiplies the loss's gradient (e.g.
 * 1/accumulation steps).
 */
export function crossEntropyBackward(
  logits: Vec, targets: Vec, N: number, V: number, opts: { gradScale?: number; weights?: Vec } = {},
): Float64Array {
  expectLength("crossEntropyBackward logits (N,V)", logits, N * V);
  const count = checkTargets("crossEntropyBackward", targets, N, V);
  const dl = new Float64Array(N * V);
  if (count === 0) return dl;
  for (let n = 0; n < N; n++) {
    if (targets[n] === -1) continue;
    const scale = ((opts.gradScale ?? 1) * (opts.weights ? opts.weights[n] : 1)) / count;
    const l = rowLogSumExp(logits, n, V);
    for (let j = 0; j < V; j++) dl[n * V + j] = Math.exp(logits[n * V + j] - l) * scale;
    dl[n * V + targets[n]] -= scale;
  }
  return dl;
}

export interface LmHeadLossResult {
  loss: number;
  losses: Float64Array;
  count: number;
  /** lm_head output before the softcap, (N,V). */
  z: Float64Array;
  /** Softcapped logits, (N,V): what inference samples from. */
  logits: Float64Array;
}

/** x (N,C) final normed hidden states, w (V,C) lm_head weight, targets (N) with −1 ignored. */
export function lmHeadLossForward(
  x: Vec, w: Vec, targets: Vec, N: number, C: number, V: number, cap = SOFTCAP, weights?: Vec,
): LmHeadLossResult {
  const z = linearForward(x, w, N, C, V);
  const logits = softcapForward(z, cap);
  return { ...crossEntropyForward(logits, targets, N, V, weights), z, logits };
}

/**
 * Gradients of the mean loss (× gradScale):
 *   dLogits (N,V) w.r.t. the softcapped logits;
 *   dz (N,V) w.r.t. lm_head's output before the cap — what a fused kernel writes as "dlogits";
 *   dw (V,C) = dzᵀ·x;  dx (N,C) = dz·W.
 */
export function lmHeadLossBackward(
  x: Vec, w: Vec, targets: Vec, N: number, C: number, V: number,
  opts: { cap?: number; gradScale?: number; weights?: Vec } = {},
): { dLogits: Float64Array; dz: Float64Array; dw: Float64Array; dx: Float64Array } {
  const cap = opts.cap ?? SOFTCAP;
  const z = linearForward(x, w, N, C, V);
  const logits = softcapForward(z, cap);
  const dLogits = crossEntropyBackward(logits, targets, N, V, { gradScale: opts.gradScale, weights: opts.weights });
  const dz = softcapBackward(dLogits, z, cap);
  const { dx, dw } = linearBackward(dz, x, w, N, C, V);
  return { dLogits, dz, dw, dx };
}
