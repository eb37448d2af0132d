// The live metrics stream (Server-Sent Events): backlog, appends while connected, a line
// torn mid-write, status on run.json changes, resume after Last-Event-ID / ?after,
// keepalives, truncation, and that disconnects and server close stop the polling.
import assert from "node:assert/strict";
import { formatMetricsLine } from "../../src/formats/metrics.ts";
import { MetricsLog, updateRunStatus } from "../../src/train/deno_metrics.ts";
import { getJson, trainRecord, withServer } from "./server_fixture.ts";

interface Sse {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

class SseClient {
  events: Sse[] = [];
  private buf = "";
  private reader: ReadableStreamDefaultReader<string>;
  private pending: Promise<ReadableStreamReadResult<string>> | null = null;
  ended = false;

  constructor(readonly res: Response) {
    this.reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const res = await fetch(url, { headers: { accept: "text/event-stream", ...headers } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    return new SseClient(res);
  }

  metrics(): { id: number; data: Record<string, unknown> }[] {
    return this.events.filter((e) => e.event === "metric").map((e) => ({ id: Number(e.id!.split("@")[0]), data: JSON.parse(e.data!) })); // id: <line>@<file tag>
  }

  /** Reads until `pred` holds (or the stream ends, or `ms` pass: then it throws with what came). */
  async until(pred: (c: SseClient) => boolean, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred(this)) {
      if (this.ended) throw new Error(`stream ended; events: ${JSON.stringify(this.events)}`);
      this.pending ??= this.reader.read();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const r = await Promise.race([this.pending, new Promise<"timeout">((res) => timer = setTimeout(() => res("timeout"), Math.max(0, deadline - Date.now())))]);
      clearTimeout(timer);
      if (r === "timeout") throw new Error(`timed out; events: ${JSON.stringify(this.events)}`);
      this.pending = null;
      if (r.done) {
        this.ended = true;
        continue;
      }
      this.buf += r.value;
      for (let end; (end = this.buf.indexOf("\n\n")) >= 0;) {
        const block = this.buf.slice(0, end);
        this.buf = this.buf.slice(end + 2);
        const ev: Sse = {};
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) ev.comment = line.slice(1).trim();
          const m = /^(id|event|data): (.*)$/.exec(line);
          if (m) ev[m[1] as "id" | "event" | "data"] = m[2];
        }
        if (Object.keys(ev).length) this.events.push(ev); // "retry:" alone is no event
      }
    }
  }

  /** Waits `ms` and returns what arrived meanwhile (nothing is expected). */
  async quiet(ms: number): Promise<Sse[]> {
    const before = this.events.length;
    await this.until(() => false, ms).catch(() => {});
    return this.events.slice(before);
  }

  async close(): Promise<void> {
    await this.reader.cancel().catch(() => {});
  }
}

const waitFor = async (cond: () => boolean, ms = 2000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
};

Deno.test("lab events: backlog, appends while connected, a torn line waits for its newline, status on run.json changes", () =>
  withServer(async ({ url, fx, server }) => {
    const sse = await SseClient.open(`${url}/api/runs/alpha/metrics/events`);
    try {
      await sse.until((c) => c.metrics().length === 7);
      assert.equal(sse.events[0].event, "status", "the run's summary comes first");
      assert.equal(JSON.parse(sse.events[0].data!).status, "running");
      assert.deepEqual(sse.metrics().map((m) => m.id), [0, 1, 2, 3, 4, 5, 6]);
      assert.deepEqual(sse.metrics()[2].data, trainRecord(2));

      const dir = `${fx.runsDir}/alpha`;
      const log = await MetricsLog.open(dir);
      await log.append(trainRecord(5));
      log.close();
      await sse.until((c) => c.metrics().length === 8);
      assert.deepEqual(sse.metrics()[7], { id: 7, data: trainRecord(5) });

      // A record caught between two writes: nothing is sent until its newline arrives.
      const line = formatMetricsLine(trainRecord(6));
      await Deno.writeTextFile(`${dir}/metrics.jsonl`, line.slice(0, 20), { append: true });
      assert.deepEqual((await sse.quiet(150)).filter((e) => e.event === "metric"), []);
      await Deno.writeTextFile(`${dir}/metrics.jsonl`, line.slice(20), { append: true });
      await sse.until((c) => c.metrics().length === 9);
      assert.deepEqual(sse.metrics()[8], { id: 8, data: trainRecord(6) });

      await updateRunStatus(dir, "finished", { step: 6 });
      await sse.until((c) => c.events.filter((e) => e.event === "status").length === 2);
      const status = JSON.parse(sse.events.filter((e) => e.event === "status")[1].data!);
      assert.equal(status.status, "finished");
      assert.equal(status.step, 6);
      assert.equal(server.activeStreams(), 1);
    } finally {
      await sse.close();
    }
    await waitFor(() => server.activeStreams() === 0); // the client went away: the polling stops
  }));

