// Two adapters with 26 GB (or more) each, data parallel (world size 2), training the d20
// reference model (see ../d20.ts: 524,288-token batches, 21,400 steps).
//
// Memory per adapter (estimateTrainingMemory; each adapter holds a full fp32 replica):
//   ≈ 7.0 GiB fixed (weights, gradients, AdamW m/v for wte and lm_head, Muon momentum,
//   scratch) + 1.86 MiB of activations per token. Device batch 2 × 2048 tokens = 7.4 GiB
//   → 14.4 GiB (56% of 26 GiB): stable, with room for the driver, the pipeline cache,
//   fragmentation and the evaluation/sampling path. Batch 4 would be 21.9 GiB (84%),
//   over the 75% line presets keep. Accumulation 524,288 / (2·2048·2) = 64.
import type { RunConfig } from "../../src/train/run_config.ts";
import d20 from "../d20.ts";
export { mid, pipeline, rl, sft } from "../d20.ts";

const preset: Partial<RunConfig> = {
  ...d20,
  run: "d20_dual_26gb",
  world_size: 2,
  device_batch_size: 2,
};

export default preset;
