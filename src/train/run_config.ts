// Everything a training run takes, in one flat object with nanochat's base_train names
// (so it is what meta.json's user_config holds): the fields with their defaults and
// ranges, validation with messages that name the field and the allowed values, and the
// derived quantities (model dims, grad accumulation, horizon).
//
// One table (RUN_CONFIG_SPECS) drives validation here and the CLI flags and help text
// (src/cli/run_flags.ts), so they cannot drift. Presets: presets.ts; memory: memory.ts.
import { ConfigError, estimateFlopsPerToken, type GPTConfig, numParams, validateConfig } from "../model/config.ts";
import type { OptimizerConfig } from "../optim/optimizer.ts";
import type { LrSchedule } from "../optim/schedule.ts";

export interface RunConfig {
  run: string; runs_dir: string; data_dir: string; tokenizer_dir: string;
  depth: number; n_embd: number; n_head: number; n_kv_head: number; vocab_size: number; max_seq_len: number;
  device_batch_size: number; total_batch_size: number; world_size: number;
  num_iterations: number; target_flops: number; target_param_data_ratio: number;
  embedding_lr: number; unembedding_lr: number; matrix_lr: number; weight_decay: number; grad_clip: number;
  warmup_ratio: number; warmdown_ratio: number; final_lr_frac: number;
  eval_every: number; eval_tokens: number; sample_every: number; core_metric_every: number; core_metric_max_per_task: number;
  checkpoint_every: number; keep_last: number; seed: number;
  init_lr_frac: number; mixture: string; target_examples_per_step: number;
  qat: string;
}

/** A run config that cannot be used; also a ConfigError, so one catch serves both. */
export class RunConfigError extends ConfigError {
  override name = "RunConfigError";
}

export interface FieldSpec {
  kind: "int" | "number" | "string";
  help: string;
  min?: number;
  max?: number;
  /** A value outside [min, max] that means "off" / "derive it" (−1 or 0), and what it means. */
  unset?: [number, string];
  pattern?: [RegExp, string];
}

