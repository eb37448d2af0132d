// `deno task eval base [--run NAME | --checkpoint DIR]`: CORE on the eval bundle (when it is
// in --bundle-dir, or with --core; --download-bundle fetches it) and/or, with --bpb,
// validation bits per byte of a checkpoint.
// `deno task eval chat -a TASK[,TASK…] [--run NAME | --checkpoint DIR]`: chat evaluation
// (src/eval/chat.ts) of a checkpoint and, beside it, of the checkpoints it was trained from.
import { listShardFiles } from "../data/deno_shards.ts";
import { validationBpb } from "../eval/deno_val_bpb.ts";
import { acquireGpu } from "../gpu/device.ts";
import { denoFiles } from "../io/deno_files.ts";
import { loadTokenizer } from "../tokenizer/store.ts";
import { loadCheckpoint } from "../train/deno_checkpoint.ts";
import { parseFlags, runMain, UsageError } from "./args.ts";
import { chatCore, chatEvalProgress, scoreChatTasks, type TaskScore } from "../eval/chat.ts";
import type { Gpu } from "../gpu/device.ts";
import { writeFileAtomic } from "../io/deno_files.ts";
import { KVCache } from "../model/kv_cache.ts";
import { MetricsLog } from "../train/deno_metrics.ts";
import { createEvalTask, EVAL_TASK_NAMES, evalTaskHelp } from "../../tasks/deno_eval_tasks.ts";
import { CHECKPOINT_FLAGS, resolveCheckpointArgs } from "./checkpoint_args.ts";
import { bundleHint, DEFAULT_BUNDLE_DIR, downloadBundle, EVAL_BUNDLE_URL, findBundle, loadCoreBundle } from "../eval/deno_core_bundle.ts";
import { coreTable, evaluateCore } from "../eval/core_run.ts";
import { CoreScorer } from "../eval/core_scorer.ts";
import { CoreError } from "../eval/core.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import type { LoadedCheckpoint } from "../formats/checkpoint.ts";

const FLAGS = {
  bpb: { type: "boolean", default: false, help: "report validation bits per byte (only that, unless --core is given too)" },
  core: { type: "boolean", default: false, help: "run CORE on the eval bundle (the default when the bundle is in --bundle-dir)" },
  "download-bundle": { type: "boolean", default: false, help: "fetch (resumably), verify and unpack the eval bundle into --bundle-dir; then evaluate if --run/--checkpoint is given" },
  "bundle-dir": { type: "string", default: DEFAULT_BUNDLE_DIR, help: "where the eval bundle is cached (or an unpacked copy holding core.yaml)" },
  "max-per-task": { type: "number", default: 0, help: "CORE items per task at most, after the reference's shuffle (0: all; training's in-loop CORE uses 500)" },
  "core-tasks": { type: "string", default: "", help: "comma-separated CORE task labels to run (empty: every task in core.yaml)" },
  ...CHECKPOINT_FLAGS,
  "data-dir": { type: "string", default: "data/base_data", help: "parquet shards; the last is validation (bpb)" },
  tokens: { type: "number", default: 65536, help: "validation tokens to evaluate (bpb)", min: 1, integer: true },
  "batch-size": { type: "number", default: 8, help: "sequences per forward pass (bpb; CORE rows)", min: 1, max: 65536, integer: true },
  adapter: { type: "string", default: "", help: "WebGPU adapter name substring" },
} as const;

const BASE_SUMMARY = "Evaluate a base checkpoint: CORE (DCLM's in-context tasks, as nanochat's base_eval) when the eval bundle is present, " +
  "validation bits per byte with --bpb. Without the bundle it says how to get it and reports bpb if the data shards are there. " +
  `The bundle: ${EVAL_BUNDLE_URL} (~162 MB), fetched by --download-bundle.`;

