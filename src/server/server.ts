// The lab server: a JSON API over the runs directory (summaries, metrics, live metric
// events, samples, checkpoint and tokenizer files) plus the built web app. docs/lab.md
// documents the API. Only GET and HEAD; every path goes through paths.ts first.
import { metricsEventStream, resumeAfter } from "./events.ts";
import { errorResponse, fileResponse, HttpError, json } from "./http.ts";
import { checkName, mustOpen, mustResolve, parseTarget, readOpened } from "./paths.ts";
import { TrainingData } from "./data.ts";
import { Runs } from "./runs.ts";
import { staticResponse } from "./static.ts";

export interface LabServerOptions {
  /** The runs directory (runs/<run>/run.json, metrics.jsonl, checkpoints/, tokenizer/). */
  runsDir: string;
  /** Archived pipelines (archive/LABEL/RUN, from deno task archive), listed as LABEL~RUN; null: none. */
  archiveDir?: string | null;
  /** The shards in-tab training reads (GET /api/data…; default data/base_data, as `train base`). */
  dataDir?: string;
  /** The tokenizer in-tab training uses (default data/tokenizer). */
  tokenizerDir?: string;
  /** The web build to serve (build/web); null or missing: "/" says how to build it. */
  webDir?: string | null;
  /** Interface to listen on (default 127.0.0.1). */
  hostname?: string;
  /** Port (default 8787; 0 picks a free one). */
  port?: number;
  /** How often the metrics event stream looks at the files (default 250 ms). */
  pollMs?: number;
  /** Quiet time after which the event stream sends a keepalive comment (default 15 s). */
  keepaliveMs?: number;
  /** Where request errors are reported (default: nowhere). */
  log?: (line: string) => void;
}

export interface LabServer {
  url: string;
  port: number;
  /** Stops the event streams, then the server; resolves when every connection is done. */
  close(): Promise<void>;
  /** Metric event streams open now (tests use it to check that disconnects stop the polling). */
  activeStreams(): number;
}

export const DEFAULT_PORT = 8787;
export const DEFAULT_HOST = "127.0.0.1";

const ENDPOINTS = [
  "/api/health", "/api/runs", "/api/runs/:run", "/api/runs/:run/metrics", "/api/runs/:run/metrics/events", "/api/runs/:run/samples",
  "/api/runs/:run/checkpoints", "/api/runs/:run/checkpoints/:step/:file", "/api/runs/:run/tokenizer/:file",
  "/api/runs/:run/report", "/api/runs/:run/report/:file", "/api/data", "/api/data/shards/:file", "/api/data/tokenizer/:file",
];

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/** The host part of a Host header ("127.0.0.1:8787" → "127.0.0.1", "[::1]:80" → "[::1]"). */
function hostOf(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(0, h.indexOf("]") + 1);
  const colon = h.lastIndexOf(":");
  return colon >= 0 ? h.slice(0, colon) : h;
}

