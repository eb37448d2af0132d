// Writing a run's metrics.jsonl and run.json under Deno (formats: src/formats/metrics.ts).
//
// Each record goes out as one write() of the complete line, "\n" included, to a file
// opened with O_APPEND: the kernel places each write at the end in one piece, so a reader
// sees either the whole line or none of it (and keeps only lines that end in "\n").
//
// run.json is small and rewritten whole (writeFileAtomic: temp file + rename), so a
// reader gets the old or the new version, never a mix.
import { writeFileAtomic } from "../io/deno_files.ts";
import { formatMetricsLine, MetricsError, type MetricsRecord, readMetrics, type RunInfo, type RunStatus, validateRunInfo } from "../formats/metrics.ts";

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

/**
 * Before a resume from the checkpoint at `step`: drops the records of steps ≥ `step`
 * (logged after that checkpoint was saved, or its own step's eval and samples, which the
 * resumed loop logs again), so metrics.jsonl keeps one record per step and kind. The file
 * is rewritten atomically; lines without a step, or that do not parse, are kept as they
 * are. Returns how many records were dropped.
 */
export async function dropMetricsFrom(runDir: string, step: number): Promise<number> {
  const path = `${runDir.replace(/\/+$/, "")}/metrics.jsonl`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return 0;
    throw err;
  }
  const end = text.lastIndexOf("\n") + 1; // a torn last line (a kill mid-write) goes too
  const kept: string[] = [];
  let dropped = 0;
  for (const line of text.slice(0, end).split("\n").slice(0, -1)) {
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch { /* kept: readers skip it and report it */ }
    const s = (rec as { step?: unknown } | undefined)?.step;
    if (typeof s === "number" && s >= step) dropped++;
    else kept.push(line + "\n");
  }
  if (dropped > 0 || end < text.length) await writeFileAtomic(path, kept.join(""));
  return dropped;
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