const CHAT_FLAGS = {
  tasks: { type: "string", short: "a", default: "", help: "comma-separated tasks to evaluate (see below)" },
  ...CHECKPOINT_FLAGS,
  "max-problems": { type: "number", default: 0, help: "problems per task at most (0: the whole test split)", min: 0, integer: true },
  "max-tokens": { type: "number", default: 512, help: "longest generated reply", min: 1, integer: true },
  "batch-size": { type: "number", default: 0, help: "problems decoded together (0: up to 64, as many as a 1 GiB KV cache holds)", min: 0, max: 65536, integer: true },
  lineage: { type: "boolean", default: true, help: "also evaluate the checkpoints this one was trained from (sft → mid → base)" },
  "no-lineage": { type: "boolean", default: false, help: "evaluate only the given checkpoint" },
  "data-dir": { type: "string", default: "data/tasks", help: "where the downloaded task datasets are" },
  adapter: { type: "string", default: "", help: "WebGPU adapter name substring" },
} as const;

/** The checkpoint `dir` and the ones it was trained from, newest first (meta.metrics.source = "run/step_N"). */
async function lineage(dir: string, runsDir: string, follow: boolean): Promise<{ dir: string; label: string }[]> {
  const out: { dir: string; label: string }[] = [];
  let cur: string | null = dir;
  while (cur && out.length < 8) {
    const ckpt = await loadCheckpoint(cur);
    out.push({ dir: cur, label: ckpt.meta.stage || "base" });
    const [run, step] = (ckpt.meta.source ?? "").split("/");
    cur = follow && run && step ? `${runsDir}/${run}/checkpoints/${step}` : null;
    if (cur && !(await Deno.stat(cur).then(() => true, () => false))) cur = null;
  }
  return out;
}