const NAME: [RegExp, string] = [/^$|^[A-Za-z0-9_][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' (it names a directory)"];
const PATH: [RegExp, string] = [/\S/, "a non-empty path"];

/** Each field's kind, range and help: the one table behind validation, flags and --help. */
export const RUN_CONFIG_SPECS: Readonly<Record<keyof RunConfig, FieldSpec>> = {
  run: { kind: "string", help: "run name: its directory is <runs_dir>/<run> (empty: d<depth>)", pattern: NAME },
  runs_dir: { kind: "string", help: "directory holding the runs", pattern: PATH },
  data_dir: { kind: "string", help: "directory of parquet shards (the last one is validation)", pattern: PATH },
  tokenizer_dir: { kind: "string", help: "tokenizer directory (deno task tok train writes it)", pattern: PATH },
  depth: { kind: "int", min: 1, max: 256, help: "transformer layers; also sets the width n_embd = 64·depth unless n_embd is given" },
  n_embd: { kind: "int", min: 2, max: 65536, unset: [0, "64·depth"], help: "model width" },
  n_head: { kind: "int", min: 1, max: 1024, unset: [0, "ceil(n_embd/128)"], help: "query heads" },
  n_kv_head: { kind: "int", min: 1, max: 1024, unset: [0, "n_head"], help: "key/value heads (GQA when fewer than n_head)" },
  vocab_size: { kind: "int", min: 2, max: 1 << 24, help: "vocabulary size; must equal the tokenizer's" },
  max_seq_len: { kind: "int", min: 1, max: 1 << 20, help: "tokens per sequence (the model's sequence_len)" },
  device_batch_size: { kind: "int", min: 1, max: 1 << 16, help: "sequences per forward/backward on each adapter" },
  total_batch_size: { kind: "int", min: 1, max: 2 ** 40, help: "tokens per optimizer step, over all adapters and micro-batches" },
  world_size: { kind: "int", min: 1, max: 64, help: "adapters training data-parallel" },
  num_iterations: { kind: "int", min: 1, max: 1e9, unset: [-1, "derive from target_flops or the ratio"], help: "optimizer steps (wins over target_flops and the ratio)" },
  target_flops: { kind: "number", min: 1, max: 1e30, unset: [-1, "use the ratio"], help: "training compute budget in FLOPs (used when num_iterations is -1)" },
  target_param_data_ratio: { kind: "number", min: 1e-6, max: 1e6, unset: [-1, "off"], help: "training tokens per parameter (used when both above are -1)" },
  embedding_lr: { kind: "number", min: 0, max: 100, help: "AdamW LR of transformer.wte (scaled by (n_embd/768)^-0.5)" },
  unembedding_lr: { kind: "number", min: 0, max: 100, help: "AdamW LR of lm_head (scaled by (n_embd/768)^-0.5)" },
  matrix_lr: { kind: "number", min: 0, max: 100, help: "Muon LR of the block matrices" },
  weight_decay: { kind: "number", min: 0, max: 1, help: "AdamW weight decay" },
  grad_clip: { kind: "number", min: 0, max: 1e6, help: "global gradient-norm clip (0: no clipping)" },
  warmup_ratio: { kind: "number", min: 0, max: 1, help: "fraction of steps warming the LR up from 0" },
  warmdown_ratio: { kind: "number", min: 0, max: 1, help: "fraction of final steps taking the LR down to final_lr_frac" },
  final_lr_frac: { kind: "number", min: 0, max: 1, help: "LR at the end, as a fraction of the initial LR" },
  eval_every: { kind: "int", min: 1, max: 1e9, unset: [-1, "only at the end"], help: "steps between validation bits-per-byte evaluations" },
  eval_tokens: { kind: "int", min: 1, max: 2 ** 40, help: "validation tokens per evaluation (whole batches of device_batch·seq·world)" },
  sample_every: { kind: "int", min: 1, max: 1e9, unset: [-1, "never"], help: "steps between greedy samples from the reference prompts" },
  core_metric_every: { kind: "int", min: 1, max: 1e9, unset: [-1, "never"], help: "steps between CORE evaluations" },
  core_metric_max_per_task: { kind: "int", min: 1, max: 1e9, unset: [-1, "all"], help: "examples per CORE task" },
  checkpoint_every: { kind: "int", min: 1, max: 1e9, unset: [-1, "only at the end and on Ctrl-C"], help: "steps between checkpoints" },
  keep_last: { kind: "int", min: 1, max: 1e6, unset: [-1, "keep all"], help: "checkpoints kept; older ones are deleted" },
  seed: { kind: "int", min: 0, max: 2 ** 32 - 1, help: "seed of init and sampling" },
  init_lr_frac: { kind: "number", min: 0, max: 1, help: "every group's LR is scaled by this (mid 1.0, SFT 0.02 in the reference)" },
  mixture: { kind: "string", help: "chat stages: the task mixture (deno task train mid --help lists them; empty: the stage's default)", pattern: [/^[a-z0-9-]*$/, "a mixture name: lowercase letters, digits and '-'"] },
  target_examples_per_step: { kind: "int", min: 1, max: 1 << 20, unset: [0, "not an SFT run"], help: "SFT: conversations per optimizer step (sets the gradient accumulation)" },
  qat: {
    kind: "string", pattern: [/^(mxfp4)?$/, "'mxfp4' or empty (off)"],
    help: "quantisation-aware training: mxfp4 runs each step's forward and backward on the blocks' matrices rounded to MXFP4, updating the float32 master weights (straight-through; src/train/qat.ts); empty: off",
  },
};

export const RUN_CONFIG_FIELDS = Object.keys(RUN_CONFIG_SPECS) as (keyof RunConfig)[];

/** nanochat base_train's defaults (§4 of the reference), plus the lab's paths. */
export const DEFAULT_RUN_CONFIG: Readonly<RunConfig> = Object.freeze({
  run: "", runs_dir: "runs", data_dir: "data/base_data", tokenizer_dir: "data/tokenizer",
  depth: 20, n_embd: 0, n_head: 0, n_kv_head: 0, vocab_size: 65536, max_seq_len: 2048,
  device_batch_size: 32, total_batch_size: 524288, world_size: 1,
  num_iterations: -1, target_flops: -1, target_param_data_ratio: 20,
  embedding_lr: 0.2, unembedding_lr: 0.004, matrix_lr: 0.02, weight_decay: 0, grad_clip: 1.0,
  warmup_ratio: 0, warmdown_ratio: 0.2, final_lr_frac: 0,
  eval_every: 250, eval_tokens: 20 * 524288, sample_every: 2000, core_metric_every: 2000, core_metric_max_per_task: 500,
  checkpoint_every: -1, keep_last: -1, seed: 42,
  init_lr_frac: 1, mixture: "", target_examples_per_step: 0, qat: "",
});

export interface ResolvedRunConfig {
  /** The merged, validated config (run name filled in): what meta.json's user_config holds. */
  config: RunConfig;
  model: GPTConfig;
  numParams: number;
  flopsPerToken: number;
  /** device_batch_size · max_seq_len · world_size: tokens of one micro-step over all adapters. */
  tokensPerMicroStep: number;
  gradAccumSteps: number;
  numIterations: number;
  /** Which setting fixed numIterations. */
  horizon: "num_iterations" | "target_flops" | "target_param_data_ratio";
  totalTokens: number;
  totalFlops: number;
  /** Validation batches per evaluation (per adapter). */
  evalSteps: number;
  schedule: Omit<LrSchedule, "numIterations">;
  optimizer: OptimizerConfig;
}

function describe(field: keyof RunConfig): string {
  const s = RUN_CONFIG_SPECS[field];
  if (s.kind === "string") return s.pattern![1];
  const range = `${s.kind === "int" ? "an integer" : "a number"} in [${s.min}, ${s.max}]`;
  return s.unset ? `${range}, or ${s.unset[0]} (${s.unset[1]})` : range;
}

/** Checks each field's type and range; throws naming the field and the allowed values. */
function checkField(field: keyof RunConfig, value: unknown): void {
  const s = RUN_CONFIG_SPECS[field];
  const fail = () => {
    throw new RunConfigError(`run config: ${field} must be ${describe(field)}, got ${JSON.stringify(value)}`);
  };
  if (s.kind === "string") {
    if (typeof value !== "string" || !s.pattern![0].test(value)) fail();
    return;
  }
  if (typeof value !== "number" || !Number.isFinite(value)) return fail();
  if (s.kind === "int" && !Number.isInteger(value)) fail();
  if (s.unset && value === s.unset[0]) return;
  if (value < s.min! || value > s.max!) fail();
}

/** Levenshtein distance ≤ 3 neighbours, for "did you mean". */
function closest(name: string): string | null {
  const d = (a: string, b: string) => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let prev = row[0];
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const cur = row[j];
        row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = cur;
      }
    }
    return row[b.length];
  };
  let best: [string, number] | null = null;
  for (const f of RUN_CONFIG_FIELDS) {
    const dist = d(name.replaceAll("-", "_"), f);
    if (dist <= 3 && (!best || dist < best[1])) best = [f, dist];
  }
  return best?.[0] ?? null;
}

