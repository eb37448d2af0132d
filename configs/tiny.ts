// tiny: the embedded default for a software adapter (Mesa lavapipe / SwiftShader on a
// 2-core CPU, ~1–2 GFLOP/s): the whole chat pipeline — base, mid, SFT — in a short sitting,
// with a model that visibly learns the chat format and calls the calculator.
// Expects a 4096-token tokenizer: `deno task tok train --vocab 4096` (train base makes it).
//
// Model: depth 2 → n_embd 128, 1 head of 128 (the depth rule), vocab 4096, seq 128.
//   params: wte 4096·128 = 524,288; per layer 12·128² = 196,608 (×2 = 393,216);
//           lm_head 524,288 → 1,441,792 in all.
//   FLOPs/token (nanochat's estimate): 6·(1,441,792 − 524,288) + 12·2·1·128·128
//           = 5,505,024 + 393,216 = 5.898e6 (what `deno task bench model` reports).
// Step: 8 sequences × 128 = 1,024 tokens (no accumulation) → 6.04 GFLOP forward+backward,
//   plus Muon's Newton–Schulz, which does not grow with the batch: 5 iterations over four
//   128×128 and two 128×512 matrices per layer ≈ 0.63 GFLOP/layer → 1.26 GFLOP.
//   ≈ 7.3 GFLOP/step → 3.5–5 s on a software adapter (docs/performance.md).
//
// Why these sizes: the 50 base steps (51k tokens) teach the model words, spacing and to
// copy tokens from its context (with 30, the chat model later copied operands badly and
// scored 6–11% instead of 64.5%); what the chat half needs is copying operands from a
// question into a calculator call, and a 2-layer, 128-wide model needs ~250 steps of 1,024
// arithmetic tokens for that (half as wide never learned it in 300). So mid gets most of
// the budget: one epoch of offline-mid is 250 steps (tasks/deno_mixtures.ts), and SFT's
// 389 conversations run as 24 steps of 16 rows × 96 tokens (the offline conversations are
// ≤ 80 tokens; padding to 128 would waste a third of SFT). ≈ 335 step-equivalents in all:
// ~30 min at 4.5 s/step on the 2-core development machine (docs/performance.md).
import type { RunConfig } from "../src/train/run_config.ts";

const tiny: Partial<RunConfig> = {
  run: "tiny",
  depth: 2,
  vocab_size: 4096,
  max_seq_len: 128,
  device_batch_size: 8,
  total_batch_size: 1024,
  num_iterations: 50,
  eval_every: 25,
  eval_tokens: 8192,
  sample_every: 50,
  core_metric_every: -1,
  checkpoint_every: 25,
  keep_last: 2,
};

/** `deno task train mid` with this preset: one epoch of offline-mid, evaluated at the end. */
export const mid: Partial<RunConfig> = { eval_every: -1, mixture: "offline-mid" };

/** `deno task train sft`: 16 conversations a step in rows of 96 tokens. */
export const sft: Partial<RunConfig> = { eval_every: -1, mixture: "offline-sft", max_seq_len: 96, device_batch_size: 8, target_examples_per_step: 16 };

/**
 * `deno task train rl`: 4 problems a step, 8 samples each (one pass), rows of 96 tokens;
 * 20 steps, held-out pass@k at the start and the end.
 */
export const rl: Partial<RunConfig> = { eval_every: -1, checkpoint_every: 10, max_seq_len: 96, device_batch_size: 8, target_examples_per_step: 4, num_iterations: 20 };

/** How `train rl` samples with this preset: arithmetic replies are ≤ 40 tokens. */
export const rlSampling = { samples: 8, maxNewTokens: 40, evalProblems: 100, evalSamples: 4 };

/**
 * `deno task pipeline` with this preset: the 200 held-out arithmetic problems for every
 * stage (greedy, calculator on), and each stage's wall time on the 2-core development
 * machine (docs/performance.md), which the pipeline's ETA scales by this machine's speed.
 */
export const pipeline = { evalTasks: "arithmetic", evalProblems: 200, evalMaxTokens: 48, secondsBase: 270, secondsMid: 1260, secondsSft: 240, secondsRl: 600, secondsEval: 120 };

export default tiny;
