// `deno task experiment mxfp4 --run NAME [--qat-run NAME]`: what storing a trained
// checkpoint's weights in fewer bits costs. For each form of src/eval/weight_forms.ts (f32,
// f16, bf16, MXFP4 with wte/lm_head kept bf16, MXFP4 everywhere) — built exactly as
// `export checkpoint` writes it and loaded back as `chat` loads it — one row of:
//   model.safetensors size, the engine's GPU weight bytes, validation bits per byte (the last
//   parquet shard), chat-task accuracy when the run is a chat model (greedy, as eval chat),
//   and decode tokens/s at batch 1 (the MXFP4 forms multiply by their blocks directly); a mid or
//   SFT run is also scored on its own val split, exactly as its stage evaluated it.
// With --qat-run, a run trained the same way with `--qat mxfp4` (src/train/qat.ts) adds its
// f32 and MXFP4 rows to the same table. Decode speeds are measured round-robin over every
// form in the same window (median of --repeats), since this machine's speed drifts.
// The table goes to the run's eval/ directory as JSON and, as a section of its own, into
// --out (docs/experiments/mxfp4.md): a run's section is replaced when the experiment runs
// again; everything else in the file is kept.
import { Engine } from "../engine/engine.ts";
import { timeGeneration } from "../engine/speed.ts";
import { NO_SPECIAL_TOKENS } from "../engine/tools.ts";
import { chatEvalProgress, scoreChatTasks, type TaskScore } from "../eval/chat.ts";
import { batchesBpb, validationBpb } from "../eval/deno_val_bpb.ts";
import { inForm, WEIGHT_FORMS, type WeightForm } from "../eval/weight_forms.ts";
import type { LoadedCheckpoint } from "../formats/checkpoint.ts";
import { acquireGpu } from "../gpu/device.ts";
import { denoFiles, writeFileAtomic } from "../io/deno_files.ts";
import { KVCache } from "../model/kv_cache.ts";
import { loadTokenizer } from "../tokenizer/store.ts";
import { chatValidation } from "../train/deno_chat.ts";
import { latestCheckpoint, loadCheckpoint } from "../train/deno_checkpoint.ts";
import type { RunConfig } from "../train/run_config.ts";
import { Rng } from "../util/rng.ts";
import { createEvalTask, EVAL_TASK_NAMES } from "../../tasks/deno_eval_tasks.ts";
import { parseFlags, runMain, UsageError } from "./args.ts";
import { CHECKPOINT_FLAGS, resolveCheckpointArgs } from "./checkpoint_args.ts";

export const MXFP4_EXPERIMENT_FLAGS = {
  ...CHECKPOINT_FLAGS,
  "qat-run": { type: "string", default: "", help: "a run trained as --run was but with --qat mxfp4: its f32 and MXFP4 rows join the table" },
  "data-dir": { type: "string", default: "data/base_data", help: "parquet shards; the last is validation (bits per byte)" },
  tokens: { type: "number", default: 16384, min: 1, integer: true, help: "validation tokens per form" },
  "batch-size": { type: "number", default: 8, min: 1, max: 65536, integer: true, help: "sequences per validation forward" },
  tasks: { type: "string", default: "arithmetic", help: "chat tasks scored when the run is a chat model (mid, sft, rl), comma-separated; 'none' skips them" },
  "max-problems": { type: "number", default: 200, min: 0, integer: true, help: "problems per task at most (0: the whole test split)" },
  "max-tokens": { type: "number", default: 48, min: 1, integer: true, help: "longest generated reply" },
  "decode-tokens": { type: "number", default: 48, min: 1, integer: true, help: "tokens decoded per speed measurement (batch 1)" },
  repeats: { type: "number", default: 3, min: 1, max: 100, integer: true, help: "speed measurements per form (the median is reported)" },
  out: { type: "string", default: "docs/experiments/mxfp4.md", help: "the markdown file the table's section is written into ('' : print only)" },
  adapter: { type: "string", default: "", help: "WebGPU adapter name substring" },
} as const;

const SUMMARY = "For a trained checkpoint: size, validation bits per byte, chat accuracy (chat runs) and decode tokens/s with its weights in f32, f16, bf16, MXFP4 (wte, lm_head bf16) and MXFP4 everywhere; --qat-run adds a quantisation-aware run's rows.";

