// DENO-ONLY: `deno task train base`, pretraining on the parquet shards: the packing loader
// over the train shards, validation bits per byte on the last shard, greedy samples of the
// reference's prompts. Everything around them is the shared stage (deno_stage.ts).
import { createLocalLoader } from "../data/deno_shards.ts";
import type { Gpu } from "../gpu/device.ts";
import { denoFiles } from "../io/deno_files.ts";
import { initParams } from "../model/params.ts";
import { loadTokenizer } from "../tokenizer/store.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import { runStage, type StageResult, TrainError } from "./deno_stage.ts";
import type { ResolvedRunConfig } from "./run_config.ts";
import { baseStageData } from "./stage.ts";

export interface BaseTrainOptions {
  resolved: ResolvedRunConfig;
  gpu: Gpu;
  resume: boolean;
  /** Greedy tokens per sample prompt. */
  sampleTokens?: number;
  /** The preset's name, recorded in run.json. */
  preset?: string;
  /** `--adapters` of a world_size > 1 run. */
  adapters?: string;
  log?: (line: string) => void;
}

export type BaseTrainResult = StageResult;

export async function loadRunTokenizer(r: ResolvedRunConfig): Promise<Tokenizer> {
  const tok = await loadTokenizer(denoFiles("."), r.config.tokenizer_dir);
  if (tok.vocabSize !== r.model.vocab_size) {
    throw new TrainError(
      `the tokenizer in ${r.config.tokenizer_dir} has ${tok.vocabSize} tokens but vocab_size is ${r.model.vocab_size}: ` +
        `pass --vocab-size ${tok.vocabSize}, or retrain it with 'deno task tok train --vocab ${r.model.vocab_size}'`,
    );
  }
  return tok;
}

export async function trainBase(opts: BaseTrainOptions): Promise<BaseTrainResult> {
  const { resolved: r } = opts, c = r.config;
  const B = c.device_batch_size, T = c.max_seq_len;
  const tok = await loadRunTokenizer(r);
  return await runStage({
    stage: "base", resolved: r, gpu: opts.gpu, resume: opts.resume, tok, log: opts.log, preset: opts.preset, adapters: opts.adapters,
    initialParams: () => initParams(r.model, c.seed),
    data: ({ sampler, checkpoint, model }) =>
      baseStageData({
        r, tok, model, sampler, checkpoint, sampleTokens: opts.sampleTokens, dataName: c.data_dir,
        open: (split, state) => createLocalLoader(c.data_dir, split, { tokenizer: tok, B, T }, state),
      }),
  });
}
