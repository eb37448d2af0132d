// DENO-ONLY: `deno task train mid` and `deno task train sft`, nanochat's chat stages, on the
// shared stage runner (deno_stage.ts). Each starts from the previous stage's checkpoint
// (--from RUN[/STEP], default the newest run of that stage) and writes its own run:
//
//   mid   conversations of a task mixture rendered and packed like pretraining: every
//         token is trained (the mask is ignored); one epoch; val bpb on the val mixture.
//   sft   one conversation per row, right-padded with <|assistant_end|>; only the
//         assistant's supervised tokens are targets; LRs × init_lr_frac (0.02); lrm falls
//         linearly to 0; Muon momentum fixed at 0.95; one epoch of the mixture.
import { type ConversationSource, MidPacker, type MidState, sftBatch } from "../data/chat_batches.ts";
import { evaluateBpb } from "../eval/bpb.ts";
import type { Gpu } from "../gpu/device.ts";
import { denoFiles } from "../io/deno_files.ts";
import type { LoadedCheckpoint } from "../formats/checkpoint.ts";
import { readRunInfo } from "./deno_metrics.ts";
import { loadTokenizer } from "../tokenizer/store.ts";
import { renderConversation } from "../tokenizer/chat.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import type { ExampleSource } from "../../tasks/common.ts";
import { buildMixture, type Mixture } from "../../tasks/deno_mixtures.ts";
import { latestCheckpoint, loadCheckpoint } from "./deno_checkpoint.ts";
import { runStage, type StageResult, TrainError } from "./deno_stage.ts";
import { DEFAULT_RUN_CONFIG, resolveRunConfig, type ResolvedRunConfig, RUN_CONFIG_FIELDS, type RunConfig } from "./run_config.ts";
import { stepDirName } from "../formats/checkpoint.ts";
import type { MicroBatch } from "./step.ts";

/** The stages that start from another stage's checkpoint (rl: src/train/deno_rl.ts). */
export type ChatStage = "mid" | "sft" | "rl";
const PREVIOUS: Record<ChatStage, string> = { mid: "base", sft: "mid", rl: "sft" };

/** The reference's settings for each chat stage (mid_train.py, chat_sft.py). */
export const STAGE_DEFAULTS: Record<ChatStage, Partial<RunConfig>> = {
  mid: { init_lr_frac: 1, eval_every: 150, weight_decay: 0, grad_clip: 0, warmup_ratio: 0, warmdown_ratio: 0.2, final_lr_frac: 0, mixture: "offline-mid" },
  sft: {
    init_lr_frac: 0.02, device_batch_size: 4, target_examples_per_step: 32, eval_every: 100, weight_decay: 0, grad_clip: 0,
    warmup_ratio: 0, warmdown_ratio: 1, final_lr_frac: 0, mixture: "offline-sft",
  },
  // chat_rl.py: 16 problems a step (× 16 samples, passes of 8), LRs × 0.05, lrm 1 − step/N; mixture names the RL task.
  rl: {
    init_lr_frac: 0.05, device_batch_size: 8, target_examples_per_step: 16, eval_every: 60, checkpoint_every: 60, weight_decay: 0, grad_clip: 0,
    warmup_ratio: 0, warmdown_ratio: 1, final_lr_frac: 0, mixture: "arithmetic",
  },
};
/** SFT's Muon momentum (the reference does not warm it up). */
const SFT_MOMENTUM = 0.95;

export interface ChatSource {
  run: string;
  runDir: string;
  dir: string;
  step: number;
  checkpoint: LoadedCheckpoint;
}