const USAGE = `usage: deno task experiment mxfp4 (--run NAME | --checkpoint DIR) [--qat-run NAME] [flags]

mxfp4: what storing the weights in fewer bits costs (docs/experiments/mxfp4.md).
'deno task experiment mxfp4 --help' lists the flags.`;

interface Row {
  label: string;
  source: string;
  modelBytes: number;
  gpuWeightBytes: number;
  bpb: number;
  /** Bits per byte on the chat run's own val split (mid, sft), null otherwise. */
  chatBpb: number | null;
  scores: TaskScore[];
  decodeTokPerSec: number;
}

interface Subject {
  prefix: string;
  dir: string;
  ckpt: LoadedCheckpoint;
  forms: readonly WeightForm[];
}

runMain(async (args) => {
  if (!args.length || args[0] === "-h" || args[0] === "--help") return void console.log(USAGE);
  if (args[0] !== "mxfp4") throw new UsageError(`unknown experiment '${args[0]}'; available: mxfp4`);
  await mxfp4Experiment(args.slice(1));
});

async function mxfp4Experiment(args: string[]): Promise<void> {
  const parsed = parseFlags(args, "experiment mxfp4", SUMMARY, MXFP4_EXPERIMENT_FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
  const { checkpointDir, tokenizerDir } = await resolveCheckpointArgs(f);
  const ckpt = await loadCheckpoint(checkpointDir, { withOptimizer: false });
  const float32 = (dir: string, c: LoadedCheckpoint) => {
    if (c.meta.weights_dtype !== "f32") throw new UsageError(`${dir} holds ${c.meta.weights_dtype} weights; the experiment starts from the float32 checkpoint the run trained (pass --run NAME)`);
  };
  float32(checkpointDir, ckpt);
  const tok = await loadTokenizer(denoFiles("."), tokenizerDir);
  if (ckpt.meta.tokenizer && ckpt.meta.tokenizer.hash !== tok.hash) throw new UsageError(`${checkpointDir} was trained with another tokenizer than ${tokenizerDir}`);

  const subjects: Subject[] = [{ prefix: "", dir: checkpointDir, ckpt, forms: WEIGHT_FORMS }];
  if (f["qat-run"]) {
    const latest = await latestCheckpoint(`${f["runs-dir"]}/${f["qat-run"]}`);
    if (!latest) throw new UsageError(`--qat-run: run '${f["qat-run"]}' has no checkpoint in ${f["runs-dir"]}/${f["qat-run"]}/checkpoints`);
    const q = await loadCheckpoint(latest.dir, { withOptimizer: false });
    float32(latest.dir, q);
    if ((q.meta.user_config as { qat?: string }).qat !== "mxfp4") throw new UsageError(`--qat-run: ${latest.dir} was not trained with --qat mxfp4 (its user_config has no qat); train it with e.g. 'deno task train sft --from RUN --run NAME --qat mxfp4'`);
    if (JSON.stringify(q.cfg) !== JSON.stringify(ckpt.cfg)) throw new UsageError(`--qat-run: ${latest.dir} is another model (${JSON.stringify(q.cfg)}) than ${checkpointDir} (${JSON.stringify(ckpt.cfg)})`);
    if (q.meta.tokenizer?.hash !== ckpt.meta.tokenizer?.hash) throw new UsageError(`--qat-run: ${latest.dir} was trained with another tokenizer than ${checkpointDir}`);
    // QAT trained the blocks' matrices against their rounding; wte and lm_head were not, so MXFP4 (all) is not its form.
    subjects.push({ prefix: "QAT ", dir: latest.dir, ckpt: q, forms: WEIGHT_FORMS.filter((w) => w.label === "f32" || w.label === "MXFP4") });
  }

  const chat = ["mid", "sft", "rl"].includes(ckpt.meta.stage ?? "");
  const names = !chat || f.tasks === "none" ? [] : f.tasks.split(",").map((t) => t.trim()).filter(Boolean);
  for (const n of names) if (!EVAL_TASK_NAMES.includes(n)) throw new UsageError(`--tasks: unknown task '${n}'; the tasks are: ${EVAL_TASK_NAMES.join(", ")}`);
  const tasks = [];
  for (const n of names) tasks.push({ name: n, task: await createEvalTask(n) });

  // A mid or SFT run is also scored on its own val split, as its stage evaluated it.
  const stage = ckpt.meta.stage === "mid" || ckpt.meta.stage === "sft" ? ckpt.meta.stage : null;
  const uc = ckpt.meta.user_config as Partial<RunConfig>;
  const chatVal = stage && uc.max_seq_len && uc.device_batch_size && uc.eval_tokens
    ? { ...(await chatValidation(stage, { mixture: uc.mixture ?? "", max_seq_len: uc.max_seq_len, device_batch_size: uc.device_batch_size, eval_tokens: uc.eval_tokens }, tok)), B: uc.device_batch_size, T: uc.max_seq_len }
    : null;

  const gpu = await acquireGpu({ adapterName: f.adapter || undefined });
  console.log(`experiment mxfp4 on ${gpu.description}: ${subjects.map((s) => s.dir).join(" and ")}`);
  const rows: Row[] = [];
  const engines: Engine[] = [];
  try {
    for (const s of subjects) {
      for (const form of s.forms) {
        const label = s.prefix + form.label;
        const { modelBytes, loaded } = await inForm(s.ckpt, form);
        const bpb = (await validationBpb(gpu, loaded.cfg, loaded.params, tok, { dataDir: f["data-dir"], tokens: f.tokens, batchSize: f["batch-size"] })).bpb;
        const chatBpb = chatVal ? (await batchesBpb(gpu, loaded.cfg, loaded.params, chatVal.batches, tok.tokenBytes(), chatVal)).bpb : null;
        const scores = tasks.length
          ? await scoreChatTasks(gpu, loaded.cfg, loaded.params, tok, tasks, {
            maxProblems: f["max-problems"], maxTokens: f["max-tokens"], maxBatch: KVCache.batchRows(loaded.cfg, loaded.cfg.sequence_len),
            mxfp4: loaded.mxfp4, progress: chatEvalProgress(label, console.log),
          }, `${label} weights`)
          : [];
        // The speed engine stays until every form has one, so the timings can interleave.
        const capacity = Math.min(loaded.cfg.sequence_len, 16 + f["decode-tokens"] + 1);
        const engine = await Engine.create(gpu, loaded.cfg, loaded.params, NO_SPECIAL_TOKENS, { maxBatch: 1, capacity, mxfp4: loaded.mxfp4 });
        engines.push(engine);
        rows.push({ label, source: s.dir, modelBytes, gpuWeightBytes: engine.bufferBytes.params, bpb, chatBpb, scores, decodeTokPerSec: NaN });
        console.log(`${label}: model.safetensors ${mib(modelBytes)}, val bpb ${bpb.toFixed(4)}${chatBpb === null ? "" : `, ${stage} val bpb ${chatBpb.toFixed(4)}`}${scores.map((x) => `, ${x.task} ${pct(x)}`).join("")}`);
      }
    }
    const speeds = await decodeSpeeds(engines, ckpt.cfg.vocab_size, f["decode-tokens"], f.repeats);
    speeds.forEach((v, i) => (rows[i].decodeTokPerSec = v));
  } finally {
    for (const e of engines) e.destroy();
  }

  const table = formatTable(rows, tasks.map((t) => t.name), chatVal ? `${stage} val bpb` : null);
  console.log(`\n${table}`);
  const m = ckpt.meta, runDir = checkpointDir.replace(/\/checkpoints\/[^/]+\/?$/, "");
  const record = {
    type: "experiment_mxfp4", step: m.step, checkpoint: checkpointDir, qat_checkpoint: subjects[1]?.dir ?? null, adapter: gpu.description,
    tokens: f.tokens, tasks: names, max_problems: f["max-problems"], decode_tokens: f["decode-tokens"], repeats: f.repeats, rows, time: Date.now() / 1000,
  };
  if (runDir !== checkpointDir) {
    await writeFileAtomic(`${runDir}/eval/mxfp4_${checkpointDir.split("/").pop()}.json`, JSON.stringify(record, null, 2) + "\n");
  }
  if (f.out) {
    const key = runDir.split("/").pop()!;
    const section = [
      `### ${key} (${m.stage || "base"}, step ${m.step}${subjects[1] ? `; QAT: ${subjects[1].dir}` : ""})`,
      "",
      `${gpu.description}; ${new Date().toISOString().slice(0, 10)}. Val bpb over ${f.tokens.toLocaleString("en-US")} tokens of ${f["data-dir"]}'s last shard` +
        (chatVal ? `; ${stage} val bpb on the val split of ${chatVal.mixture} (${chatVal.batches.length} batches of ${chatVal.B}×${chatVal.T}, as the stage evaluated it)` : "") +
        (names.length ? `; ${names.join(", ")}: ${f["max-problems"] || "all"} held-out problems, greedy, ${f["max-tokens"]} new tokens at most` : "") +
        `; decode: batch 1, ${f["decode-tokens"]} tokens after a 16-token prompt, median of ${f.repeats} round-robin runs.`,
      "",
      table,
    ].join("\n");
    await writeSection(f.out, key, section);
    console.log(`\nwrote the section for ${key} into ${f.out}`);
  }
}

/** Batch-1 decode tokens/s of each engine: every round times each once, in turn; the median per engine. */
async function decodeSpeeds(engines: Engine[], vocab: number, tokens: number, repeats: number): Promise<number[]> {
  const rng = new Rng(7);
  const prompt = Array.from({ length: 16 }, () => rng.int(vocab));
  const n = (e: Engine) => Math.min(tokens, e.capacity - prompt.length - 1);
  for (const e of engines) await timeGeneration(e, prompt, n(e)); // warm-up: pipelines and graphs
  const runs: number[][] = engines.map(() => []);
  for (let r = 0; r < repeats; r++) {
    for (const [i, e] of engines.entries()) runs[i].push(1000 / (await timeGeneration(e, prompt, n(e))).decodeMs);
  }
  return runs.map((xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
const pct = (s: TaskScore) => `${(100 * s.accuracy).toFixed(1)}% (${s.correct}/${s.total})`;

/** A change against the f32 row: "+0.00078 (+0.031%)". */
function delta(x: number, ref: number): string {
  const d = x - ref, sign = d >= 0 ? "+" : "−";
  return `${sign}${Math.abs(d).toFixed(5)} (${sign}${(100 * Math.abs(d) / ref).toFixed(3)}%)`;
}

function formatTable(rows: Row[], tasks: string[], chatBpbName: string | null): string {
  const f32 = rows[0];
  const chat = chatBpbName ? [chatBpbName, "Δ"] : [];
  const header = ["weights", "model.safetensors", "× f32", "GPU weights", "val bpb", "Δ bpb", ...chat, ...tasks, "decode tok/s", "× f32"];
  const lines = [`| ${header.join(" | ")} |`, `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`];
  for (const r of rows) {
    lines.push(`| ${[
      r.label, mib(r.modelBytes), (r.modelBytes / f32.modelBytes).toFixed(3), mib(r.gpuWeightBytes), r.bpb.toFixed(4),
      r === f32 ? "—" : delta(r.bpb, f32.bpb),
      ...(chatBpbName ? [r.chatBpb!.toFixed(4), r === f32 ? "—" : delta(r.chatBpb!, f32.chatBpb!)] : []),
      ...tasks.map((t) => pct(r.scores.find((s) => s.task === t)!)),
      r.decodeTokPerSec.toFixed(1), (r.decodeTokPerSec / f32.decodeTokPerSec).toFixed(2),
    ].join(" | ")} |`);
  }
  return lines.join("\n");
}

/**
 * Writes `section` between this run's markers in `path`, replacing what they held, or at the
 * end when the run has none yet (a new file gets a title). Everything else is kept.
 */
async function writeSection(path: string, key: string, section: string): Promise<void> {
  const open = `<!-- experiment mxfp4: ${key} -->`, close = `<!-- /experiment mxfp4: ${key} -->`;
  let text = await Deno.readTextFile(path).catch((err) => {
    if (err instanceof Deno.errors.NotFound) return "# MXFP4 and the other weight forms\n\nSections between `<!-- experiment mxfp4: RUN -->` markers are written by `deno task experiment mxfp4`.\n";
    throw err;
  });
  const block = `${open}\n${section}\n${close}`;
  const a = text.indexOf(open), b = text.indexOf(close);
  if (a >= 0 && b > a) text = text.slice(0, a) + block + text.slice(b + close.length);
  else if (a >= 0 || b >= 0) throw new UsageError(`${path}: the markers of ${key}'s section are damaged (one of '${open}' and '${close}' is missing or out of order); mend or remove them, then run again`);
  else text = `${text.replace(/\n*$/, "\n\n")}${block}\n`;
  await writeFileAtomic(path, text);
}
