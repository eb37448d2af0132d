// Next-token sampling as the reference engine does it: temperature 0 → argmax; with
// top-k, keep the k largest logits, divide by the temperature, softmax, draw; otherwise a
// draw from softmax(logits / T). Draws come from the seeded Rng, so a seed fixes the text.
import type { Rng } from "../util/rng.ts";

export interface SamplingOptions {
  temperature: number;
  /** Keep only the k most likely tokens (undefined or ≤ 0: all). */
  topK?: number;
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** Indices of the k largest values, largest first (ties: lower index first). */
export function topKIndices(logits: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: logits.length }, (_, i) => i);
  if (k >= logits.length) return idx.sort((a, b) => logits[b] - logits[a] || a - b);
  // Partial selection: keep a sorted window of the best k (k is small, e.g. 50).
  const best: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (best.length === k && v <= logits[best[k - 1]]) continue;
    let j = best.length < k ? best.length : k - 1;
    if (best.length < k) best.push(i);
    while (j > 0 && logits[best[j - 1]] < v) {
      best[j] = best[j - 1];
      j--;
    }
    best[j] = i;
  }
  return best;
}

export function sampleToken(logits: ArrayLike<number>, opts: SamplingOptions, rng: Rng): number {
  const { temperature } = opts;
  checkTemperature(temperature);
  if (logits.length === 0) throw new RangeError("sampleToken: no logits");
  if (temperature === 0) return argmax(logits);
  const k = opts.topK && opts.topK > 0 ? Math.min(opts.topK, logits.length) : logits.length;
  const ids = k < logits.length ? topKIndices(logits, k) : null;
  return draw(ids ? ids.length : logits.length, (i) => logits[ids ? ids[i] : i], (i) => (ids ? ids[i] : i), temperature, rng);
}

/**
 * sampleToken over a row's top-k candidates alone (values best first, their ids), as the
 * GPU's top-k hands them over: the same draw from the same Rng state, so the same token as
 * sampleToken(full row, { temperature, topK: k }). Temperature 0 takes the first (argmax).
 */
export function sampleTopK(values: ArrayLike<number>, ids: ArrayLike<number>, temperature: number, rng: Rng): number {
  checkTemperature(temperature);
  if (values.length === 0 || values.length !== ids.length) throw new RangeError("sampleTopK: no candidates, or values and ids of different lengths");
  if (temperature === 0) return ids[0];
  return draw(values.length, (i) => values[i], (i) => ids[i], temperature, rng);
}

function checkTemperature(temperature: number): void {
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new RangeError(`temperature must be ≥ 0, got ${temperature}`);
}

/** One draw from softmax(value / temperature) over n candidates. */
function draw(n: number, valueAt: (i: number) => number, idAt: (i: number) => number, temperature: number, rng: Rng): number {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, valueAt(i) / temperature);
  const weights = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) total += weights[i] = Math.exp(valueAt(i) / temperature - max);
  let u = rng.uniform() * total;
  for (let i = 0; i < n; i++) {
    u -= weights[i];
    if (u < 0) return idAt(i);
  }
  return idAt(n - 1); // rounding left u ≥ 0: the last candidate
}
