// Two 80 GB adapters (e.g. 2×H100), data parallel (world size 2), training the d20
// reference model (see ../d20.ts: 524,288-token batches, 21,400 steps).
//
// Memory per adapter (estimateTrainingMemory): ≈ 7.0 GiB fixed + 1.86 MiB per token.
// Device batch 8 × 2048 = 29.7 GiB of activations → 36.7 GiB (46% of 80 GiB); batch 16
// would be 66.4 GiB (83%), over the 75% line presets keep. Accumulation
// 524,288 / (8·2048·2) = 16. Larger micro-batches mean fewer, bigger dispatches, which is
// where a fast GPU earns its MFU.
import type { RunConfig } from "../../src/train/run_config.ts";
import d20 from "../d20.ts";
export { mid, pipeline, rl, sft } from "../d20.ts";

const preset: Partial<RunConfig> = {
  ...d20,
  run: "d20_dual_80gb",
  world_size: 2,
  device_batch_size: 8,
};

export default preset;
