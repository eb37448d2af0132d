// d12: nanochat's small research model on one GPU. depth 12 → n_embd 768, 6 heads,
// vocab 65536: 185,597,952 params, 1.038e9 FLOPs/token. Horizon: the reference's
// tokens:params ratio 20 → (20·185,597,952) // 524,288 = 7,080 steps of 524,288 tokens
// (3.7B tokens, ≈ 3.85e18 FLOPs).
//
// Memory (estimateTrainingMemory, fp32 everywhere): params + grads + AdamW/Muon state
// 2.5 GiB, activations 0.69 MiB per token → device batch 16 × 2048 ≈ 24.7 GiB in all,
// for 32 GB cards and up; grad accumulation 16. On a 24 GB card use
// --device-batch-size 8 (13.6 GiB, accumulation 32); on an 80 GB H100, 32 (46.8 GiB).
// The result is the same: only the number of micro-steps per optimizer step changes.
import type { RunConfig } from "../src/train/run_config.ts";

const d12: Partial<RunConfig> = {
  run: "d12",
  depth: 12,
  max_seq_len: 2048,
  device_batch_size: 16,
  total_batch_size: 524288,
  target_param_data_ratio: 20,
  checkpoint_every: 500,
  keep_last: 3,
};

export { mid, pipeline, rl, sft } from "./d20.ts";

export default d12;
