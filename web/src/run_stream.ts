// A run's metrics, live: an EventSource on /api/runs/:run/metrics/events keeps every
// record of metrics.jsonl in order. The server numbers each record by its 0-based line
// and tags it with the file it counts in (`id: <line>@<tag>`), so a reconnect — the
// browser's own (it sends Last-Event-ID) or ours after the connection was closed for
// good (we pass ?after=<line>@<tag>) — resumes after the last line we hold, and anything
// sent twice is dropped by its line. `event: reset` (the file was replaced or truncated,
// also while we were away: the server sees our tag is another file's) starts the records
// over. Bare numeric ids (an older server) work as before.
//
// A browser holds at most six HTTP/1.1 connections per server, and each open
// EventSource keeps one. So the hub keeps only MAX_LIVE streams open; the other runs
// "catch up": every CATCHUP_EVERY_MS their stream opens with ?after=, takes what is new,
// and closes once the server has been quiet for CATCHUP_QUIET_MS.
import { type MetricsRecord, runUrl, type RunSummary } from "./api.ts";

export type StreamState = "connecting" | "live" | "retrying" | "closed";

export interface RunStreamChange {
  /** Records added since the last change event, in line order. */
  added: MetricsRecord[];
  /** A new summary arrived (event: status). */
  status: boolean;
  /** The records were cleared first (event: reset). */
  reset: boolean;
}

/** What RunStream needs of EventSource (a fake stands in for it in tests). */
export type EventSourceFactory = (url: string) => EventSource;

const RETRY_MS = [500, 1000, 2000, 5000, 10000];
export const MAX_LIVE = 4;
const CATCHUP_EVERY_MS = 10_000;
const CATCHUP_QUIET_MS = 700;
const CATCHUP_MAX_MS = 5_000;

export class RunStream extends EventTarget {
  /** Records in line order. */
  readonly records: MetricsRecord[] = [];
  /** Highest line id held (-1 = none). */
  lastId = -1;
  /** The tag of the file the line ids count in, as the server sent it (null: none yet, or an older server). */
  lastTag: string | null = null;
  summary: RunSummary | null = null;
  state: StreamState = "connecting";
  /** The last connection problem, for the UI. */
  error: string | null = null;

  private source: EventSource | null = null;
  private pending: MetricsRecord[] = [];
  private pendingStatus = false;
  private pendingReset = false;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retries = 0;
  private seen = new Set<number>();
  /** Kept open (live) or opened now and then (catching up); see MAX_LIVE. */
  private live = true;
  private catchupTimer: ReturnType<typeof setTimeout> | null = null;
  private quietTimer: ReturnType<typeof setTimeout> | null = null;
  private catchupStarted = 0;

  constructor(readonly run: string, private factory: EventSourceFactory = (url) => new EventSource(url)) {
    super();
  }

  /** Opens the stream (again); a no-op while one is open. */
  start(): void {
    if (this.source) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const after = this.lastId >= 0 ? `${this.lastId}${this.lastTag ? `@${this.lastTag}` : ""}` : "";
    const url = runUrl(this.run, "/metrics/events") + (after ? `?after=${after}` : "");
    const es = this.factory(url);
    this.source = es;
    this.setState("connecting");
    es.addEventListener("open", () => {
      this.retries = 0;
      this.error = null;
      this.setState("live");
    });
    es.addEventListener("metric", (ev) => {
      this.onMetric(ev as MessageEvent<string>);
      this.noteActivity();
    });
    es.addEventListener("status", (ev) => {
      this.onStatus(ev as MessageEvent<string>);
      this.noteActivity();
    });
    es.addEventListener("reset", () => this.reset());
    this.catchupStarted = Date.now();
    this.noteActivity();
    es.addEventListener("error", (ev) => {
      // `event: error` from the server ({"error": …}: the run can no longer be read) arrives
      // under the same name as EventSource's own connection errors.
      if (ev instanceof MessageEvent && typeof ev.data === "string") {
        try {
          this.error = (JSON.parse(ev.data) as { error?: string }).error ?? ev.data;
        } catch {
          this.error = ev.data;
        }
        this.dispatchEvent(new CustomEvent("state", { detail: this.state }));
        return;
      }
      if (!this.live) {
        this.park(); // try again at the next catch-up
      } else if (es.readyState === EventSource.CLOSED) {
        // The server refused or the connection ended for good: try again ourselves.
        this.source = null;
        es.close();
        this.error = `lost the live stream of ${this.run}; retrying`;
        this.setState("retrying");
        const delay = RETRY_MS[Math.min(this.retries++, RETRY_MS.length - 1)];
        this.retryTimer = setTimeout(() => this.start(), delay);
      } else {
        this.setState("retrying"); // the browser reconnects by itself, with Last-Event-ID
      }
    });
  }

  close(): void {
    this.source?.close();
    this.source = null;
    for (const t of [this.retryTimer, this.flushTimer, this.catchupTimer, this.quietTimer]) if (t) clearTimeout(t);
    this.retryTimer = this.flushTimer = this.catchupTimer = this.quietTimer = null;
    this.setState("closed");
  }