export async function startLabServer(opts: LabServerOptions): Promise<LabServer> {
  const runs = new Runs(opts.runsDir, opts.archiveDir ?? null);
  const data = new TrainingData(opts.dataDir ?? "data/base_data", opts.tokenizerDir ?? "data/tokenizer");
  const webDir = opts.webDir ?? null;
  const hostname = opts.hostname ?? DEFAULT_HOST;
  const pollMs = opts.pollMs ?? 250;
  const keepaliveMs = opts.keepaliveMs ?? 15_000;
  const log = opts.log ?? (() => {});
  const streams = new Set<() => void>();
  // Bound to loopback, answer only requests addressed to a loopback name, so a web page
  // elsewhere cannot reach the runs through DNS rebinding.
  const loopbackOnly = LOOPBACK.has(hostname);

  async function api(req: Request, info: Deno.ServeHandlerInfo, segs: string[], query: URLSearchParams): Promise<Response> {
    const [first, run, sub, a, b, ...extra] = segs;
    if (first === "health" && segs.length === 1) return json({ ok: true, runs_dir: runs.runsDir });
    if (first === "runs" && segs.length === 1) return json({ runs: await runs.list() });
    if (first === "data" && segs.length === 1) return json(await data.describe());
    if (first === "data" && segs.length === 3 && run === "shards") return fileResponse(req, await data.shard(sub), sub);
    if (first === "data" && segs.length === 3 && run === "tokenizer") return fileResponse(req, await data.tokenizerFile(sub), sub);
    if (first !== "runs" || run === undefined || extra.length) throw unknownEndpoint(segs);
    const dir = await runs.runDir(run);
    if (sub === undefined) {
      const { summary, raw } = await runs.summary(run);
      return json({ ...summary, info: raw });
    }
    if (sub === "metrics" && a === undefined) return json({ records: await runs.records(dir) });
    if (sub === "metrics" && a === "events" && b === undefined) {
      const after = resumeAfter(req.headers.get("last-event-id"), query.get("after"));
      await runs.metricsPath(dir); // a link out of the run (or a directory in its place) is an error now, not in the stream
      const headers = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache, no-transform", "x-accel-buffering": "no" };
      if (req.method === "HEAD") return new Response(null, { headers });
      const track = (stop: () => void) => {
        streams.add(stop);
        return () => streams.delete(stop);
      };
      return new Response(metricsEventStream({ runs, run, dir, after, pollMs, keepaliveMs, done: info.completed, track }), { headers });
    }
    if (sub === "samples" && a === undefined) {
      const samples = (await runs.records(dir)).filter((r) => r.type === "sample").map((r) => ({ step: r.step ?? null, samples: r.samples ?? [] }));
      return json({ samples });
    }
    if (sub === "checkpoints" && a === undefined) return json({ checkpoints: await runs.checkpointDetails(dir) });
    if (sub === "checkpoints" && a !== undefined && b !== undefined) {
      const ckpt = await runs.checkpointDir(dir, run, a);
      checkName(b, "file name");
      return fileResponse(req, await mustOpen(ckpt, [b], `file ${b} of checkpoint ${Number(a)} of run '${run}'`, "GET …/checkpoints lists its files"), b);
    }
    if (sub === "tokenizer" && a !== undefined && b === undefined) {
      checkName(a, "file name");
      await mustResolve(dir, ["tokenizer"], `tokenizer/ of run '${run}'`, "training saves the run's tokenizer into runs/<run>/tokenizer/");
      const opened = await mustOpen(dir, ["tokenizer", a], `tokenizer/${a} of run '${run}'`, "its files are tokenizer.json, tokenizer.tiktoken, token_bytes.json");
      return fileResponse(req, opened, a);
    }
    if (sub === "report" && b === undefined) {
      const hint = `write it with: deno task report --run ${run}`;
      if (a === undefined) {
        const opened = await mustOpen(dir, ["report", "report.json"], `the report of run '${run}'`, hint);
        try {
          return json(JSON.parse(await readOpened(opened)));
        } catch (err) {
          if (err instanceof SyntaxError) throw new HttpError(500, `report/report.json of run '${run}' is not valid JSON; ${hint}`);
          throw err;
        }
      }
      checkName(a, "file name");
      const res = await fileResponse(req, await mustOpen(dir, ["report", a], `report/${a} of run '${run}'`, hint), a);
      // A picture or text to look at, never a page that runs anything.
      res.headers.set("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'");
      return res;
    }
    throw unknownEndpoint(segs);
  }

  async function handle(req: Request, info: Deno.ServeHandlerInfo): Promise<Response> {
    if (req.method !== "GET" && req.method !== "HEAD") {
      throw new HttpError(405, `${req.method} is not supported: the lab server is read-only (GET and HEAD only)`, { allow: "GET, HEAD" });
    }
    const host = req.headers.get("host");
    // A Host with userinfo ("user@host") names no server of ours, and an absolute-form
    // target ("GET http://other.host/x", which Deno passes through as the URL) addresses
    // another host: both are how proxies and caches get confused about whose answer this is.
    if (host !== null && host.includes("@")) throw new HttpError(400, `Host ${JSON.stringify(host.slice(0, 100))} carries userinfo (user@…); send the server's name only`);
    const url = new URL(req.url);
    let sameHost = host === null;
    try {
      sameHost ||= new URL(`http://${host!.trim()}`).host === url.host;
    } catch { /* an unparsable Host: refused below */ }
    if (!sameHost || url.username || url.password) {
      throw new HttpError(400, `the request target ${JSON.stringify(shortUrl(req.url))} is in absolute form for another host than Host ${JSON.stringify((host ?? "").slice(0, 100))}; send the path only (GET /api/…)`);
    }
    if (loopbackOnly && host !== null && !LOOPBACK.has(hostOf(host)) && !hostOf(host).endsWith(".localhost")) {
      throw new HttpError(400, `Host ${JSON.stringify(host.slice(0, 100))} is not this server's name: open it as http://127.0.0.1 or http://localhost (start it with --host 0.0.0.0 to serve other names)`);
    }
    const target = parseTarget(req.url);
    if (target.segments[0] === "api") return await api(req, info, target.segments.slice(1), target.query);
    return await staticResponse(req, webDir, target.segments);
  }

  const serveHandler = async (req: Request, info: Deno.ServeHandlerInfo): Promise<Response> => {
    info.completed.catch(() => {}); // a client that leaves mid-download is not an error
    let res: Response;
    try {
      res = await handle(req, info);
    } catch (err) {
      if (err instanceof HttpError) {
        res = errorResponse(err.status, err.message, err.headers);
        log(`${req.method} ${shortUrl(req.url)} → ${res.status}: ${err.message}`);
      } else {
        res = errorResponse(500, `internal error: ${(err as Error)?.message ?? err}; the lab server's terminal has the details`);
        log(`${req.method} ${shortUrl(req.url)} → 500: ${(err as Error)?.stack ?? err}`);
      }
    }
    res.headers.set("x-content-type-options", "nosniff");
    return res;
  };

  let listening!: Deno.NetAddr;
  const ready = Promise.withResolvers<void>();
  const server = Deno.serve({
    hostname,
    port: opts.port ?? DEFAULT_PORT,
    onListen: (addr) => {
      listening = addr as Deno.NetAddr;
      ready.resolve();
    },
    onError: (err) => {
      log(`error: ${(err as Error)?.stack ?? err}`);
      return errorResponse(500, `internal error: ${(err as Error)?.message ?? err}`);
    },
  }, serveHandler);
  await ready.promise;
  const port = listening.port;
  const urlHost = hostname === "0.0.0.0" || hostname === "::" ? "127.0.0.1" : hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname;

  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${port}/`,
    port,
    activeStreams: () => streams.size,
    close() {
      closing ??= (async () => {
        for (const stop of [...streams]) stop();
        await server.shutdown();
      })();
      return closing;
    },
  };
}

function unknownEndpoint(segs: string[]): HttpError {
  return new HttpError(404, `no API endpoint /api/${segs.join("/")}; the endpoints are ${ENDPOINTS.join(", ")} (see docs/lab.md)`);
}

/** A request URL for the log: the path only, cut to 200 characters. */
export function shortUrl(url: string): string {
  const path = url.replace(/^[a-z]+:\/\/[^/]*/i, "");
  return path.length > 200 ? path.slice(0, 200) + "…" : path;
}
