// The report card of one pipeline (nanochat's report.md): the environment, the tokenizer
// against GPT-2 / GPT-4, each stage's key figures, wall time and curve, and the final
// table of evaluations with a BASE / MID / SFT / RL column each. Built from what the
// stages already wrote — each run's run.json and metrics.jsonl, the pipeline's stage
// times — so a report can be made again at any time. Runtime-agnostic: the lab page
// renders the same `Report` object the Markdown comes from.
import type { MetricsRecord } from "../formats/metrics.ts";
import { curveSvg } from "./curve_svg.ts";

export const REPORT_STAGES = ["base", "mid", "sft", "rl"] as const;
export type ReportStage = (typeof REPORT_STAGES)[number];

/** What `deno task tok eval --json` writes: bytes and token counts per kind of text. */
export interface TokenizerRow {
  kind: string;
  bytes: number;
  tokens: { gpt2: number; gpt4: number; ours: number };
}

export interface StageInput {
  stage: ReportStage;
  run: string;
  /** run.json as written (status, config, adapter, times). */
  info: Record<string, unknown>;
  records: MetricsRecord[];
  /** Wall seconds of the stage as the pipeline timed it (null: from run.json's times). */
  wallSeconds: number | null;
}

export interface ReportInput {
  name: string;
  generatedAt: string;
  /** Label → value (Deno, OS, CPUs, memory, adapter, commit…). */
  environment: [string, string][];
  tokenizer: { vocab: number | null; rows: TokenizerRow[] } | null;
  stages: StageInput[];
  /** Wall seconds of the evaluations (pipeline), if timed. */
  evalSeconds?: number | null;
}

export interface StageSummary {
  stage: ReportStage;
  run: string;
  status: string;
  steps: number | null;
  wall_seconds: number | null;
  /** Label → formatted value. */
  figures: [string, string][];
  /** File name of the curve's SVG (in the report directory), or null. */
  curve: string | null;
}

