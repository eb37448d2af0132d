// `deno task train base|mid|sft [--config NAME] [--flag value ...] [--resume]`
// base, with no arguments on a fresh machine: prepares the embedded shards and a tokenizer
// if they are missing, then trains configs/tiny.ts on the first WebGPU adapter.
// mid / sft: continue the newest run of the previous stage (or --from RUN[/STEP]) with the
// stage's reference settings, laid over by the preset's `mid` / `sft` export and the flags.
import { listShardFiles } from "../data/deno_shards.ts";
import { acquireGpu } from "../gpu/device.ts";
import { trainBase } from "../train/deno_base.ts";
import { type ChatStage, sourcePreset, STAGE_DEFAULTS, trainChat } from "../train/deno_chat.ts";
import type { StageResult } from "../train/deno_stage.ts";
import { RL_SAMPLING, RL_TASKS, type RlSampling, trainRl } from "../train/deno_rl.ts";
import { mixtureHelp } from "../../tasks/deno_mixtures.ts";
import { loadPresetConfig, loadRlSampling, loadStagePreset } from "../train/presets.ts";
import { DEFAULT_RUN_CONFIG, resolveRunConfig, type RunConfig } from "../train/run_config.ts";
import { type FlagTable, parseFlags, runMain, taskCommand, taskLine, UsageError } from "./args.ts";
import { overridesFromFlags, presetArg, rawFlag, runConfigFlags } from "./run_flags.ts";

const STAGES = ["base", "mid", "sft", "rl"];
const DEFAULT_PRESET = "tiny";

const EXTRA_FLAGS: FlagTable = {
  resume: { type: "boolean", default: false, help: "continue the run's latest checkpoint" },
  adapter: { type: "string", default: "", help: "WebGPU adapter name substring" },
  "no-prepare": { type: "boolean", default: false, help: "do not build missing shards/tokenizer; fail instead" },
  world: { type: "number", default: 0, min: 0, max: 64, integer: true, help: "ranks training data-parallel, one process and adapter each (same as --world-size; 0: the config's)" },
  adapters: { type: "string", default: "", help: "where the ranks run, one per rank or one for all: default, VENDOR:DEVICE (deno task adapters), swiftshader, icd:/path.json (docs/distributed.md)" },
  "sample-tokens": { type: "number", default: 16, help: "greedy tokens per sample prompt" },
};

/** --world N is --world-size N (the issue's and the reference's name for it). */
function withWorld(overrides: Partial<RunConfig>, f: Record<string, unknown>): Partial<RunConfig> {
  const w = f.world as number | undefined;
  if (!w) return overrides;
  if (overrides.world_size !== undefined && overrides.world_size !== w) throw new UsageError(`--world ${w} and --world-size ${overrides.world_size} disagree; pass one of them`);
  return { ...overrides, world_size: w };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}


/** Runs another task's CLI as a child process, so its progress output and errors show as they are. */
async function runChild(script: string, args: string[]): Promise<void> {
  console.log(`$ ${taskLine(script, args)}`);
  const status = await taskCommand(script, args, { stdout: "inherit", stderr: "inherit" }).spawn().status;
  if (!status.success) throw new UsageError(`'${taskLine(script, args)}' failed (exit ${status.code})`);
}

/** Builds what a first run needs: the embedded shards, then a tokenizer trained on them. */
async function prepareMissing(c: RunConfig): Promise<void> {
  // Two shards at least: the last one is validation.
  if ((await listShardFiles(c.data_dir)).length < 2) {
    console.log(`no shards in ${c.data_dir}: building them from the embedded corpus`);
    await runChild("src/cli/data.ts", ["prepare", "--dir", c.data_dir]);
  }
  if (!(await exists(`${c.tokenizer_dir}/tokenizer.json`))) {
    console.log(`no tokenizer in ${c.tokenizer_dir}: training one with vocab ${c.vocab_size} on the shards`);
    await runChild("src/cli/tok.ts", ["train", "--vocab", String(c.vocab_size), "--data-dir", c.data_dir, "--dir", c.tokenizer_dir]);
  }
}