async function evalChat(rest: string[]): Promise<void> {
  const summary = `Evaluate a chat checkpoint on tasks, as nanochat's chat_eval. Tasks:\n${evalTaskHelp()}`;
  const parsed = parseFlags(rest, "eval chat", summary, CHAT_FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  const names = f.tasks.split(",").map((t) => t.trim()).filter(Boolean);
  if (!names.length) throw new UsageError(`say which tasks: -a ${EVAL_TASK_NAMES.slice(0, 3).join(",")} (the tasks: ${EVAL_TASK_NAMES.join(", ")})`);
  for (const n of names) if (!EVAL_TASK_NAMES.includes(n)) throw new UsageError(`unknown task '${n}'; the tasks are: ${EVAL_TASK_NAMES.join(", ")}`);
  if (!(f["max-problems"] >= 0) || !Number.isInteger(f["max-problems"])) throw new UsageError(`--max-problems must be a non-negative integer, got ${f["max-problems"]}`);
  if (!(f["batch-size"] >= 0) || !Number.isInteger(f["batch-size"])) throw new UsageError(`--batch-size must be a non-negative integer (0: automatic), got ${f["batch-size"]}`);
  if (!(f["max-tokens"] >= 1) || !Number.isInteger(f["max-tokens"])) throw new UsageError(`--max-tokens must be a positive integer, got ${f["max-tokens"]}`);
  const { checkpointDir, tokenizerDir } = await resolveCheckpointArgs(f);
  const chain = await lineage(checkpointDir, f["runs-dir"], f.lineage && !f["no-lineage"]);
  const tasks = [];
  for (const n of names) tasks.push({ name: n, task: await createEvalTask(n, { dataDir: f["data-dir"] }) });
  const gpu = await acquireGpu({ adapterName: f.adapter || undefined });
  const tok = await loadTokenizer(denoFiles("."), tokenizerDir);
  console.log(`on ${gpu.description}`);
  const table: { label: string; dir: string; scores: TaskScore[]; chatcore: number | null }[] = [];
  for (const { dir, label } of chain) {
    const ckpt = await loadCheckpoint(dir);
    if (ckpt.meta.tokenizer && ckpt.meta.tokenizer.hash !== tok.hash) throw new UsageError(`${dir} was trained with another tokenizer than ${tokenizerDir}`);
    const maxBatch = f["batch-size"] || KVCache.batchRows(ckpt.cfg, ckpt.cfg.sequence_len);
    const scores = await scoreChatTasks(gpu, ckpt.cfg, ckpt.params, tok, tasks, {
      maxProblems: f["max-problems"], maxTokens: f["max-tokens"], maxBatch, mxfp4: ckpt.mxfp4, progress: chatEvalProgress(label, console.log),
    }, dir);
    const core = chatCore(scores);
    table.push({ label, dir, scores, chatcore: core });
    // Into the run: a metrics record (the lab reads it) and a JSON file beside the checkpoints.
    const runDir = dir.replace(/\/checkpoints\/[^/]+\/?$/, "");
    const record = { type: "eval_chat", step: ckpt.meta.step, checkpoint: dir, scores, chatcore: core, time: Date.now() / 1000 };
    const log = await MetricsLog.open(runDir);
    await log.append(record);
    log.close();
    await writeFileAtomic(`${runDir}/eval/chat_${dir.split("/").pop()}.json`, JSON.stringify(record, null, 2) + "\n");
  }
  const cols = table.map((t) => t.label);
  console.log(`\n| task | ${cols.join(" | ")} |\n|---|${cols.map(() => "---|").join("")}`);
  for (const { name } of tasks) {
    const cells = table.map((t) => {
      const s = t.scores.find((x) => x.task === name)!;
      return `${(100 * s.accuracy).toFixed(1)}% (${s.correct}/${s.total})`;
    });
    console.log(`| ${name} | ${cells.join(" | ")} |`);
  }
  if (table.some((t) => t.chatcore !== null)) console.log(`| ChatCORE | ${table.map((t) => (t.chatcore === null ? "—" : t.chatcore.toFixed(4))).join(" | ")} |`);
  console.log(`\ncheckpoints: ${table.map((t) => `${t.label} ${t.dir}`).join("; ")}`);
}

/** Validation bits per byte (today's `eval base --bpb`). */
async function evalBpb(gpu: Gpu, dir: string, ckpt: LoadedCheckpoint, tok: Tokenizer, f: { "data-dir": string; tokens: number; "batch-size": number }): Promise<void> {
  const res = await validationBpb(gpu, ckpt.cfg, ckpt.params, tok, { dataDir: f["data-dir"], tokens: f.tokens, batchSize: f["batch-size"] });
  console.log(`${dir} (step ${ckpt.meta.step}) on ${gpu.description}`);
  console.log(`validation bits per byte: ${res.bpb.toFixed(4)}  (loss ${res.loss.toFixed(4)} nats/token over ${res.tokens.toLocaleString("en-US")} tokens, ${res.bytes.toLocaleString("en-US")} bytes)`);
}

/** CORE on the bundle: the per-task table, the mean, and a `core` record in the run's metrics (the report's BASE column). */
async function evalCore(gpu: Gpu, dir: string, ckpt: LoadedCheckpoint, tok: Tokenizer, f: { "bundle-dir": string; "max-per-task": number; "core-tasks": string; "batch-size": number }): Promise<void> {
  const only = f["core-tasks"].split(",").map((t) => t.trim()).filter(Boolean);
  const bundle = await loadCoreBundle(f["bundle-dir"], only);
  const encode = (text: string) => tok.encode(text, { prepend: tok.bosId });
  const scorer = await CoreScorer.create(gpu, ckpt.cfg, ckpt.params, { B: f["batch-size"], pad: tok.bosId });
  console.log(`CORE of ${dir} (step ${ckpt.meta.step}) on ${gpu.description}: ${bundle.tasks.length} tasks from ${bundle.root}${f["max-per-task"] ? `, at most ${f["max-per-task"]} items each` : ""}`);
  const t0 = performance.now();
  let last = 0;
  const progress = (label: string, done: number, total: number, correct: number) => {
    if (performance.now() - last < 5000 && done < total) return;
    last = performance.now();
    console.log(`  ${label}: ${done}/${total}, ${correct} correct (${(100 * correct / done).toFixed(1)}%), ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  };
  const { results, core } = await evaluateCore(bundle.tasks, encode, scorer, { maxPerTask: f["max-per-task"], progress });
  scorer.destroy();
  console.log(`\n${coreTable(results, core)}\n\nCORE: ${core.toFixed(4)}`);
  const runDir = dir.replace(/\/checkpoints\/[^/]+\/?$/, "");
  const record = {
    type: "core", step: ckpt.meta.step, checkpoint: dir, core, max_per_task: f["max-per-task"] || null,
    bundle_sha256: bundle.sha256, tasks: results, time: Date.now() / 1000,
  };
  const log = await MetricsLog.open(runDir);
  await log.append(record);
  log.close();
  await writeFileAtomic(`${runDir}/eval/core_${dir.split("/").pop()}.json`, JSON.stringify(record, null, 2) + "\n");
}

async function evalBase(rest: string[]): Promise<void> {
  const parsed = parseFlags(rest, "eval base", BASE_SUMMARY, FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  if (!(f["max-per-task"] >= 0) || !Number.isInteger(f["max-per-task"])) throw new UsageError(`--max-per-task must be a non-negative integer (0: all), got ${f["max-per-task"]}`);
  if (!(f["batch-size"] >= 1) || !Number.isInteger(f["batch-size"])) throw new UsageError(`--batch-size must be a positive integer, got ${f["batch-size"]}`);
  const bundleDir = f["bundle-dir"].replace(/\/+$/, "");
  if (f["download-bundle"]) {
    const { root, sha256 } = await downloadBundle(bundleDir);
    console.log(`eval bundle in ${root}/ (zip SHA-256 ${sha256})`);
    if (!f.run && !f.checkpoint) return;
  }
  const haveBundle = (await findBundle(bundleDir)) !== null;
  if (f.core && !haveBundle) throw new CoreError(`--core: no eval bundle in ${bundleDir}/. ${bundleHint(bundleDir)}`);
  let doCore = f.core || (!f.bpb && haveBundle), doBpb = f.bpb;
  if (!doCore && !doBpb) {
    // Neither asked for and no bundle: say how to get it, and measure what can be measured.
    console.log(bundleHint(bundleDir));
    if (!(await listShardFiles(f["data-dir"])).length) {
      throw new UsageError(`nothing to evaluate: no eval bundle in ${bundleDir}/ and no data shards in ${f["data-dir"]} for bits per byte ('deno task data prepare' makes them offline)`);
    }
    console.log("reporting validation bits per byte instead\n");
    doBpb = true;
    doCore = false;
  }
  const { checkpointDir: dir, tokenizerDir: tokDir } = await resolveCheckpointArgs(f);
  const ckpt = await loadCheckpoint(dir);
  const tok = await loadTokenizer(denoFiles("."), tokDir);
  if (ckpt.meta.tokenizer && ckpt.meta.tokenizer.hash !== tok.hash) {
    throw new UsageError(`${tokDir} is not the tokenizer recorded in ${dir}/meta.json (hash ${ckpt.meta.tokenizer.hash.slice(0, 12)}…): pass --tokenizer-dir`);
  }
  const gpu = await acquireGpu({ adapterName: f.adapter || undefined });
  if (doBpb) await evalBpb(gpu, dir, ckpt, tok, f);
  if (doCore) await evalCore(gpu, dir, ckpt, tok, f);
}

runMain(async (args) => {
  const [stage, ...rest] = args;
  if (!stage || stage === "-h" || stage === "--help") {
    console.log("usage: deno task eval base [--run NAME | --checkpoint DIR] [--bpb] [--core] [flags]\n       deno task eval base --download-bundle\n       deno task eval chat -a TASK[,TASK…] [--run NAME | --checkpoint DIR] [flags]\n\n'deno task eval base --help' and 'deno task eval chat --help' list the flags.");
    return;
  }
  if (stage === "chat") return await evalChat(rest);
  if (stage !== "base") throw new UsageError(`unknown evaluation '${stage}'; available: base, chat`);
  await evalBase(rest);
});