/** The run --from names, or the newest run of the previous stage that did not fail. */
export async function findSourceRun(runsDir: string, stage: ChatStage, from: string): Promise<string> {
  const want = PREVIOUS[stage];
  let run = from.split("/")[0];
  if (!run) {
    let best: { name: string; at: string } | null = null;
    for (const e of await Array.fromAsync(Deno.readDir(runsDir)).catch(() => [] as Deno.DirEntry[])) {
      if (!e.isDirectory) continue;
      const info = await readRunInfo(`${runsDir}/${e.name}`).catch(() => null);
      if (info?.stage === want && info.status !== "failed" && (!best || info.updated_at > best.at)) best = { name: e.name, at: info.updated_at };
    }
    if (!best) {
      throw new TrainError(`no ${want} run in ${runsDir}: train one first ('deno task train ${want}'), or pass --from RUN[/STEP]`);
    }
    run = best.name;
  }
  return run;
}

/** The preset the source run recorded in run.json (null when it recorded none). */
export async function sourcePreset(runsDir: string, stage: ChatStage, from: string): Promise<string | null> {
  const run = await findSourceRun(runsDir, stage, from);
  return (await readRunInfo(`${runsDir}/${run}`).catch(() => null))?.preset ?? null;
}

/** --from RUN[/STEP] (STEP: a number or step_NNNNNN), or the newest run of the previous stage. */
export async function findSource(runsDir: string, stage: ChatStage, from: string): Promise<ChatSource> {
  const want = PREVIOUS[stage];
  const run = await findSourceRun(runsDir, stage, from), stepPart = from.split("/")[1] ?? "";
  const runDir = `${runsDir}/${run}`;
  let dir: string, step: number;
  if (stepPart) {
    step = Number(stepPart.replace(/^step_/, ""));
    if (!Number.isInteger(step) || step < 0) throw new TrainError(`--from ${from}: '${stepPart}' is not a step (a number or step_NNNNNN)`);
    dir = `${runDir}/checkpoints/${stepDirName(step)}`;
  } else {
    const latest = await latestCheckpoint(runDir);
    if (!latest) throw new TrainError(`--from ${run}: ${runDir} has no checkpoint; train it first or name another run`);
    ({ dir, step } = latest);
  }
  const checkpoint = await loadCheckpoint(dir);
  if (checkpoint.meta.stage && checkpoint.meta.stage !== want) {
    throw new TrainError(`--from ${from}: ${dir} is a ${checkpoint.meta.stage} checkpoint; ${stage} starts from a ${want} checkpoint`);
  }
  return { run, runDir, dir, step, checkpoint };
}

/** The stage's config: the source run's model and paths, the stage's defaults, then the flags. */
export function chatStageConfig(stage: ChatStage, source: ChatSource, overrides: Partial<RunConfig>, numIterations?: number): ResolvedRunConfig {
  const prev = source.checkpoint.meta.user_config as Partial<RunConfig>;
  const cfg = source.checkpoint.cfg;
  const inherited: Partial<RunConfig> = {};
  for (const f of ["runs_dir", "data_dir", "device_batch_size", "total_batch_size", "eval_tokens", "embedding_lr", "unembedding_lr", "matrix_lr", "seed"] as const) {
    if (prev && prev[f] !== undefined) (inherited as Record<string, unknown>)[f] = prev[f];
  }
  const model: Partial<RunConfig> = {
    depth: cfg.n_layer, n_embd: cfg.n_embd, n_head: cfg.n_head, n_kv_head: cfg.n_kv_head, vocab_size: cfg.vocab_size, max_seq_len: cfg.sequence_len,
    tokenizer_dir: `${source.runDir}/tokenizer`, run: `${source.run.replace(/-(base|mid|sft)$/, "")}-${stage}`,
  };
  const base = { ...inherited, ...model, ...STAGE_DEFAULTS[stage] };
  const merged = { ...DEFAULT_RUN_CONFIG, ...base, ...overrides } as RunConfig;
  // target_examples_per_step counts conversations over all ranks (as the reference's): each
  // of W ranks takes examples / W of them a step.
  if (stage === "sft") merged.total_batch_size = merged.target_examples_per_step * merged.max_seq_len;
  if (merged.max_seq_len > cfg.sequence_len) {
    const from = "max_seq_len" in overrides ? `--max-seq-len or the preset's '${stage}' export` : "the stage's default";
    throw new TrainError(`max_seq_len ${merged.max_seq_len} (from ${from}) is longer than the source model's sequence_len ${cfg.sequence_len}; pass --max-seq-len ${cfg.sequence_len} or less`);
  }
  const known = Object.fromEntries(Object.entries(merged).filter(([k]) => (RUN_CONFIG_FIELDS as string[]).includes(k))) as Partial<RunConfig>;
  const r = resolveRunConfig({}, { ...known, num_iterations: overrides.num_iterations && overrides.num_iterations > 0 ? overrides.num_iterations : numIterations ?? 1, target_flops: -1, target_param_data_ratio: -1 });
  // The model keeps the source's sequence_len (its rotary table); batches may be shorter.
  return { ...r, model: { ...r.model, sequence_len: cfg.sequence_len } };
}

