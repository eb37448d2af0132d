// Learning-rate and Muon-momentum schedules (nanochat base_train): pure functions of the step.

export interface LrSchedule {
  /** Total optimizer steps N (the loop runs steps 0…N; the update at step N is not taken). */
  numIterations: number;
  warmupRatio: number;
  warmdownRatio: number;
  finalLrFrac: number;
}

export const BASE_SCHEDULE: Omit<LrSchedule, "numIterations"> = { warmupRatio: 0, warmdownRatio: 0.2, finalLrFrac: 0 };

/**
 * LR multiplier at step `it`: linear warmup over round(warmup·N) steps, then 1, then over
 * the last round(warmdown·N) steps linearly down to finalLrFrac.
 */
export function lrMultiplier(it: number, s: LrSchedule): number {
  const N = s.numIterations;
  const warmup = Math.round(s.warmupRatio * N);
  const warmdown = Math.round(s.warmdownRatio * N);
  if (it < warmup) return (it + 1) / warmup;
  if (it <= N - warmdown) return 1;
  const progress = (N - it) / warmdown;
  return progress * 1 + (1 - progress) * s.finalLrFrac;
}

/** Muon momentum: 0.85 → 0.95 linearly over the first 300 steps. */
export function muonMomentum(it: number): number {
  const frac = Math.min(it / 300, 1);
  return (1 - frac) * 0.85 + frac * 0.95;
}

/** The reference's width scaling of the AdamW learning rates: (n_embd / 768)^-0.5. */
export function adamLrScale(nEmbd: number): number {
  return (nEmbd / 768) ** -0.5;
}
