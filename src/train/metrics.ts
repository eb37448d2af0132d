// The run's log and status files:
//
//   runs/<run>/metrics.jsonl   one JSON object per line (train steps, evals, samples…)
//   runs/<run>/run.json        what the run is (config, adapter, start time) and its status
//
// metrics.jsonl is read while it grows (the lab server tails it for live curves), so
// each record goes out as one write() of the complete line, "\n" included, to a file
// opened with O_APPEND: the kernel places each write at the end in one piece, and a
// reader sees either the whole line or none of it. A reader can still catch the file
// between two writes, so readMetrics keeps only lines that end in "\n".
//
// run.json is small and rewritten whole (writeFileAtomic: temp file + rename), so a
// reader gets the old or the new version, never a mix.
//
// The parsing and formatting is runtime-agnostic; the file writing uses Deno.
import { writeFileAtomic } from "../io/deno_files.ts";

export type MetricsRecord = Record<string, unknown>;

export class MetricsError extends Error {
  override name = "MetricsError";
  userFacing = true;
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

/** Appends records to runs/<run>/metrics.jsonl, one write call per line. */
export class MetricsLog {
  private encoder = new TextEncoder();
  private constructor(readonly path: string, private file: Deno.FsFile | null) {}

  /** Opens (creating) `<runDir>/metrics.jsonl` for appending; a resumed run adds to the same file. */
  static async open(runDir: string, name = "metrics.jsonl"): Promise<MetricsLog> {
    await Deno.mkdir(runDir, { recursive: true });
    const path = `${runDir.replace(/\/+$/, "")}/${name}`;
    const file = await Deno.open(path, { append: true, create: true });
    const log = new MetricsLog(path, file);
    // A crash mid-write can leave a partial last line; end it, so our first record
    // starts on a line of its own (the partial one is then skipped by readers).
    const size = (await file.stat()).size;
    if (size > 0) {
      const last = new Uint8Array(1);
      const r = await Deno.open(path, { read: true });
      try {
        await r.seek(size - 1, Deno.SeekMode.Start);
        await r.read(last);
      } finally {
        r.close();
      }
      if (last[0] !== 0x0a) await log.writeWhole(log.encoder.encode("\n"));
    }
    return log;
  }

  private async writeWhole(bytes: Uint8Array): Promise<void> {
    if (!this.file) throw new MetricsError(`${this.path}: the metrics log is closed`);
    // One write() for the whole line. Regular files write it in full; the loop only
    // matters if the OS ever returns short (e.g. a full disk), to report rather than drop.
    let off = await this.file.write(bytes);
    while (off < bytes.length) off += await this.file.write(bytes.subarray(off));
  }

  async append(record: MetricsRecord): Promise<void> {
    await this.writeWhole(this.encoder.encode(formatMetricsLine(record)));
  }

  /** Flushes to disk (the loop calls this with each checkpoint, so the log covers it). */
  async sync(): Promise<void> {
    await this.file?.sync();
  }

  close(): void {
    this.file?.close();
    this.file = null;
  }
}

/** Reads and parses `<runDir>/metrics.jsonl`; [] when it does not exist yet. */
export async function readMetricsFile(runDir: string, opts: { strict?: boolean } = {}): Promise<MetricsRecord[]> {
  const path = `${runDir.replace(/\/+$/, "")}/metrics.jsonl`;
  try {
    return readMetrics(await Deno.readTextFile(path), { ...opts, source: path });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

// ---------------------------------------------------------------- run.json

export const RUN_STATUSES = ["running", "finished", "failed", "stopped"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export interface RunInfo {
  /** The run's name (its directory under runs/). */
  name: string;
  /** Stage: base, mid, sft, rl. */
  stage: string;
  /** The resolved run config. */
  config: Record<string, unknown>;
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
  return r as unknown as RunInfo;
}

const runJsonPath = (runDir: string) => `${runDir.replace(/\/+$/, "")}/run.json`;

/** Writes run.json atomically (updated_at is set to now). */
export async function writeRunInfo(runDir: string, info: Omit<RunInfo, "updated_at"> & { updated_at?: string }): Promise<RunInfo> {
  const full = validateRunInfo({ ...info, updated_at: new Date().toISOString() }, runJsonPath(runDir));
  await writeFileAtomic(runJsonPath(runDir), JSON.stringify(full, null, 2) + "\n");
  return full;
}

/** run.json of a run, or null when the run has none. */
export async function readRunInfo(runDir: string): Promise<RunInfo | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(runJsonPath(runDir));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new MetricsError(`${runJsonPath(runDir)} is not valid JSON (${(err as Error).message}); delete it and start the run again`);
  }
  return validateRunInfo(raw, runJsonPath(runDir));
}

/** Changes the status (and step / error) of an existing run.json. */
export async function updateRunStatus(runDir: string, status: RunStatus, extra: { step?: number; error?: string } = {}): Promise<RunInfo> {
  const info = await readRunInfo(runDir);
  if (!info) throw new MetricsError(`${runJsonPath(runDir)} does not exist; write it with writeRunInfo when the run starts`);
  return writeRunInfo(runDir, { ...info, ...extra, status });
}