/**
 * The batches a chat stage's evaluation scores: mid packs the val conversations into
 * eval_tokens / (B·T) rows of T (as it trains); SFT pads them one a row, as many rows (at most
 * that many) as the val split fills.
 */
export function chatValBatches(stage: "mid" | "sft", val: ConversationSource, o: { B: number; T: number; evalTokens: number; padId: number }): MicroBatch[] {
  const evalRows = Math.max(1, Math.floor(o.evalTokens / (o.B * o.T)));
  if (stage === "mid") {
    const packer = new MidPacker(val, o.B, o.T, { maxEpochs: Infinity });
    return Array.from({ length: evalRows }, () => packer.next()!);
  }
  const rows = (start: number) => Array.from({ length: o.B }, (_, k) => val.get((start + k) % val.length));
  return Array.from({ length: Math.max(1, Math.min(evalRows, Math.floor(val.length / o.B))) }, (_, k) => sftBatch(rows(k * o.B), o.padId, { T: o.T }));
}

/**
 * A chat run's own validation data, as its stage evaluates it: the val split of the run's
 * mixture (user_config.mixture, its stage's default when empty), rendered with `tok`.
 */
export async function chatValidation(stage: "mid" | "sft", c: Pick<RunConfig, "mixture" | "max_seq_len" | "device_batch_size" | "eval_tokens">, tok: Tokenizer): Promise<{ mixture: string; batches: MicroBatch[] }> {
  const mixture = await buildMixture(c.mixture, stage);
  const T = c.max_seq_len, val = renderedSource(mixture.val, tok, stage === "mid" ? Infinity : T + 1);
  return { mixture: mixture.name, batches: chatValBatches(stage, val, { B: c.device_batch_size, T, evalTokens: c.eval_tokens, padId: tok.specialId("<|assistant_end|>") }) };
}

/** Conversations of an example source, rendered on demand (mid packs them). */
function renderedSource(src: ExampleSource, tok: Tokenizer, maxTokens: number): ConversationSource {
  return { length: src.length, get: (i) => renderConversation(tok, src.example(i), maxTokens) };
}

export interface ChatTrainOptions {
  stage: ChatStage;
  gpu: Gpu;
  from: string;
  resume: boolean;
  overrides: Partial<RunConfig>;
  /** The preset whose stage export gave the overrides, recorded in run.json. */
  preset?: string;
  /** `--adapters` of a world_size > 1 run. */
  adapters?: string;
  log?: (line: string) => void;
}

/**
 * What every chat stage starts with: the source checkpoint (--from, or the newest run of the
 * previous stage), the stage's config before its length is known, and the source run's
 * tokenizer, checked against the one the checkpoint was trained with.
 */
