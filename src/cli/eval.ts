// `deno task eval base --bpb [--run NAME | --checkpoint DIR]`: validation bits per byte of a checkpoint.
// `deno task eval chat -a TASK[,TASK…] [--run NAME | --checkpoint DIR]`: chat evaluation
// (src/eval/chat.ts) of a checkpoint and, beside it, of the checkpoints it was trained from.
import { createLocalLoader } from "../data/deno_shards.ts";
import { evaluateBpbOnLoader } from "../eval/bpb.ts";
import { acquireGpu } from "../gpu/device.ts";
import { denoFiles } from "../io/deno_files.ts";
import { GPT } from "../model/gpt.ts";
import { loadTokenizer } from "../tokenizer/store.ts";
import { loadCheckpoint } from "../train/deno_checkpoint.ts";
import { parseFlags, runMain, UsageError } from "./args.ts";
import { Engine } from "../engine/engine.ts";
import { chatCore, evalCategorical, evalGenerative, type TaskScore } from "../eval/chat.ts";
import type { Gpu } from "../gpu/device.ts";
import { writeFileAtomic } from "../io/deno_files.ts";
import type { GPTConfig } from "../model/config.ts";
import { InferenceGPT } from "../model/inference.ts";
import { KVCache } from "../model/kv_cache.ts";
import { createParamTensors, writeParams } from "../model/tensors.ts";
import { MetricsLog } from "../train/deno_metrics.ts";
import { createEvalTask, EVAL_TASK_NAMES, evalTaskHelp } from "../../tasks/deno_eval_tasks.ts";
import { CHECKPOINT_FLAGS, resolveCheckpointArgs } from "./checkpoint_args.ts";

const FLAGS = {
  bpb: { type: "boolean", default: false, help: "report validation bits per byte" },
  ...CHECKPOINT_FLAGS,
  "data-dir": { type: "string", default: "data/base_data", help: "parquet shards; the last is validation" },
  tokens: { type: "number", default: 65536, help: "validation tokens to evaluate", min: 1, integer: true },
  "batch-size": { type: "number", default: 8, help: "sequences per forward pass", min: 1, max: 65536, integer: true },
  adapter: { type: "string", default: "", help: "WebGPU adapter name substring" },
} as const;


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
    const T = ckpt.cfg.sequence_len;
    const maxBatch = f["batch-size"] || KVCache.batchRows(ckpt.cfg, T);
    const engine = await Engine.create(gpu, ckpt.cfg, ckpt.params, tok, { maxBatch });
    const scorer = await InferenceGPT.create(gpu, ckpt.cfg, createParamTensorsFrom(gpu, ckpt), { B: 1, T });
    const lastLogits = async (ids: readonly number[]) => {
      const keep = ids.length > T ? ids.slice(ids.length - T) : ids;
      const padded = new Int32Array(T);
      padded.set(keep);
      return await scorer.logitsAt(padded, keep.length - 1);
    };
    const scores: TaskScore[] = [];
    for (const { name, task } of tasks) {
      const n = f["max-problems"] > 0 ? Math.min(f["max-problems"], task.length) : task.length;
      const t0 = performance.now();
      let last = 0;
      const progress = (_t: string, done: number, total: number, correct: number) => {
        if (performance.now() - last < 2000 && done < total) return;
        last = performance.now();
        const eta = ((performance.now() - t0) / done) * (total - done) / 1000;
        console.log(`  ${label} ${name}: ${done}/${total}, ${correct} correct (${(100 * correct / done).toFixed(1)}%), eta ${eta.toFixed(0)} s`);
      };
      const s = task.evalType === "categorical"
        ? await evalCategorical(task, tok, lastLogits, n, progress)
        : await evalGenerative(task, tok, engine, n, { maxTokens: f["max-tokens"] }, progress);
      scores.push({ ...s, task: name });
    }
    engine.destroy();
    scorer.destroy();
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

/** Weights of a checkpoint as GPU tensors (the scorer's own copy; the engine keeps another). */
function createParamTensorsFrom(gpu: Gpu, ckpt: { cfg: GPTConfig; params: Map<string, Float32Array> }) {
  const t = createParamTensors(gpu, ckpt.cfg);
  writeParams(t, ckpt.cfg, ckpt.params);
  return t;
}

runMain(async (args) => {
  const [stage, ...rest] = args;
  if (!stage || stage === "-h" || stage === "--help") {
    console.log("usage: deno task eval base --bpb [--run NAME | --checkpoint DIR] [flags]\n       deno task eval chat -a TASK[,TASK…] [--run NAME | --checkpoint DIR] [flags]\n\n'deno task eval base --help' and 'deno task eval chat --help' list the flags.");
    return;
  }
  if (stage === "chat") return await evalChat(rest);
  if (stage !== "base") throw new UsageError(`unknown evaluation '${stage}'; available: base, chat`);
  const parsed = parseFlags(rest, "eval base", "Evaluate a base checkpoint.", FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  if (!f.bpb) throw new UsageError("say what to evaluate: --bpb (validation bits per byte)");
  const { checkpointDir: dir, tokenizerDir: tokDir } = await resolveCheckpointArgs(f);
  const ckpt = await loadCheckpoint(dir);
  const tok = await loadTokenizer(denoFiles("."), tokDir);
  if (ckpt.meta.tokenizer && ckpt.meta.tokenizer.hash !== tok.hash) {
    throw new UsageError(`${tokDir} is not the tokenizer recorded in ${dir}/meta.json (hash ${ckpt.meta.tokenizer.hash.slice(0, 12)}…): pass --tokenizer-dir`);
  }
  const B = f["batch-size"], T = ckpt.cfg.sequence_len;
  const gpu = await acquireGpu({ adapterName: f.adapter || undefined });
  const model = await GPT.create(gpu, ckpt.cfg, { B, T });
  model.loadParams(ckpt.params);
  const val = await createLocalLoader(f["data-dir"], "val", { tokenizer: tok, B, T });
  const steps = Math.max(1, Math.floor(f.tokens / (B * T)));
  const res = await evaluateBpbOnLoader(model, val, steps, tok.tokenBytes());
  console.log(`${dir} (step ${ckpt.meta.step}) on ${gpu.description}`);
  console.log(`validation bits per byte: ${res.bpb.toFixed(4)}  (loss ${res.loss.toFixed(4)} nats/token over ${res.tokens.toLocaleString("en-US")} tokens, ${res.bytes.toLocaleString("en-US")} bytes)`);
  model.destroy();
});
