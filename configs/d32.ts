// d32: nanochat's run1000 tier (~$800 on 8×H100, ~33 h): depth 32 → n_embd 2048, 16 heads,
// vocab 65536: 1,879,048,192 params, 1.2080e10 FLOPs/token. Horizon: ratio 20 →
// (20·1,879,048,192) // 524,288 = 71,680 steps (37.6B tokens), 800 FineWeb-Edu shards.
//
// device_batch_size 8 is the reference's. Memory here (fp32 everywhere,
// estimateTrainingMemory): params + grads + AdamW/Muon state 22 GiB, activations
// 9.3 GiB per sequence of 2048 → device batch 8 ≈ 97 GiB (an H200 or a 141 GB card);
// on an 80 GB GPU pass --device-batch-size 4 (≈ 60 GiB, accumulation 64). Each checkpoint
// is ≈ 15 GB (weights + optimizer state), hence keep_last 2.
import type { RunConfig } from "../src/train/run_config.ts";
export { mid, pipeline, rl, sft } from "./d20.ts";

const d32: Partial<RunConfig> = {
  run: "d32",
  depth: 32,
  max_seq_len: 2048,
  device_batch_size: 8,
  total_batch_size: 524288,
  target_param_data_ratio: 20,
  checkpoint_every: 1000,
  keep_last: 2,
};

export default d32;
