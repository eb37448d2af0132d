// The run's log and status file formats (runtime-agnostic; the Deno writers are in
// src/train/deno_metrics.ts, and the lab server and page read these same shapes):
//
//   runs/<run>/metrics.jsonl   one JSON object per line (train steps, evals, samples…)
//   runs/<run>/run.json        what the run is (config, adapter, start time) and its status
//
// metrics.jsonl is read while it grows (the lab server tails it for live curves), so the
// writer emits each record as one write() of the complete line, "\n" included, and a
// reader keeps only lines that end in "\n" (parseMetrics).
import { UserError } from "../util/errors.ts";
export type MetricsRecord = Record<string, unknown>;

export class MetricsError extends UserError {
  override name = "MetricsError";
}

/**
 * One record as its line. JSON has no NaN/Infinity: they become null (JSON.stringify's
 * rule), which the curves show as gaps rather than breaking the file.
 */
export function formatMetricsLine(record: MetricsRecord): string {
  const line = JSON.stringify(record);
  if (typeof line !== "string" || !line.startsWith("{")) throw new MetricsError(`a metrics record must be a plain object, got ${String(record)}`);
  return line + "\n";
}

export interface ParsedMetrics {
  records: MetricsRecord[];
  /** Characters consumed: the text up to and including the last "\n" (a tailing reader keeps the rest). */
  consumed: number;
  /** Complete lines that were not JSON objects (line numbers, 1-based), skipped unless strict. */
  badLines: number[];
}

/**
 * Parses the complete lines of metrics.jsonl text. A trailing line without "\n" is a
 * record still being written and is left for the next read. A complete line that does
 * not parse (only a crash in the middle of a write can make one, and the writer then
 * starts a fresh line) is skipped and reported, or throws when `strict`.
 */
export function parseMetrics(text: string, opts: { strict?: boolean; source?: string } = {}): ParsedMetrics {
  const end = text.lastIndexOf("\n") + 1;
  const records: MetricsRecord[] = [];
  const badLines: number[] = [];
  let lineNo = 0;
  for (const line of text.slice(0, end).split("\n").slice(0, -1)) {
    lineNo++;
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      value = undefined;
    }
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      records.push(value as MetricsRecord);
    } else if (opts.strict) {
      throw new MetricsError(`${opts.source ?? "metrics.jsonl"}: line ${lineNo} is not a JSON object: ${JSON.stringify(line.slice(0, 80))}`);
    } else {
      badLines.push(lineNo);
    }
  }
  return { records, consumed: end, badLines };
}

/** The records of metrics.jsonl text, ignoring a trailing partial line. */
export function readMetrics(text: string, opts: { strict?: boolean; source?: string } = {}): MetricsRecord[] {
  return parseMetrics(text, opts).records;
}

// ---------------------------------------------------------------- run.json

/** The owner lock of a run directory (src/io/deno_lock.ts): present while a training writes it. */
export const RUN_LOCK_FILE = "owner.lock";

export const RUN_STATUSES = ["running", "finished", "failed", "stopped"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export interface RunInfo {
  /** The run's name (its directory under runs/). */
  name: string;
  /** Stage: base, mid, sft, rl. */
  stage: string;
  /** The resolved run config. */
  config: Record<string, unknown>;
  /** The preset (configs/NAME or a .ts path) the settings came from: the chat stages that
   * continue this run take their `mid` / `sft` settings from the same preset. */
  preset?: string;
  /** The adapter(s) in words, e.g. "NVIDIA H100 (vulkan)" or "llvmpipe (software)". */
  adapter: string;
  started_at: string;
  updated_at: string;
  status: RunStatus;
  /** Last step reached, and why it failed (when it did). */
  step?: number;
  error?: string;
}

export function validateRunInfo(raw: unknown, source = "run.json"): RunInfo {
  const bad = (field: string, why: string): never => {
    throw new MetricsError(`${source}: field "${field}" ${why}`);
  };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return bad("(top level)", "must be a JSON object");
  const r = raw as Record<string, unknown>;
  for (const f of ["name", "stage", "adapter", "started_at", "updated_at"]) if (typeof r[f] !== "string") bad(f, "is missing or not a string");
  if (typeof r.config !== "object" || r.config === null || Array.isArray(r.config)) bad("config", "is missing or not an object");
  if (!RUN_STATUSES.includes(r.status as RunStatus)) bad("status", `must be one of ${RUN_STATUSES.join(", ")}, got ${JSON.stringify(r.status)}`);
  if (r.step !== undefined && !Number.isInteger(r.step)) bad("step", "must be an integer");
  if (r.error !== undefined && typeof r.error !== "string") bad("error", "must be a string");
  if (r.preset !== undefined && typeof r.preset !== "string") bad("preset", "must be a string");
  return r as unknown as RunInfo;
}