export async function openChatSource(
  stage: ChatStage, from: string, overrides: Partial<RunConfig>,
): Promise<{ source: ChatSource; probe: ResolvedRunConfig; tok: Tokenizer }> {
  const runsDir = overrides.runs_dir ?? DEFAULT_RUN_CONFIG.runs_dir;
  const source = await findSource(runsDir, stage, from);
  const probe = chatStageConfig(stage, source, overrides);
  const tok = await loadTokenizer(denoFiles("."), probe.config.tokenizer_dir);
  if (source.checkpoint.meta.tokenizer && source.checkpoint.meta.tokenizer.hash !== tok.hash) {
    throw new TrainError(`${probe.config.tokenizer_dir} is not the tokenizer ${source.dir} was trained with; the run directory changed`);
  }
  return { source, probe, tok };
}

export async function trainChat(opts: ChatTrainOptions & { stage: "mid" | "sft" }): Promise<StageResult & { mixture: Mixture }> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const { source, probe, tok } = await openChatSource(opts.stage, opts.from, opts.overrides);
  const mixture = await buildMixture(probe.config.mixture, opts.stage);
  log(`${opts.stage}: mixture ${mixture.name}: ${mixture.train.length.toLocaleString("en-US")} train conversations (${mixture.describe}), ${mixture.val.length.toLocaleString("en-US")} val`);
  const T = probe.config.max_seq_len, B = probe.config.device_batch_size;
  const train = renderedSource(mixture.train, tok, opts.stage === "mid" ? Infinity : T + 1);
  const val = renderedSource(mixture.val, tok, opts.stage === "mid" ? Infinity : T + 1);
  const padId = tok.specialId("<|assistant_end|>");

  // One epoch: mid packs every token of every conversation; SFT takes examples_per_step rows a step.
  let numIterations: number;
  if (opts.stage === "mid") {
    let tokens = 0;
    for (let i = 0; i < train.length; i++) tokens += train.get(i).ids.length;
    numIterations = Math.max(1, Math.floor(tokens / probe.config.total_batch_size));
  } else {
    numIterations = Math.max(1, Math.floor(train.length / probe.config.target_examples_per_step));
  }
  const r = chatStageConfig(opts.stage, source, opts.overrides, numIterations);
  const c = r.config;
  const tokenBytes = tok.tokenBytes();

  const result = await runStage({
    stage: opts.stage, resolved: r, gpu: opts.gpu, resume: opts.resume, tok, log,
    source: `${source.run}/${stepDirName(source.step)}`, preset: opts.preset, adapters: opts.adapters,
    fixedMomentum: opts.stage === "sft" ? SFT_MOMENTUM : undefined,
    initialParams: () => source.checkpoint.params,
    data: ({ model, checkpoint }) => {
      const state = checkpoint?.meta.loader_state as MidState | { cursor: number } | null | undefined;
      if (opts.stage === "mid") {
        const packer = new MidPacker(train, B, T, { maxEpochs: Infinity }, (state as MidState | null) ?? undefined);
        return Promise.resolve({
          nextBatch: () => Promise.resolve(packer.next()!),
          evaluate: async () => {
            const res = await evaluateBpb(model, chatValBatches("mid", val, { B, T, evalTokens: c.eval_tokens, padId }), tokenBytes);
            return { bpb: res.bpb, loss: res.loss };
          },
          loaderState: () => packer.state(),
        });
      }
      let cursor = (state as { cursor: number } | null)?.cursor ?? 0;
      const rows = (from: ConversationSource, start: number, n: number) => Array.from({ length: n }, (_, k) => from.get((start + k) % from.length));
      return Promise.resolve({
        nextBatch: () => {
          const b = sftBatch(rows(train, cursor, B), padId, { T });
          cursor += B;
          return Promise.resolve(b);
        },
        evaluate: async () => {
          const res = await evaluateBpb(model, chatValBatches("sft", val, { B, T, evalTokens: c.eval_tokens, padId }), tokenBytes);
          return { bpb: res.bpb, loss: res.loss };
        },
        loaderState: () => ({ cursor }),
      });
    },
  });
  return { ...result, mixture };
}
