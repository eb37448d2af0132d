// tiny: the embedded default for a software adapter (Mesa lavapipe / SwiftShader on a
// 2-core CPU, ~1–2 GFLOP/s): the whole chat pipeline — base, mid, SFT — in a short sitting,
// with a model that visibly learns the chat format and calls the calculator.
// Expects a 4096-token tokenizer: `deno task tok train --vocab 4096` (train base makes it).
//
// Model: depth 2 → n_embd 128, 2 heads of 64 (n_head set here; the depth rule would give
//   1 head of 128), vocab 4096, seq 128.
//   params: wte 4096·128 = 524,288; per layer 12·128² = 196,608 (×2 = 393,216);
//           lm_head 524,288 → 1,441,792 in all.
//   FLOPs/token (nanochat's estimate): 6·(1,441,792 − 524,288) + 12·2·2·64·128
//           = 5,505,024 + 393,216 = 5.898e6 (what `deno task bench model` reports).
// Step: 8 sequences × 128 = 1,024 tokens (no accumulation) → 6.04 GFLOP forward+backward,
//   plus Muon's Newton–Schulz, which does not grow with the batch: 5 iterations over four
//   128×128 and two 128×512 matrices per layer ≈ 0.63 GFLOP/layer → 1.26 GFLOP.
//   ≈ 7.3 GFLOP/step → 4–5 s on a software adapter (docs/performance.md).
//
// Why these sizes: the 50 base steps (51k tokens) teach the model words, spacing and to
// copy tokens from its context (with 30, the chat model later copied operands badly and
// scored 6–11%). What the chat half needs is copying operands from a question into a
// calculator call, which this model learns abruptly and late in mid-training: mid's loss
// sits near 1.3, then falls to ~0.95 within ~60 steps. A mid run that ends before that
// leaves a model that calls the calculator with wrong operands ("37 times 91" → 33*92)
// and scores 1–2%. Measured (docs/chat.md): the drop came at step ~180 in one run and at
// ~210 in two others (one head of 128, and two of 64), so a 250-step mid was a coin toss;
// mid now has 338 steps (6,300 arithmetic conversations, tasks/deno_mixtures.ts), with
// ~120 steps of margin after the latest drop seen. Two heads of 64 instead of one of 128:
// the same FLOPs and a step ~10% faster on lavapipe (smaller attention tiles), which pays
// for part of the longer mid. SFT's 389 conversations run as 24 steps of 16 rows × 96
// tokens (the offline conversations are ≤ 80 tokens; padding to 128 would waste a third).
import type { RunConfig } from "../src/train/run_config.ts";

const tiny: Partial<RunConfig> = {
  run: "tiny",
  depth: 2,
  n_head: 2,
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
 * `deno task train rl`: on arithmetic-long (the arithmetic problems over 3–5 digit numbers,
 * which mid and SFT never show: SFT alone answers 37.5% of its 200 held-out problems,
 * against ~92% of the standard ones, so RL has room to show). 16 problems a step, 8 samples
 * each (one pass of 8 per problem), rows of 96 tokens, 12 steps, LRs × 0.25: greedy 37.5% →
 * 43.5% (and 41.5% → 50.3% on 400 more held-out problems; docs/chat.md has the runs). With
 * 8 problems a step, 16 steps at the reference's fraction (0.05) up to 0.25 stayed within
 * the noise of 200 problems and 0.5 collapsed it; 4 problems a step was mostly noise.
 * A problem whose 8 samples all score the same costs no training (its micro-batch is
 * skipped: every advantage is 0).
 * Held-out pass@1…4 on the 200 test problems at the start and the end.
 */
export const rl: Partial<RunConfig> = {
  eval_every: -1, checkpoint_every: 6, max_seq_len: 96, device_batch_size: 8, target_examples_per_step: 16, num_iterations: 12,
  init_lr_frac: 0.25, mixture: "arithmetic-long",
};

/** How `train rl` samples with this preset: arithmetic replies are ≤ 40 tokens. */
export const rlSampling = { samples: 8, maxNewTokens: 40, evalProblems: 200, evalSamples: 4 };

/**
 * `deno task pipeline` with this preset: the 200 held-out arithmetic-long problems (RL's
 * task) for every stage (greedy, calculator on), CORE on 100 items a task when the eval
 * bundle is there, and each stage's wall time on the 2-core development machine
 * (docs/performance.md), which the pipeline's ETA scales by this machine's speed.
 */
export const pipeline = {
  evalTasks: "arithmetic-long", evalProblems: 200, evalMaxTokens: 48, coreMaxPerTask: 100,
  secondsBase: 245, secondsMid: 1365, secondsSft: 155, secondsRl: 660, secondsEval: 185,
};

export default tiny;
