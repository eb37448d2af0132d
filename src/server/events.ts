// GET /api/runs/:run/metrics/events: metrics.jsonl as Server-Sent Events, live.
//
//   id: <0-based line number>@<file tag>   one event per complete line, in file order
//   event: metric
//   data: <the record as JSON>
//
// The stream starts after the line named by the Last-Event-ID header (what EventSource
// sends when it reconnects) or ?after=N[@tag], so a reconnect never repeats a record.
// The tag names the file the line numbers count in (its device, inode and first line):
// a client that comes back after metrics.jsonl was replaced while it was away (a resume
// rewrites it) holds a tag of the old file, so it gets `reset` and the new file from its
// first line, instead of the new file's lines up to its old number being skipped. A bare
// number (older clients) is taken as it is. It then
// polls the file every pollMs (no Deno.watchFs: it misses appends on some filesystems)
// and sends each line once its "\n" has arrived. `event: status` carries the RunSummary
// when the stream starts and whenever run.json changes; `event: reset` says metrics.jsonl
// was replaced or truncated and the ids start again at 0; `: keepalive` comments keep
// proxies from closing a quiet stream. The poll timer stops when the client goes away
// (the handler's `completed` promise, stream cancel) or the server closes.
import { HttpError } from "./http.ts";
import { resolveInside } from "./paths.ts";
import type { Runs } from "./runs.ts";
import { completeLines, readFrom } from "./tail.ts";

export interface MetricsEventsOptions {
  runs: Runs;
  run: string;
  /** The run's real directory. */
  dir: string;
  /** Last line id the client has (-1: send everything), and the tag of the file it counts in (null: not said). */
  after: ResumePoint;
  pollMs: number;
  keepaliveMs: number;
  /** Settles when the response has been delivered or the client went away (Deno.ServeHandlerInfo.completed). */
  done: Promise<unknown>;
  /** Registers a stop function the server calls when it closes; returns its unregister. */
  track(stop: () => void): () => void;
}

export interface ResumePoint {
  line: number;
  tag: string | null;
}

/** Reads the resume point: Last-Event-ID wins over ?after (EventSource keeps the first URL). */
export function resumeAfter(lastEventId: string | null, after: string | null): ResumePoint {
  const raw = (lastEventId ?? after)?.trim() ?? null;
  if (raw === null || raw === "") return { line: -1, tag: null };
  const m = /^(-?\d{1,15})(?:@([0-9a-z]{1,16}))?$/.exec(raw);
  if (!m || Number(m[1]) < -1) {
    throw new HttpError(
      400,
      `${lastEventId !== null ? "Last-Event-ID" : "?after"} must be a line number (an integer ≥ -1), optionally with the file tag the stream sent (N@tag), got ${JSON.stringify(raw.slice(0, 40))}`,
    );
  }
  return { line: Number(m[1]), tag: m[2] ?? null };
}

/**
 * The tag of a metrics file: FNV-1a over its device, inode and first line. A replaced file
 * has another inode (or, reused, most likely another first line: its records carry times);
 * one truncated and rewritten in place starts with another first line.
 */
export function fileTag(info: Deno.FileInfo, firstLine: string): string {
  let h = 0x811c9dc5;
  for (const ch of `${info.dev}:${info.ino}:${firstLine}`) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36);
}

/** A line is sent at most this many bytes at a time from the file (more is read at once only for a longer line). */
const READ_CAP = 1 << 20;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

const event = (name: string, data: unknown, id?: string) => `${id !== undefined ? `id: ${id}\n` : ""}event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

export function metricsEventStream(o: MetricsEventsOptions): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const wake = new AbortController();
  let stopped = false;
  let controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  let offset = 0, line = 0, ino: number | null = null;
  let statusKey: string | null = null;
  let after = o.after.line;
  /** The tag of the file being sent: known once its first line has been read. */
  let tag: string | null = null;
  /** The client's tag, until it has been compared with the file's. */
  let clientTag = o.after.tag;
  let lastSent = Date.now();

  const stop = () => {
    if (stopped) return;
    stopped = true;
    wake.abort();
    untrack();
    try {
      controller?.close();
    } catch { /* already closed or cancelled */ }
  };
  const untrack = o.track(stop);
  o.done.then(stop, stop);

  /** Everything to send now ("" when nothing changed) and whether more is waiting. */
  async function tick(): Promise<{ text: string; more: boolean }> {
    let text = "";
    const rj = await resolveInside(o.dir, ["run.json"]);
    const st = rj.ok ? await Deno.stat(rj.path).catch(() => null) : null;
    const key = rj.ok ? `${st?.ino}:${st?.size}:${st?.mtime?.getTime()}` : rj.reason;
    if (key !== statusKey) {
      statusKey = key;
      text += event("status", (await o.runs.summary(o.run)).summary);
    }
    let more = false;
    const path = await o.runs.metricsPath(o.dir);
    const info = path ? await Deno.stat(path).catch(() => null) : null;
    if (path && info?.isFile) {
      if ((ino !== null && info.ino !== ino) || info.size < offset) {
        offset = 0;
        line = 0;
        tag = null;
        // The client's resume point was a line of the old file: the new file is sent whole.
        after = -1;
        clientTag = null;
        text += event("reset", { reason: "metrics.jsonl was replaced or truncated; ids start again at 0" });
      }
      ino = info.ino;
      if (info.size > offset) {
        let bytes = await readFrom(path, offset, READ_CAP);
        if (bytes.length === READ_CAP && bytes.lastIndexOf(0x0a) < 0) bytes = await readFrom(path, offset); // one very long line
        const chunk = completeLines(bytes);
        offset += chunk.bytes;
        more = bytes.length === READ_CAP && chunk.bytes > 0;
        if (tag === null && line === 0 && chunk.lines > 0) {
          tag = fileTag(info, chunk.text.slice(0, chunk.text.indexOf("\n")));
          if (clientTag !== null && clientTag !== tag) {
            // The client counted lines of another file (replaced while it was away): its
            // records are not this file's, so it starts over and gets every line.
            after = -1;
            text += event("reset", { reason: "metrics.jsonl is another file than the one your last id counts in; ids start again at 0" });
          }
          clientTag = null;
        }
        for (const l of chunk.text.split("\n").slice(0, -1)) {
          const id = line++;
          if (id <= after || l.trim() === "") continue;
          let value: unknown;
          try {
            value = JSON.parse(l);
          } catch {
            continue; // a line a crash tore: skipped, as parseMetrics does
          }
          if (typeof value === "object" && value !== null && !Array.isArray(value)) text += event("metric", value, `${id}@${tag}`);
        }
      }
    }
    if (!text && Date.now() - lastSent >= o.keepaliveMs) text = ": keepalive\n\n";
    return { text, more };
  }

  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      c.enqueue(encoder.encode(`retry: 2000\n\n`));
    },
    async pull(c) {
      while (!stopped) {
        let r: { text: string; more: boolean };
        try {
          r = await tick();
        } catch (err) {
          if (stopped) return;
          const message = err instanceof HttpError ? err.message : `reading run '${o.run}' failed: ${(err as Error)?.message ?? err}`;
          c.enqueue(encoder.encode(event("error", { error: message })));
          stop();
          return;
        }
        if (stopped) return;
        if (r.text) {
          c.enqueue(encoder.encode(r.text));
          lastSent = Date.now();
          return; // the next pull comes when the client has taken this
        }
        if (!r.more) await sleep(o.pollMs, wake.signal);
      }
    },
    cancel: stop,
  });
}