/** Rejects keys that are not RunConfig fields (a typo in a preset must not be ignored). */
export function checkKnownFields(obj: Record<string, unknown>, source: string): void {
  for (const key of Object.keys(obj)) {
    if (!(key in RUN_CONFIG_SPECS)) {
      const hint = closest(key);
      throw new RunConfigError(`${source}: unknown field ${JSON.stringify(key)}${hint ? ` (did you mean ${hint}?)` : ""}; the fields are: ${RUN_CONFIG_FIELDS.join(", ")}`);
    }
  }
}

/** The GPT the config describes: the depth rule unless width/heads are given explicitly. */
export function modelFromRunConfig(c: RunConfig): GPTConfig {
  const n_embd = c.n_embd || 64 * c.depth;
  const n_head = c.n_head || Math.max(1, Math.ceil(n_embd / 128));
  const cfg = { sequence_len: c.max_seq_len, vocab_size: c.vocab_size, n_layer: c.depth, n_head, n_kv_head: c.n_kv_head || n_head, n_embd };
  try {
    return validateConfig(cfg);
  } catch (err) {
    throw new RunConfigError(`run config (depth ${c.depth} → n_embd ${n_embd}, n_head ${n_head}): ${(err as Error).message}`);
  }
}

/**
 * The number of optimizer steps, as the reference picks it: num_iterations if > 0, else
 * round(target_flops / (flops_per_token · total_batch)), else
 * floor(ratio · params / total_batch).
 */