export interface Report {
  name: string;
  generated_at: string;
  environment: [string, string][];
  tokenizer: { vocab: number | null; rows: TokenizerRow[] } | null;
  stages: StageSummary[];
  /** The final table: one row per metric, one column per stage that ran. */
  table: { columns: string[]; rows: { metric: string; values: string[] }[] };
  total_wall_seconds: number | null;
  notes: string[];
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

export function formatSeconds(s: number | null): string {
  if (s === null) return "—";
  const whole = Math.round(s), m = Math.floor(whole / 60), sec = whole - 60 * m;
  return m ? `${m}m${String(sec).padStart(2, "0")}s` : `${sec}s`;
}

const pct = (v: number | null) => (v === null ? "—" : `${(100 * v).toFixed(1)}%`);
const fixed = (v: number | null, d = 4) => (v === null ? "—" : v.toFixed(d));

function mean(xs: number[]): number | null {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

function wallFromInfo(info: Record<string, unknown>): number | null {
  const a = Date.parse(String(info.started_at)), b = Date.parse(String(info.updated_at));
  return Number.isFinite(a) && Number.isFinite(b) && b >= a ? (b - a) / 1000 : null;
}

/** A run's records of one type, in step order. */
function ofType(records: MetricsRecord[], type: string): MetricsRecord[] {
  return records.filter((r) => r.type === type && num(r.step) !== null).sort((a, b) => (a.step as number) - (b.step as number));
}

/** The latest chat evaluation of a run (eval chat's records), or null. */
function lastChatEval(records: MetricsRecord[]): MetricsRecord | null {
  const evals = records.filter((r) => r.type === "eval_chat");
  return evals.length ? evals[evals.length - 1] : null;
}

function series(records: MetricsRecord[], key: string): [number, number][] {
  return records.filter((r) => num(r[key]) !== null).map((r) => [r.step as number, r[key] as number]);
}

function stageFigures(s: StageInput): { steps: number; figures: [string, string][]; curve: { key: string; label: string } } {
  const train = ofType(s.records, "train"), evals = ofType(s.records, "eval");
  const cfg = (s.info.config ?? {}) as Record<string, unknown>;
  const steps = train.length ? (train[train.length - 1].step as number) + 1 : 0;
  const out: [string, string][] = [["steps", String(steps)]];
  const tokens = num(cfg.total_batch_size);
  if (tokens !== null && s.stage !== "rl") out.push(["tokens", (steps * tokens).toLocaleString("en-US")]);
  const bpb = evals.filter((e) => num(e.val_bpb) !== null);
  if (bpb.length) out.push(["val bpb", `${fixed(bpb[0].val_bpb as number)} → ${fixed(bpb[bpb.length - 1].val_bpb as number)}`]);
  const last = train[train.length - 1];
  if (last) out.push(["final loss (EMA)", fixed(num(last.loss_ema) ?? num(last.loss))]);
  const tps = mean(train.slice(1).map((r) => num(r.tok_per_sec)).filter((v): v is number => v !== null));
  if (tps !== null) out.push(["tokens/s (mean)", tps.toFixed(0)]);
  const mfu = mean(train.slice(1).map((r) => num(r.mfu)).filter((v): v is number => v !== null));
  if (mfu !== null) out.push(["MFU vs measured peak (mean)", `${mfu.toFixed(1)}%`]);
  if (s.stage === "rl") {
    const rewards = train.map((r) => num(r.reward)).filter((v): v is number => v !== null);
    const k = Math.max(1, Math.min(5, Math.floor(rewards.length / 2)));
    if (rewards.length) out.push(["reward (first → last steps)", `${fixed(mean(rewards.slice(0, k)), 3)} → ${fixed(mean(rewards.slice(-k)), 3)}`]);
    const held = evals.filter((e) => num(e["pass@1"]) !== null);
    for (const key of ["pass@1", "pass@4"]) {
      const v = held.filter((e) => num(e[key]) !== null);
      if (v.length) out.push([`held-out ${key}`, `${pct(v[0][key] as number)} → ${pct(v[v.length - 1][key] as number)}`]);
    }
    return { steps, figures: out, curve: { key: "reward", label: "mean reward" } };
  }
  return { steps, figures: out, curve: { key: "loss", label: "train loss" } };
}

/** The report and its pictures (file name → SVG text). */
export function buildReport(input: ReportInput): { report: Report; files: Map<string, string> } {
  const files = new Map<string, string>();
  const stages: StageSummary[] = [];
  for (const s of input.stages) {
    const { steps, figures, curve } = stageFigures(s);
    const wall = s.wallSeconds ?? wallFromInfo(s.info);
    const svg = curveSvg(series(ofType(s.records, "train"), curve.key), { title: `${s.stage} — ${s.run}`, yLabel: curve.label });
    const file = svg ? `${s.stage}_${curve.key}.svg` : null;
    if (svg && file) files.set(file, svg);
    stages.push({
      stage: s.stage, run: s.run, status: String(s.info.status ?? "unknown"), steps,
      wall_seconds: wall, figures: [...figures, ["wall time", formatSeconds(wall)]], curve: file,
    });
  }

  // The final table: every task any stage was evaluated on, plus base val bpb and CORE.
  const columns = input.stages.map((s) => s.stage.toUpperCase());
  const evalOf = input.stages.map((s) => lastChatEval(s.records));
  const tasks: string[] = [];
  for (const e of evalOf) for (const sc of (e?.scores ?? []) as { task: string }[]) if (!tasks.includes(sc.task)) tasks.push(sc.task);
  const rows: { metric: string; values: string[] }[] = [];
  const notes: string[] = [];
  const base = input.stages.findIndex((s) => s.stage === "base");
  if (base >= 0) {
    const bpb = ofType(input.stages[base].records, "eval").filter((e) => num(e.val_bpb) !== null);
    rows.push({ metric: "val bpb (base data)", values: input.stages.map((_, i) => (i === base && bpb.length ? fixed(bpb[bpb.length - 1].val_bpb as number) : "—")) });
    const core = ofType(input.stages[base].records, "core");
    rows.push({ metric: "CORE", values: input.stages.map((_, i) => (i === base && core.length ? fixed(num(core[core.length - 1].core)) : "—")) });
    if (!core.length) notes.push("CORE: not measured (the eval bundle is not on this machine; `deno task eval base --help` says how to get it).");
  }
  for (const task of tasks) {
    rows.push({
      metric: task,
      values: evalOf.map((e) => {
        const sc = ((e?.scores ?? []) as { task: string; accuracy: number; correct: number; total: number }[]).find((x) => x.task === task);
        return sc ? `${pct(sc.accuracy)} (${sc.correct}/${sc.total})` : "—";
      }),
    });
  }
  if (evalOf.some((e) => num(e?.chatcore) !== null)) rows.push({ metric: "ChatCORE", values: evalOf.map((e) => fixed(num(e?.chatcore))) });
  const rl = input.stages.findIndex((s) => s.stage === "rl");
  if (rl >= 0) {
    const held = ofType(input.stages[rl].records, "eval").filter((e) => num(e["pass@4"]) !== null);
    if (held.length) rows.push({ metric: "held-out pass@4 (sampled)", values: input.stages.map((_, i) => (i === rl ? pct(held[held.length - 1]["pass@4"] as number) : "—")) });
  }
  const walls = stages.map((s) => s.wall_seconds);
  const total = walls.every((w) => w !== null) ? (walls as number[]).reduce((a, b) => a + b, 0) + (input.evalSeconds ?? 0) : null;
  return {
    report: {
      name: input.name, generated_at: input.generatedAt, environment: input.environment, tokenizer: input.tokenizer,
      stages, table: { columns, rows }, total_wall_seconds: total, notes,
    },
    files,
  };
}

function mdTable(header: string[], body: string[][], align?: string[]): string {
  const esc = (c: string) => c.replaceAll("|", "\\|");
  return [`| ${header.map(esc).join(" | ")} |`, `|${(align ?? header.map(() => "---")).join("|")}|`, ...body.map((r) => `| ${r.map(esc).join(" | ")} |`)].join("\n");
}

/** The tokenizer comparison rows against one baseline (the reference's tok_eval table). */
export function tokenizerTable(rows: TokenizerRow[], key: "gpt2" | "gpt4"): string[][] {
  return rows.map((r) => {
    const base = r.tokens[key], ours = r.tokens.ours;
    const diff = ((base - ours) / base) * 100;
    return [r.kind, String(r.bytes), String(base), (r.bytes / base).toFixed(2), String(ours), (r.bytes / ours).toFixed(2), `${diff >= 0 ? "+" : ""}${diff.toFixed(1)}%`];
  });
}

export function reportMarkdown(r: Report): string {
  const parts: string[] = [`# Report: ${r.name}`, "", `Generated ${r.generated_at}.`, "", "## Environment", "", mdTable(["", ""], r.environment)];
  if (r.tokenizer) {
    parts.push("", "## Tokenizer", "", `Vocabulary ${r.tokenizer.vocab ?? "?"}; bytes per token (higher is better) against GPT-2 and GPT-4 on the same texts.`);
    for (const [name, key] of [["GPT-2", "gpt2"], ["GPT-4", "gpt4"]] as const) {
      parts.push("", `### vs ${name}`, "", mdTable(["text", "bytes", `${name} tokens`, `${name} ratio`, "ours tokens", "ours ratio", "fewer tokens"], tokenizerTable(r.tokenizer.rows, key)));
    }
  }
  for (const s of r.stages) {
    parts.push("", `## ${s.stage.toUpperCase()} — run \`${s.run}\` (${s.status})`, "", mdTable(["figure", "value"], s.figures));
    if (s.curve) parts.push("", `![${s.stage} curve](${s.curve})`);
  }
  parts.push("", "## Summary", "", mdTable(["metric", ...r.table.columns], r.table.rows.map((row) => [row.metric, ...row.values])));
  parts.push("", `Total wall time: ${formatSeconds(r.total_wall_seconds)}.`);
  for (const n of r.notes) parts.push("", n);
  return parts.join("\n") + "\n";
}