  /** Live: the stream stays open. Not live: it catches up every few seconds and closes in between. */
  setLive(live: boolean): void {
    if (this.live === live) return;
    this.live = live;
    if (this.catchupTimer) clearTimeout(this.catchupTimer);
    this.catchupTimer = null;
    if (live) {
      if (this.quietTimer) clearTimeout(this.quietTimer);
      this.quietTimer = null;
      this.start();
    } else if (!this.source) {
      this.start();
    } else {
      this.noteActivity();
    }
  }

  get isLive(): boolean {
    return this.live;
  }

  // While catching up, each message pushes back the moment the stream is closed.
  private noteActivity(): void {
    if (this.live || !this.source) return;
    if (this.quietTimer) clearTimeout(this.quietTimer);
    const left = Math.max(0, this.catchupStarted + CATCHUP_MAX_MS - Date.now());
    this.quietTimer = setTimeout(() => this.park(), Math.min(CATCHUP_QUIET_MS, left));
  }

  private park(): void {
    this.source?.close();
    this.source = null;
    if (this.quietTimer) clearTimeout(this.quietTimer);
    this.quietTimer = null;
    this.setState("retrying");
    if (this.catchupTimer) clearTimeout(this.catchupTimer);
    this.catchupTimer = setTimeout(() => {
      this.catchupTimer = null;
      if (!this.live) this.start();
    }, CATCHUP_EVERY_MS);
  }

  /** Adds one record with its line id (exposed for tests and for seeding from GET /metrics). */
  add(record: MetricsRecord, id: number | null): void {
    if (id !== null) {
      if (this.seen.has(id)) return;
      this.seen.add(id);
      if (id > this.lastId) this.lastId = id;
    }
    if (id !== null && this.records.length && id < this.lastId) {
      // Out of order (a replay filled a hole): keep line order.
      const at = this.records.findIndex((r) => ((r as { __line?: number }).__line ?? 0) > id);
      Object.defineProperty(record, "__line", { value: id, enumerable: false });
      this.records.splice(at < 0 ? this.records.length : at, 0, record);
    } else {
      if (id !== null) Object.defineProperty(record, "__line", { value: id, enumerable: false });
      this.records.push(record);
    }
    this.pending.push(record);
    this.scheduleFlush();
  }

  /** Forgets every record (metrics.jsonl was replaced); listeners get a change with reset: true. */
  reset(): void {
    this.records.length = 0;
    this.seen.clear();
    this.lastId = -1;
    this.lastTag = null;
    this.pending = [];
    this.pendingReset = true;
    this.scheduleFlush();
  }

  private onMetric(ev: MessageEvent<string>): void {
    let record: unknown;
    try {
      record = JSON.parse(ev.data);
    } catch {
      return; // not a record: ignore rather than break the curves
    }
    if (typeof record !== "object" || record === null || Array.isArray(record)) return;
    const m = /^(\d+)(?:@([0-9a-z]+))?$/.exec(ev.lastEventId ?? "");
    if (m?.[2]) this.lastTag = m[2];
    this.add(record as MetricsRecord, m ? Number(m[1]) : null);
  }

  private onStatus(ev: MessageEvent<string>): void {
    try {
      const body = JSON.parse(ev.data) as RunSummary | { run: RunSummary };
      this.summary = "run" in body && typeof body.run === "object" ? body.run : body as RunSummary;
      this.pendingStatus = true;
      this.scheduleFlush();
    } catch { /* ignore a malformed status */ }
  }

  // Many records arrive at once when a stream opens: one change event per batch.
  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      const detail: RunStreamChange = { added: this.pending, status: this.pendingStatus, reset: this.pendingReset };
      this.pending = [];
      this.pendingStatus = false;
      this.pendingReset = false;
      this.dispatchEvent(new CustomEvent<RunStreamChange>("change", { detail }));
    }, 30);
  }

  private setState(state: StreamState): void {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: state }));
  }
}

/** One RunStream per run, shared by every view that shows the run. */
export class StreamHub {
  private streams = new Map<string, { stream: RunStream; users: number }>();
  constructor(private factory?: EventSourceFactory, private maxLive = MAX_LIVE) {}

  acquire(run: string): RunStream {
    let e = this.streams.get(run);
    if (!e) {
      const live = this.liveCount() < this.maxLive;
      e = { stream: new RunStream(run, this.factory), users: 0 };
      this.streams.set(run, e);
      e.stream.setLive(live);
      e.stream.start();
    }
    e.users++;
    return e.stream;
  }

  private liveCount(): number {
    let n = 0;
    for (const e of this.streams.values()) if (e.stream.isLive) n++;
    return n;
  }

  /** Fills free live slots with waiting runs, running ones first. */
  private rebalance(): void {
    const waiting = [...this.streams.values()].filter((e) => !e.stream.isLive);
    waiting.sort((a, b) => Number(b.stream.summary?.status === "running") - Number(a.stream.summary?.status === "running"));
    for (const e of waiting) {
      if (this.liveCount() >= this.maxLive) break;
      e.stream.setLive(true);
    }
  }

  release(run: string): void {
    const e = this.streams.get(run);
    if (!e) return;
    if (--e.users <= 0) {
      e.stream.close();
      this.streams.delete(run);
      this.rebalance();
    }
  }
}

export const streamHub = new StreamHub();
