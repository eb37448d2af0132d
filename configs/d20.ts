// d20: the reference speedrun model (nanochat's "$100 tier"): depth 20 → n_embd 1280,
// 10 heads, vocab 65536: 560,988,160 params, 3.4918e9 FLOPs/token. Horizon: ratio 20 →
// (20·560,988,160) // 524,288 = 21,400 steps (11.2B tokens, ≈ 3.92e19 FLOPs), LR flat
// through step 17,120 then down to 0.
//
// device_batch_size 32 is the reference's (bf16 activations, 8×H100, so no accumulation).
// This lab keeps activations in fp32: estimateTrainingMemory puts batch 32 × 2048 at
// ≈ 126 GiB, more than one 80 GB GPU holds. On one H100 pass --device-batch-size 8
// (≈ 36.7 GiB, accumulation 32) or 16 (≈ 66.4 GiB, accumulation 16); the optimizer sees
// the same 524,288-token batches either way. Each checkpoint is ≈ 5.2 GB (2.2 GB weights
// + 2.9 GB optimizer state), hence keep_last 2.
import type { RunConfig } from "../src/train/run_config.ts";

const d20: Partial<RunConfig> = {
  run: "d20",
  depth: 20,
  max_seq_len: 2048,
  device_batch_size: 32,
  total_batch_size: 524288,
  target_param_data_ratio: 20,
  checkpoint_every: 1000,
  keep_last: 2,
};

/** The chat stages on the reference's data (download it first: `deno task data tasks --download all`). */
export const mid: Partial<RunConfig> = { mixture: "reference-mid" };
export const sft: Partial<RunConfig> = { mixture: "reference-sft" };
/** RL on GSM8K, as the reference (its sampling and schedule defaults). */
export const rl: Partial<RunConfig> = { mixture: "gsm8k" };
/** `deno task pipeline`: the reference's six chat tasks (ChatCORE) on every stage. */
export const pipeline = { evalTasks: "arc-easy,arc-challenge,mmlu,gsm8k,humaneval,spelling-bee", evalProblems: 0, evalMaxTokens: 512 };

export default d20;