runMain(async (args) => {
  const [stage, ...rest] = args;
  if (!stage || stage === "-h" || stage === "--help") {
    console.log(`usage: deno task train <stage> [flags]   stages: ${STAGES.join(", ")}\n\n'deno task train base --help' lists the flags.`);
    return;
  }
  if (!STAGES.includes(stage)) throw new UsageError(`unknown stage '${stage}'; stages: ${STAGES.join(", ")}`);
  if (stage === "mid" || stage === "sft" || stage === "rl") return await chatStage(stage, rest);
  const presetName = presetArg(rest) ?? DEFAULT_PRESET;
  const preset = await loadPresetConfig(presetName);
  const flags = { ...runConfigFlags({ ...DEFAULT_RUN_CONFIG, ...preset }), ...EXTRA_FLAGS };
  flags.config = { ...flags.config, default: presetName };
  const parsed = parseFlags(rest, "train base", `Pretrain a GPT on the parquet shards (preset: ${presetName}; flags override it).`, flags);
  if (!parsed) return;
  const f = parsed.flags as Record<string, unknown>;
  if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
  // Only flags given on the command line override the preset (defaults already are the preset's).
  const given = withWorld(overridesFromFlags(Object.fromEntries(Object.entries(f).filter(([k]) => rest.some((a) => a === `--${k}` || a.startsWith(`--${k}=`))))), f);
  const resolved = resolveRunConfig(preset, given);
  if (!f["no-prepare"]) await prepareMissing(resolved.config);
  const gpu = await acquireGpu({ adapterName: (f.adapter as string) || undefined });
  const result = await trainBase({ resolved, gpu, resume: !!f.resume, sampleTokens: f["sample-tokens"] as number, preset: presetName, adapters: f.adapters as string });
  if (result.stopped) {
    console.log(`stopped at step ${result.step}; continue with: deno task train base --config ${presetName} --run ${resolved.config.run} --resume`);
    return;
  }
  if (result.firstValBpb !== null && result.lastValBpb !== null) {
    const drop = 100 * (1 - result.lastValBpb / result.firstValBpb);
    console.log(`validation bits per byte: ${result.firstValBpb.toFixed(4)} at step 0 → ${result.lastValBpb.toFixed(4)} at step ${result.step} (${drop.toFixed(1)}% lower)`);
  }
  console.log(`done: ${result.runDir}`);
});

/** Flags of the chat stages: the run-config fields that can change after pretraining (not the model's shape). */
const CHAT_FIELDS = [
  "run", "runs_dir", "world_size", "mixture", "device_batch_size", "total_batch_size", "target_examples_per_step", "max_seq_len", "num_iterations",
  "embedding_lr", "unembedding_lr", "matrix_lr", "init_lr_frac", "weight_decay", "grad_clip", "warmup_ratio", "warmdown_ratio", "final_lr_frac",
  "eval_every", "eval_tokens", "checkpoint_every", "keep_last", "seed", "qat",
];

/**
 * The preset of a chat stage: --config, else the one the source run was trained with
 * (so a d12 base gets d12's stage settings), else tiny.
 */
async function chatPreset(stage: ChatStage, rest: string[]): Promise<{ name: string; why: string }> {
  const given = presetArg(rest);
  if (given) return { name: given, why: "--config" };
  const runsDir = rawFlag(rest, "runs-dir") ?? DEFAULT_RUN_CONFIG.runs_dir;
  // No source yet (or --help on a fresh machine): the default; trainChat reports the missing run.
  const recorded = await sourcePreset(runsDir, stage, rawFlag(rest, "from") ?? "").catch(() => null);
  return recorded ? { name: recorded, why: "the source run's preset" } : { name: DEFAULT_PRESET, why: "the default preset" };
}

