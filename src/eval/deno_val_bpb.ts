// DENO-ONLY: bits per byte of a set of weights (not of a model already on the GPU): on the
// last parquet shard (the split `deno task data prepare` holds out) — what `eval base --bpb`
// and the precision experiment report — or on given batches (a chat run's own val split).
import { createLocalLoader } from "../data/deno_shards.ts";
import type { Gpu } from "../gpu/device.ts";
import type { GPTConfig } from "../model/config.ts";
import { GPT } from "../model/gpt.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import { type BpbBatch, type BpbResult, evaluateBpb, evaluateBpbOnLoader } from "./bpb.ts";

async function withModel<R>(gpu: Gpu, cfg: GPTConfig, params: Map<string, Float32Array>, B: number, T: number, use: (m: GPT) => Promise<R>): Promise<R> {
  const model = await GPT.create(gpu, cfg, { B, T });
  try {
    model.loadParams(params);
    return await use(model);
  } finally {
    model.destroy();
  }
}

/** Whole batches of batchSize × sequence_len from the validation shard's start. */
export function validationBpb(
  gpu: Gpu, cfg: GPTConfig, params: Map<string, Float32Array>, tok: Tokenizer, opts: { dataDir: string; tokens: number; batchSize: number },
): Promise<BpbResult> {
  const B = opts.batchSize, T = cfg.sequence_len;
  return withModel(gpu, cfg, params, B, T, async (model) => {
    const val = await createLocalLoader(opts.dataDir, "val", { tokenizer: tok, B, T });
    return await evaluateBpbOnLoader(model, val, Math.max(1, Math.floor(opts.tokens / (B * T))), tok.tokenBytes());
  });
}

/** Over `batches`, each B rows of T. */
export function batchesBpb(
  gpu: Gpu, cfg: GPTConfig, params: Map<string, Float32Array>, batches: readonly BpbBatch[], tokenBytes: Int32Array, shape: { B: number; T: number },
): Promise<BpbResult> {
  return withModel(gpu, cfg, params, shape.B, shape.T, (model) => evaluateBpb(model, batches, tokenBytes));
}