Deno.test("lab events: Last-Event-ID and ?after resume without repeats; bad values are 400", () =>
  withServer(async ({ url }) => {
    const ids = async (query: string, headers: Record<string, string> = {}) => {
      const sse = await SseClient.open(`${url}/api/runs/alpha/metrics/events${query}`, headers);
      try {
        await sse.until((c) => c.metrics().at(-1)?.id === 6);
        return sse.metrics().map((m) => m.id);
      } finally {
        await sse.close();
      }
    };
    assert.deepEqual(await ids("", { "last-event-id": "3" }), [4, 5, 6]);
    assert.deepEqual(await ids("?after=1"), [2, 3, 4, 5, 6]);
    assert.deepEqual(await ids("?after=0", { "last-event-id": "4" }), [5, 6], "the header (a reconnect) wins over the URL");
    assert.deepEqual(await ids("?after=-1"), [0, 1, 2, 3, 4, 5, 6]);
    for (const [q, h] of [["?after=abc", {}], ["?after=-5", {}], ["", { "last-event-id": "1.5" }]] as const) {
      const r = await getJson(`${url}/api/runs/alpha/metrics/events${q}`, { headers: h });
      assert.equal(r.status, 400, q);
      assert.match(r.body.error as string, /must be a line number/);
    }
    const gone = await getJson(`${url}/api/runs/nope/metrics/events`);
    assert.equal(gone.status, 404);
    const head = await fetch(`${url}/api/runs/alpha/metrics/events`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-type"), "text/event-stream; charset=utf-8");
    await head.body?.cancel();
  }));

Deno.test("lab events: a run without metrics yet, truncation resets the ids, keepalives on a quiet stream", () =>
  withServer(async ({ url, fx }) => {
    const dir = `${fx.runsDir}/fresh`;
    await Deno.mkdir(dir);
    const sse = await SseClient.open(`${url}/api/runs/fresh/metrics/events`);
    try {
      await sse.until((c) => c.events.some((e) => e.comment === "keepalive"));
      assert.equal(sse.events[0].event, "status");
      assert.equal(JSON.parse(sse.events[0].data!).status, "unknown");
      await Deno.writeTextFile(`${dir}/metrics.jsonl`, formatMetricsLine(trainRecord(0)) + formatMetricsLine(trainRecord(1)));
      await sse.until((c) => c.metrics().length === 2);
      await Deno.writeTextFile(`${dir}/metrics.jsonl`, formatMetricsLine(trainRecord(9)));
      await sse.until((c) => c.metrics().length === 3);
      assert.ok(sse.events.some((e) => e.event === "reset"));
      assert.deepEqual(sse.metrics()[2], { id: 0, data: trainRecord(9) });
    } finally {
      await sse.close();
    }
  }, { keepaliveMs: 60 }));

Deno.test("lab events: closing the server ends open streams and leaves no timer behind", () =>
  withServer(async ({ url, server }) => {
    const a = await SseClient.open(`${url}/api/runs/alpha/metrics/events`);
    const b = await SseClient.open(`${url}/api/runs/gamma/metrics/events`);
    await a.until((c) => c.metrics().length === 7);
    await b.until((c) => c.metrics().length === 2);
    assert.equal(server.activeStreams(), 2);
    await server.close();
    assert.equal(server.activeStreams(), 0);
    for (const c of [a, b]) {
      await c.until((x) => x.ended);
      await c.close();
    }
  }));

Deno.test("lab events: metrics.jsonl turning into a link out of runs/ ends the stream with an error event, never the target", () =>
  withServer(async ({ url, fx }) => {
    const dir = `${fx.runsDir}/turned`;
    await Deno.mkdir(dir);
    await Deno.writeTextFile(`${dir}/metrics.jsonl`, formatMetricsLine(trainRecord(0)));
    const sse = await SseClient.open(`${url}/api/runs/turned/metrics/events`);
    try {
      await sse.until((c) => c.metrics().length === 1);
      await Deno.remove(`${dir}/metrics.jsonl`);
      await Deno.symlink(`${fx.root}/outside/secret.txt`, `${dir}/metrics.jsonl`);
      await sse.until((c) => c.ended);
      const err = sse.events.find((e) => e.event === "error");
      assert.ok(err, JSON.stringify(sse.events));
      assert.match(JSON.parse(err.data!).error, /metrics\.jsonl/);
      assert.ok(!JSON.stringify(sse.events).includes(fx.secret));
    } finally {
      await sse.close();
    }
  }));

Deno.test("lab events: a quiet stream polls every pollMs, not in a busy loop", () =>
  withServer(async ({ url, fx }) => {
    const dir = `${fx.runsDir}/slow`;
    await Deno.mkdir(dir);
    await Deno.writeTextFile(`${dir}/metrics.jsonl`, formatMetricsLine(trainRecord(0)));
    const sse = await SseClient.open(`${url}/api/runs/slow/metrics/events`);
    try {
      await sse.until((c) => c.metrics().length === 1);
      await new Promise((r) => setTimeout(r, 100)); // the stream is asleep now
      await Deno.writeTextFile(`${dir}/metrics.jsonl`, formatMetricsLine(trainRecord(1)), { append: true });
      assert.deepEqual((await sse.quiet(250)).filter((e) => e.event === "metric"), [], "an append waits for the next poll");
      await sse.until((c) => c.metrics().length === 2, 2000);
    } finally {
      await sse.close();
    }
  }, { pollMs: 800 }));