async function chatStage(stage: ChatStage, rest: string[]): Promise<void> {
  const { name: presetName, why } = await chatPreset(stage, rest);
  const stagePreset = await loadStagePreset(presetName, stage);
  const all = runConfigFlags({ ...DEFAULT_RUN_CONFIG, ...STAGE_DEFAULTS[stage], ...stagePreset });
  const flags: FlagTable = { config: { ...all.config, default: presetName, help: `preset whose '${stage}' export holds this stage's settings (tiny, …)` } };
  for (const f of CHAT_FIELDS) flags[f.replaceAll("_", "-")] = all[f.replaceAll("_", "-")];
  flags.run = { ...flags.run, default: undefined, help: `run name (default: <source run>-${stage})` };
  // Fields the stage takes from the source run unless a flag or the preset sets them.
  const inherited = ["eval_tokens", "embedding_lr", "unembedding_lr", "matrix_lr", "seed", ...(stage === "mid" ? ["device_batch_size", "total_batch_size"] : [])];
  for (const k of inherited.filter((k) => !(k in stagePreset)).map((k) => k.replaceAll("_", "-"))) {
    flags[k] = { ...flags[k], default: undefined, help: `${flags[k].help} (default: the source run's)` };
  }
  if (stage === "sft") flags["total-batch-size"] = { ...flags["total-batch-size"], default: undefined, help: "set from target-examples-per-step × max-seq-len" };
  if (!("max_seq_len" in stagePreset)) flags["max-seq-len"] = { ...flags["max-seq-len"], default: undefined, help: "tokens per row (default: the source model's sequence_len)" };
  flags["num-iterations"] = { ...flags["num-iterations"], help: "optimizer steps (default -1: one epoch of the mixture)" };
  const previous = { mid: "base", sft: "mid", rl: "sft" }[stage];
  const from = { type: "string" as const, default: "", help: `the checkpoint to start from: RUN or RUN/STEP (default: the newest ${previous} run under --runs-dir)` };
  const summary = stage === "rl"
    ? `Reinforcement-learn an SFT checkpoint on a task's rewards (on-policy REINFORCE, mean baseline). Tasks (--mixture): ${RL_TASKS.join(", ")} (arithmetic, arithmetic-long: generated, offline; gsm8k: download gsm8k-train and gsm8k-test first).`
    : `${stage === "mid" ? "Mid-train" : "Fine-tune (SFT)"} a checkpoint on a task mixture. Mixtures:\n${mixtureHelp(stage)}`;
  if (stage === "rl") {
    flags["num-iterations"] = { ...flags["num-iterations"], help: "optimizer steps (default -1: one pass over the task's training problems)" };
    flags["target-examples-per-step"] = { ...flags["target-examples-per-step"], help: "problems per step" };
    flags["total-batch-size"] = { ...flags["total-batch-size"], default: undefined, help: "set from problems per step × samples × max-seq-len" };
  }
  // RL's sampling: the reference's values, laid over by the preset's `rlSampling` export, then the flags.
  const rl = stage === "rl" ? { ...RL_SAMPLING, ...await loadRlSampling(presetName) } : RL_SAMPLING;
  const rlFlags: FlagTable = stage === "rl" ? {
    samples: { type: "number", default: rl.samples, help: "completions sampled per problem (a multiple of device-batch-size)" },
    "max-new-tokens": { type: "number", default: rl.maxNewTokens, help: "new tokens per completion at most" },
    temperature: { type: "number", default: rl.temperature, help: "sampling temperature" },
    "top-k": { type: "number", default: rl.topK, help: "sample among the k most likely tokens" },
    "eval-problems": { type: "number", default: rl.evalProblems, help: "held-out problems per evaluation" },
    "eval-samples": { type: "number", default: rl.evalSamples, help: "completions per held-out problem (pass@1 … pass@k)" },
  } : {};
  const parsed = parseFlags(rest, `train ${stage}`, summary, { from, ...flags, ...rlFlags, resume: EXTRA_FLAGS.resume, adapter: EXTRA_FLAGS.adapter, ...(stage === "rl" ? {} : { world: EXTRA_FLAGS.world, adapters: EXTRA_FLAGS.adapters }) });
  if (!parsed) return;
  const f = parsed.flags as Record<string, unknown>;
  if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
  const given = withWorld(overridesFromFlags(Object.fromEntries(Object.entries(f).filter(([k]) => rest.some((a) => a === `--${k}` || a.startsWith(`--${k}=`))))), f);
  const overrides = { ...stagePreset, ...given };
  console.log(`${stage} settings: preset ${presetName} (${why})${Object.keys(stagePreset).length ? "" : `, which has no '${stage}' export: the reference defaults`}`);
  const gpu = await acquireGpu({ adapterName: (f.adapter as string) || undefined });
  const common = { gpu, from: f.from as string, resume: !!f.resume, overrides, preset: presetName };
  let result: StageResult, mixture: string | null = null;
  if (stage === "rl") {
    const sampling: RlSampling = {
      samples: f.samples as number, maxNewTokens: f["max-new-tokens"] as number, temperature: f.temperature as number,
      topK: f["top-k"] as number, evalProblems: f["eval-problems"] as number, evalSamples: f["eval-samples"] as number,
    };
    result = await trainRl({ ...common, sampling });
  } else {
    const r = await trainChat({ ...common, stage, adapters: f.adapters as string });
    result = r, mixture = r.mixture.name;
  }
  if (result.stopped) {
    console.log(`stopped at step ${result.step}; continue with: deno task train ${stage} --run ${result.runDir.split("/").pop()} --resume`);
    return;
  }
  if (mixture && result.firstValBpb !== null && result.lastValBpb !== null) {
    console.log(`validation bits per byte (${mixture} val): ${result.firstValBpb.toFixed(4)} at step 0 → ${result.lastValBpb.toFixed(4)} at step ${result.step}`);
  }
  console.log(`done: ${result.runDir}`);
}
