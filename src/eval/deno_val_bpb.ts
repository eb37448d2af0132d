// DENO-ONLY: validation bits per byte of a set of weights on the last parquet shard (the
// split `deno task data prepare` holds out), the number `eval base --bpb` and the precision
// experiment report: whole batches of batchSize × sequence_len from the shard's start.
import { createLocalLoader } from "../data/deno_shards.ts";
import type { Gpu } from "../gpu/device.ts";
import type { GPTConfig } from "../model/config.ts";
import { GPT } from "../model/gpt.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import { type BpbResult, evaluateBpbOnLoader } from "./bpb.ts";

export async function validationBpb(
  gpu: Gpu, cfg: GPTConfig, params: Map<string, Float32Array>, tok: Tokenizer, opts: { dataDir: string; tokens: number; batchSize: number },
): Promise<BpbResult> {
  const B = opts.batchSize, T = cfg.sequence_len;
  const model = await GPT.create(gpu, cfg, { B, T });
  try {
    model.loadParams(params);
    const val = await createLocalLoader(opts.dataDir, "val", { tokenizer: tok, B, T });
    return await evaluateBpbOnLoader(model, val, Math.max(1, Math.floor(opts.tokens / (B * T))), tok.tokenBytes());
  } finally {
    model.destroy();
  }
}
