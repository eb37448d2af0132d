// Reading metrics.jsonl while a run appends to it: bytes from an offset, split at the last
// "\n" (a line without its newline is still being written and waits for the next read),
// and a per-file cache of the figures a run summary needs, so listing runs re-reads only
// what was appended since the last request.
import { type MetricsRecord, parseMetrics } from "../formats/metrics.ts";
import { HttpError } from "./http.ts";
import { openInside } from "./paths.ts";

const NL = 0x0a;

/**
 * Bytes of `path` from `offset` to its current end (at most `max`). The file is opened and
 * then proved to lie in its directory (paths.ts openInside), so a swap of the run
 * directory for a link between the caller's check and this read cannot read outside.
 */
export async function readFrom(path: string, offset: number, max = Infinity): Promise<Uint8Array> {
  const slash = path.lastIndexOf("/");
  const r = await openInside(path.slice(0, slash), [path.slice(slash + 1)]);
  if (!r.ok) throw new HttpError(404, `${path.slice(slash + 1)} is ${r.reason === "missing" ? "gone" : "a link that leads outside the run directory"}; not read`);
  const file = r.opened.file;
  try {
    const size = (await file.stat()).size;
    const total = Math.min(max, size - offset);
    if (total <= 0) return new Uint8Array(0);
    await file.seek(offset, Deno.SeekMode.Start);
    const out = new Uint8Array(total);
    let got = 0;
    while (got < total) {
      const n = await file.read(out.subarray(got));
      if (n === null) break;
      got += n;
    }
    return out.subarray(0, got);
  } finally {
    file.close();
  }
}

/** The complete lines at the start of `bytes`: their text and their byte length (newline included). */
export function completeLines(bytes: Uint8Array): { text: string; bytes: number; lines: number } {
  const end = bytes.lastIndexOf(NL) + 1;
  let lines = 0;
  for (let i = 0; i < end; i++) if (bytes[i] === NL) lines++;
  return { text: new TextDecoder().decode(bytes.subarray(0, end)), bytes: end, lines };
}

/** What a run summary shows from metrics.jsonl. */
export interface MetricsStats {
  lastTrain: MetricsRecord | null;
  lastEval: MetricsRecord | null;
  /** Highest `step` of any record. */
  lastStep: number | null;
  /** Complete lines that are not JSON objects (1-based line numbers), skipped. */
  badLines: number[];
  lines: number;
  mtime: Date | null;
}

interface Entry extends MetricsStats {
  ino: number | null;
  size: number;
  mtimeMs: number;
  consumed: number;
}

const fresh = (ino: number | null): Entry => ({
  lastTrain: null, lastEval: null, lastStep: null, badLines: [], lines: 0, mtime: null, ino, size: -1, mtimeMs: -1, consumed: 0,
});

/** MetricsStats per file, read incrementally; one per server. */
export class MetricsStatsCache {
  private entries = new Map<string, Entry>();

  async get(path: string): Promise<MetricsStats> {
    const info = await Deno.stat(path);
    if (!info.isFile) throw new Error("is not a regular file");
    const mtimeMs = info.mtime?.getTime() ?? 0;
    let e = this.entries.get(path);
    // A different file (replaced) or a shorter one (truncated): start over.
    if (!e || e.ino !== info.ino || info.size < e.consumed) e = fresh(info.ino);
    if (e.size !== info.size || e.mtimeMs !== mtimeMs) {
      const chunk = completeLines(await readFrom(path, e.consumed));
      const parsed = parseMetrics(chunk.text);
      for (const r of parsed.records) {
        if (r.type === "train") e.lastTrain = r;
        else if (r.type === "eval") e.lastEval = r;
        if (typeof r.step === "number" && Number.isFinite(r.step)) e.lastStep = Math.max(e.lastStep ?? r.step, r.step);
      }
      e.badLines.push(...parsed.badLines.map((n) => n + e!.lines));
      e.lines += chunk.lines;
      e.consumed += chunk.bytes;
      e.size = info.size;
      e.mtimeMs = mtimeMs;
      e.mtime = info.mtime;
    }
    this.entries.set(path, e);
    return e;
  }
}
