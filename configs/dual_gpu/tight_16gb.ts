// Two adapters with 16 GB each, data parallel (world size 2), training the d20 reference
// model (see ../d20.ts for its numbers; same 524,288-token batch and 21,400 steps).
//
// Memory per adapter (estimateTrainingMemory; each adapter holds a full fp32 replica):
//   weights 2.09 GiB + gradients 2.09 GiB + AdamW m,v (wte, lm_head) 1.25 GiB
//   + Muon momentum 1.46 GiB + scratch ≈ 7.0 GiB fixed, plus 1.86 MiB of activations
//   per token: one 2048-token sequence = 3.7 GiB → 10.7 GiB (67% of 16 GiB).
//   Two sequences would be 14.5 GiB (90%): too tight once the driver, the pipeline cache
//   and fragmentation take their share (the estimate is a lower bound; presets stay
//   under 75%). So device batch 1, and 524,288 / (1·2048·2) = 128 micro-steps per step.
// A smaller model in the same tier: --depth 12 --device-batch-size 8 (13.6 GiB).
import type { RunConfig } from "../../src/train/run_config.ts";
import d20 from "../d20.ts";
export { mid, pipeline, rl, sft } from "../d20.ts";

const preset: Partial<RunConfig> = {
  ...d20,
  run: "d20_dual_16gb",
  world_size: 2,
  device_batch_size: 1,
};

export default preset;
