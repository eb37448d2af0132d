// The reference's RL ("GRPO" reduced to on-policy REINFORCE with a mean baseline), the
// parts that are arithmetic on the host: advantages, the training rows built from sampled
// completions, and pass@k. The GPU side is the ordinary weighted loss (kernels/
// cross_entropy.wgsl): each target's weight is its sample's advantage, so the mean loss
//   Σ_t −A·log p(t) / (valid tokens in the micro-batch)
// is the reference's −pg_obj, and the loop's 1/micro-batches gradient scale supplies its
// division by passes × questions.
import { UserError } from "../util/errors.ts";

export class RlError extends UserError {
  override name = "RlError";
}

/** How `train rl` samples (its flags and a preset's `rlSampling` export; the reference's values by default). */
export interface RlSampling {
  /** Completions per problem (a multiple of device_batch_size). */
  samples: number;
  /** New tokens per completion at most (forced tool output counts). */
  maxNewTokens: number;
  temperature: number;
  topK: number;
  /** Held-out problems of each evaluation, and completions per problem (pass@1…k). */
  evalProblems: number;
  evalSamples: number;
}

export const RL_SAMPLING: RlSampling = { samples: 16, maxNewTokens: 256, temperature: 1, topK: 50, evalProblems: 400, evalSamples: 8 };

/** Each sample's reward minus the mean reward of its question's samples (no std division, as the reference). */
export function advantages(rewards: readonly number[]): number[] {
  if (rewards.length === 0) return [];
  for (const r of rewards) if (!Number.isFinite(r)) throw new RlError(`reward ${r} is not a finite number`);
  const mean = rewards.reduce((s, r) => s + r, 0) / rewards.length;
  return rewards.map((r) => r - mean);
}

/** One sampled completion of a prompt: the generated ids and which of them the engine forced (tool output). */
export interface RlSample {
  tokens: readonly number[];
  forced: readonly boolean[];
}

/** Rows of one micro-batch: (B, T) inputs and targets (−1 = no loss) and each target's weight. */
export interface RlRows {
  B: number;
  T: number;
  inputs: Int32Array;
  targets: Int32Array;
  weights: Float32Array;
  /** Targets that carry loss (sampled tokens, not the prompt, forced tool output or padding). */
  valid: number;
}

/**
 * Training rows for samples of one prompt: row b is prompt + sample b, shifted by one into
 * inputs/targets and right-padded with `padId` to T positions. Only tokens the model
 * sampled are targets; the prompt, forced tool output and padding get −1. Every target of
 * row b weighs advantage b. A sample longer than T − prompt is cut (its tail is not trained).
 */
export function rlRows(prompt: readonly number[], samples: readonly RlSample[], advs: readonly number[], padId: number, T: number): RlRows {
  if (samples.length !== advs.length) throw new RlError(`${samples.length} samples but ${advs.length} advantages`);
  if (prompt.length === 0) throw new RlError("the prompt is empty");
  if (prompt.length >= T + 1) throw new RlError(`the prompt has ${prompt.length} tokens; rows hold ${T} (pass a shorter prompt or a longer --max-seq-len)`);
  const B = samples.length;
  const inputs = new Int32Array(B * T).fill(padId), targets = new Int32Array(B * T).fill(-1), weights = new Float32Array(B * T);
  let valid = 0;
  samples.forEach((s, b) => {
    if (s.forced.length !== s.tokens.length) throw new RlError(`sample ${b}: ${s.tokens.length} tokens but ${s.forced.length} forced flags`);
    const seq = [...prompt, ...s.tokens];
    // Position i predicts seq[i + 1]; it is trained when that token was sampled.
    for (let i = 0; i < Math.min(T, seq.length); i++) {
      inputs[b * T + i] = seq[i];
      const next = i + 1, gen = next - prompt.length;
      if (next < seq.length && gen >= 0 && !s.forced[gen]) {
        targets[b * T + i] = seq[next];
        weights[b * T + i] = advs[b];
        valid++;
      }
    }
  });
  return { B, T, inputs, targets, weights, valid };
}

/**
 * pass@k of one problem from n samples with c correct: the chance that at least one of k
 * samples drawn without replacement is correct, 1 − C(n−c, k)/C(n, k) (the unbiased
 * estimator of the Codex paper; with k = n it is "any correct").
 */
export function passAtK(n: number, c: number, k: number): number {
  if (!(Number.isInteger(n) && Number.isInteger(c) && Number.isInteger(k)) || n < 1 || c < 0 || c > n || k < 1 || k > n) {
    throw new RlError(`pass@k needs 1 ≤ k ≤ n and 0 ≤ c ≤ n, got n=${n} c=${c} k=${k}`);
  }
  if (n - c < k) return 1;
  let miss = 1;
  for (let i = n - c + 1; i <= n; i++) miss *= 1 - k / i;
  return 1 - miss;
}