export function trainingHorizon(c: RunConfig, nParams: number, flopsPerToken: number): { numIterations: number; horizon: ResolvedRunConfig["horizon"] } {
  let numIterations: number;
  let horizon: ResolvedRunConfig["horizon"];
  if (c.num_iterations > 0) {
    [numIterations, horizon] = [c.num_iterations, "num_iterations"];
  } else if (c.target_flops > 0) {
    [numIterations, horizon] = [Math.round(c.target_flops / (flopsPerToken * c.total_batch_size)), "target_flops"];
  } else if (c.target_param_data_ratio > 0) {
    [numIterations, horizon] = [Math.floor((c.target_param_data_ratio * nParams) / c.total_batch_size), "target_param_data_ratio"];
  } else {
    throw new RunConfigError("run config: no training horizon: set num_iterations, target_flops or target_param_data_ratio (they are all -1)");
  }
  if (numIterations < 1) {
    throw new RunConfigError(`run config: ${horizon} = ${c[horizon]} gives ${numIterations} iterations at total_batch_size ${c.total_batch_size}; raise it or lower total_batch_size`);
  }
  return { numIterations, horizon };
}

/** DEFAULT_RUN_CONFIG ← base (a preset) ← overrides (flags), validated, with everything derived. */
export function resolveRunConfig(base: Partial<RunConfig> = {}, overrides: Partial<RunConfig> = {}): ResolvedRunConfig {
  checkKnownFields(base, "run config");
  checkKnownFields(overrides, "run config overrides");
  const defined = (o: Partial<RunConfig>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const c = { ...DEFAULT_RUN_CONFIG, ...defined(base), ...defined(overrides) } as RunConfig;
  for (const f of RUN_CONFIG_FIELDS) checkField(f, c[f]);
  const fail = (msg: string): never => {
    throw new RunConfigError(`run config: ${msg}`);
  };
  const model = modelFromRunConfig(c);
  if (c.run === "") c.run = c.n_embd ? `L${c.depth}_C${model.n_embd}` : `d${c.depth}`;

  const micro = c.device_batch_size * c.max_seq_len * c.world_size;
  if (c.total_batch_size % micro !== 0) {
    const ok = [1, 2, 4, 8, 16, 32, 64, 128, 256].filter((b) => c.total_batch_size % (b * c.max_seq_len * c.world_size) === 0);
    fail(
      `total_batch_size (${c.total_batch_size}) must be divisible by device_batch_size·max_seq_len·world_size = ` +
        `${c.device_batch_size}·${c.max_seq_len}·${c.world_size} = ${micro}; use total_batch_size ${Math.max(1, Math.round(c.total_batch_size / micro)) * micro}` +
        (ok.length ? ` or device_batch_size one of ${ok.join(", ")}` : ""),
    );
  }
  if (c.qat && c.world_size > 1) fail(`qat (${c.qat}) trains on one adapter: the ranks of a world_size ${c.world_size} run would not round their weights; pass world_size 1`);
  if (c.warmup_ratio + c.warmdown_ratio > 1) fail(`warmup_ratio + warmdown_ratio (${c.warmup_ratio} + ${c.warmdown_ratio}) must be at most 1`);
  const evalSteps = Math.floor(c.eval_tokens / micro);
  if (evalSteps < 1) fail(`eval_tokens (${c.eval_tokens}) is less than one validation batch (device_batch_size·max_seq_len·world_size = ${micro}); use at least ${micro}`);

  const nParams = numParams(model);
  const flopsPerToken = estimateFlopsPerToken(model);
  const { numIterations, horizon } = trainingHorizon(c, nParams, flopsPerToken);
  return {
    config: c,
    model,
    numParams: nParams,
    flopsPerToken,
    tokensPerMicroStep: micro,
    gradAccumSteps: c.total_batch_size / micro,
    numIterations,
    horizon,
    totalTokens: numIterations * c.total_batch_size,
    totalFlops: numIterations * c.total_batch_size * flopsPerToken,
    evalSteps,
    schedule: { warmupRatio: c.warmup_ratio, warmdownRatio: c.warmdown_ratio, finalLrFrac: c.final_lr_frac },
    optimizer: {
      embeddingLr: c.embedding_lr * c.init_lr_frac, unembeddingLr: c.unembedding_lr * c.init_lr_frac, matrixLr: c.matrix_lr * c.init_lr_frac,
      weightDecay: c.weight_decay, gradClip: c.grad_clip, useMuon: true,
    },
  };
}
