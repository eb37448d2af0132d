// tiny: the embedded default for a software adapter (Mesa lavapipe / SwiftShader on a
// 2-core CPU, ~2 GFLOP/s): about ten minutes of training that still visibly learns.
// Expects a 4096-token tokenizer: `deno task tok train --vocab 4096`.
//
// Model: depth 2 → n_embd 128, 1 head of 128 (the depth rule), vocab 4096, seq 128.
//   params: wte 4096·128 = 524,288; per layer 12·128² = 196,608 (×2 = 393,216);
//           lm_head 524,288 → 1,441,792 in all.
//   FLOPs/token (nanochat's estimate): 6·(1,441,792 − 524,288) + 12·2·1·128·128
//           = 5,505,024 + 393,216 = 5.898e6 (what `deno task bench model` reports).
// Step: 8 sequences × 128 = 1,024 tokens (no accumulation) → 6.04 GFLOP forward+backward,
//   plus Muon's Newton–Schulz, which does not grow with the batch: 5 iterations over four
//   128×128 and two 128×512 matrices per layer ≈ 0.63 GFLOP/layer → 1.26 GFLOP.
//   ≈ 7.3 GFLOP/step → 3.65 s at 2 GFLOP/s.
// 150 steps → 1.10 TFLOP ≈ 548 s; four evaluations (steps 0, 50, 100, 150) of 8,192 tokens
//   forward-only (~2e6 FLOPs/token) ≈ 66 GFLOP ≈ 33 s; greedy samples are dispatch-bound
//   and short. ≈ 10 minutes in all. 150·1,024 = 154k tokens is ~0.1 tokens per parameter,
//   far from converged, so the loss is still falling (from ln 4096 ≈ 8.3) when it ends.
import type { RunConfig } from "../src/train/run_config.ts";

const tiny: Partial<RunConfig> = {
  run: "tiny",
  depth: 2,
  vocab_size: 4096,
  max_seq_len: 128,
  device_batch_size: 8,
  total_batch_size: 1024,
  num_iterations: 150,
  eval_every: 50,
  eval_tokens: 8192,
  sample_every: 50,
  core_metric_every: -1,
  checkpoint_every: 50,
  keep_last: 2,
};

export default tiny;
