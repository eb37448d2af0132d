// What a training stage is, runtime-agnostic: the loop settings a resolved config gives, where
// a (resumed) loop starts, what a checkpoint holds, and the base stage's data (the packing
// loader's batches, validation bits per byte, greedy samples). `deno task train`
// (deno_stage.ts, deno_base.ts) and the lab's in-tab training (web/src/train_worker.ts) both
// build on these, so a run started in the page and resumed by the CLI (or the other way
// round) sees the same schedule, the same batches and the same checkpoint contents.
import type { DataLoader, LoaderState } from "../data/loader.ts";
import { evaluateBpbOnLoader } from "../eval/bpb.ts";
import type { CheckpointData, LoadedCheckpoint } from "../formats/checkpoint.ts";
import type { GPTConfig } from "../model/config.ts";
import type { GPT } from "../model/gpt.ts";
import type { InferenceGPT } from "../model/inference.ts";
import type { ModelOptimizer } from "../optim/optimizer.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import { UserError } from "../util/errors.ts";
import type { EvalResult, LoopConfig, LoopState } from "./loop.ts";
import type { ResolvedRunConfig } from "./run_config.ts";
import { greedySample, SAMPLE_PROMPTS } from "./sample.ts";
import type { MicroBatch } from "./step.ts";

export type Stage = "base" | "mid" | "sft" | "rl";

/** What a stage feeds the loop; made once the model exists (and the checkpoint, when resuming). */
export interface StageData {
  nextBatch(): Promise<MicroBatch>;
  /** Figures about the step's batches (RL: rewards), logged with its train record. */
  batchMetrics?(): Record<string, number>;
  evaluate?(step: number): Promise<EvalResult>;
  sample?(step: number): Promise<string[]>;
  /** Saved in meta.json so --resume continues the data where it stopped. */
  loaderState(): unknown;
  close?(): void;
}

/** The loop's settings for a resolved run config. */
export function loopConfigOf(r: ResolvedRunConfig, peakFlops: number, fixedMomentum?: number): LoopConfig {
  const c = r.config;
  return {
    numIterations: r.numIterations,
    // A world of W ranks takes W× the micro-batches per step (each rank its share): the same
    // batches, in the same order, as one adapter accumulating them all.
    gradAccumSteps: r.gradAccumSteps * c.world_size,
    schedule: r.schedule,
    evalEvery: c.eval_every > 0 ? c.eval_every : r.numIterations,
    sampleEvery: c.sample_every,
    checkpointEvery: c.checkpoint_every,
    tokensPerStep: c.total_batch_size,
    flopsPerToken: r.flopsPerToken,
    peakFlops,
    fixedMomentum,
  };
}

/** Where the loop starts: step 0, or the checkpoint's step with its smoothed loss, time and validation figures. */
export function startOf(ckpt: LoadedCheckpoint | null): { state: LoopState; firstValBpb: number | null } {
  return {
    state: {
      step: ckpt?.meta.step ?? 0,
      lossEma: (ckpt?.meta.metrics?.loss_ema_raw as number | undefined) ?? 0,
      trainSeconds: (ckpt?.meta.metrics?.train_seconds as number | undefined) ?? 0,
      lastValBpb: ckpt?.meta.val_bpb ?? null,
    },
    firstValBpb: (ckpt?.meta.metrics?.first_val_bpb as number | null | undefined) ?? null,
  };
}

export interface CheckpointParts {
  r: ResolvedRunConfig;
  model: GPT;
  opt: ModelOptimizer;
  tok: Tokenizer;
  stage: Stage;
  /** The run config as recorded (meta.json's user_config). */
  config: Record<string, unknown>;
  state: LoopState;
  loaderState: unknown;
  firstValBpb: number | null;
  source?: string;
}

/** Everything a checkpoint of the loop at `state` holds: weights, optimizer state, and the meta that resumes it. */
export async function checkpointDataOf(p: CheckpointParts): Promise<CheckpointData> {
  return {
    params: await p.model.readParams(),
    cfg: p.r.model as GPTConfig,
    optimizer: await p.opt.saveState(),
    meta: {
      user_config: p.config,
      val_bpb: p.state.lastValBpb,
      loader_state: p.loaderState,
      rng_state: null,
      metrics: { loss_ema_raw: p.state.lossEma, train_seconds: p.state.trainSeconds, first_val_bpb: p.firstValBpb },
      tokenizer: { hash: p.tok.hash, vocab_size: p.tok.vocabSize },
      stage: p.stage,
      source: p.source ?? "",
    },
  };
}

/** Opens the packing loader over the train or val shards (at a saved state, when resuming). */
export type OpenLoader = (split: "train" | "val", state?: LoaderState) => Promise<DataLoader>;

/**
 * The base stage's data: batches from the train shards (continuing the checkpoint's loader
 * state), validation bits per byte on a fresh val loader each time (as the reference does),
 * greedy samples of the reference's prompts.
 */
export async function baseStageData(opts: {
  r: ResolvedRunConfig;
  tok: Tokenizer;
  model: GPT;
  sampler: InferenceGPT;
  checkpoint: LoadedCheckpoint | null;
  open: OpenLoader;
  /** Greedy tokens per sample prompt. */
  sampleTokens?: number;
  /** Says where the training data is, for the error when it runs out. */
  dataName: string;
}): Promise<StageData> {
  const { r, tok, model, sampler } = opts;
  const train = await opts.open("train", (opts.checkpoint?.meta.loader_state ?? undefined) as LoaderState | undefined);
  const tokenBytes = tok.tokenBytes();
  return {
    nextBatch: async () => {
      const b = await train.next();
      if (!b) throw new UserError(`the training shards in ${opts.dataName} ran out`);
      return { inputs: b.inputs, targets: b.targets };
    },
    evaluate: async () => {
      // Rank 0 evaluates alone, over every rank's share of eval_tokens (the same batches as world 1).
      const res = await evaluateBpbOnLoader(model, await opts.open("val"), r.evalSteps * r.config.world_size, tokenBytes); // closes it
      return { bpb: res.bpb, loss: res.loss };
    },
    sample: async () => {
      const out: string[] = [];
      for (const p of SAMPLE_PROMPTS) out.push(await greedySample(sampler, tok, p, opts.sampleTokens ?? 16));
      return out;
    },
    loaderState: () => train.state(),
    close: () => train.close(),
  };
}
