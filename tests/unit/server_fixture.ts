// A runs directory in the real on-disk formats for the lab server tests, with hostile
// links in it, plus small HTTP helpers (fetch and a raw HTTP/1.1 client: fetch
// normalises "../" and "%2e%2e" before sending, the raw client sends the path as is).
import { RUN_LOCK_FILE } from "../../src/formats/metrics.ts";
import { type GPTConfig, paramShapes } from "../../src/model/config.ts";
import { startLabServer } from "../../src/server/server.ts";
import { saveCheckpoint } from "../../src/train/deno_checkpoint.ts";
import { formatMetricsLine } from "../../src/formats/metrics.ts";
import { MetricsLog, writeRunInfo } from "../../src/train/deno_metrics.ts";
import { Rng } from "../../src/util/rng.ts";

export const CFG: GPTConfig = { sequence_len: 16, vocab_size: 40, n_layer: 1, n_head: 2, n_kv_head: 1, n_embd: 8 };

export interface Fixture {
  root: string;
  runsDir: string;
  webDir: string;
  /** Text of a file outside runs/ that no response may ever contain. */
  secret: string;
  cleanup(): Promise<void>;
}

function params(seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  return new Map(paramShapes(CFG).map(({ name, shape }) => [name, Float32Array.from({ length: shape[0] * shape[1] }, () => rng.normal())]));
}

const meta = { user_config: { depth: 1 }, val_bpb: 2.5, loader_state: null, rng_state: null, metrics: {}, tokenizer: null };

export const trainRecord = (step: number) => ({ type: "train", step, loss: 5 - step / 10, tok_per_sec: 1000 + step, time: 1e9 + step });

/**
 * runs/
 *   alpha/   run.json (running), metrics.jsonl (train 0..4, eval, sample), checkpoints 2, 4 (with optim), 6 (bad meta.json),
 *            tokenizer/ (+ links to the secret and /etc/passwd), step_000009 → a checkpoint outside
 *   beta/    corrupt run.json, metrics.jsonl
 *   gamma/   metrics.jsonl only, old, a torn last line and a bad complete line
 *   delta/   run.json → the secret file; metrics.jsonl → the secret file
 *   eps/     finished run.json; metrics.jsonl is a directory
 *   evil     → outside/ ;  etc → /etc ;  sib → runs-private/sib (a sibling whose name starts with "runs") ;  notarun/ (no run files)
 * outside/secret.txt, outside/step_000009/ ; web/ index.html, assets/app-abcdef12.js, assets/_helpers-abcdef12.js,
 *   leak.txt → secret, .env (holding the secret: dot files are never served)
 */
export async function makeFixture(): Promise<Fixture> {
  const root = await Deno.makeTempDir({ prefix: "lab_server_test_" });
  const runsDir = `${root}/runs`, outside = `${root}/outside`, webDir = `${root}/web`;
  const secret = `TOPSECRET-${crypto.randomUUID()}`;
  await Deno.mkdir(outside, { recursive: true });
  await Deno.writeTextFile(`${outside}/secret.txt`, secret + "\n");

  const alpha = `${runsDir}/alpha`;
  await writeRunInfo(alpha, { name: "alpha", stage: "base", config: { depth: 1, run: "alpha" }, adapter: "test adapter", started_at: new Date().toISOString(), status: "running", step: 0 });
  // alpha is live: its owner lock names this (running) test process, as a training's would.
  await Deno.writeTextFile(`${alpha}/${RUN_LOCK_FILE}`, JSON.stringify({ pid: Deno.pid, hostname: Deno.hostname(), started_at: new Date().toISOString(), command: "test" }));
  const log = await MetricsLog.open(alpha);
  for (let s = 0; s < 5; s++) await log.append(trainRecord(s));
  await log.append({ type: "eval", step: 4, val_bpb: 2.25, val_loss: 3.1 });
  await log.append({ type: "sample", step: 4, samples: ["The capital of France is", "hello"] });
  log.close();
  await saveCheckpoint(alpha, 2, { params: params(1), cfg: CFG, meta });
  const p4 = params(2);
  await saveCheckpoint(alpha, 4, { params: p4, cfg: CFG, meta, optimizer: { tensors: new Map([["adamw.m.lm_head.weight", p4.get("lm_head.weight")!]]), meta: { adamw_step: "4" } } });
  await saveCheckpoint(alpha, 6, { params: params(3), cfg: CFG, meta });
  await Deno.writeTextFile(`${alpha}/checkpoints/step_000006/meta.json`, "{not json");
  await saveCheckpoint(outside, 9, { params: params(4), cfg: CFG, meta });
  await Deno.symlink(`${outside}/checkpoints/step_000009`, `${alpha}/checkpoints/step_000009`);
  await Deno.mkdir(`${alpha}/tokenizer`);
  await Deno.writeTextFile(`${alpha}/tokenizer/tokenizer.json`, JSON.stringify({ format: "test", merges: [] }));
  await Deno.writeTextFile(`${alpha}/tokenizer/tokenizer.tiktoken`, "IQ== 0\nIg== 1\n");
  await Deno.writeTextFile(`${alpha}/tokenizer/token_bytes.json`, "[1,1]");
  await Deno.symlink(`${outside}/secret.txt`, `${alpha}/tokenizer/leak.json`);
  await Deno.symlink("/etc/passwd", `${alpha}/tokenizer/passwd`);

  await Deno.mkdir(`${runsDir}/beta`);
  await Deno.writeTextFile(`${runsDir}/beta/run.json`, '{"name": "beta", "status": ');
  await Deno.writeTextFile(`${runsDir}/beta/metrics.jsonl`, formatMetricsLine(trainRecord(0)));

  await Deno.mkdir(`${runsDir}/gamma`);
  await Deno.writeTextFile(`${runsDir}/gamma/metrics.jsonl`, formatMetricsLine(trainRecord(0)) + '{"type":"train","st\n' + formatMetricsLine(trainRecord(1)) + '{"type":"train","step":2,"lo');
  const old = new Date("2020-01-01T00:00:00Z");
  await Deno.utime(`${runsDir}/gamma/metrics.jsonl`, old, old);

  await Deno.mkdir(`${runsDir}/delta`);
  await Deno.symlink(`${outside}/secret.txt`, `${runsDir}/delta/run.json`);
  await Deno.symlink(`${outside}/secret.txt`, `${runsDir}/delta/metrics.jsonl`);

  await writeRunInfo(`${runsDir}/eps`, { name: "eps", stage: "base", config: {}, adapter: "x", started_at: old.toISOString(), status: "finished", step: 3 });
  await Deno.mkdir(`${runsDir}/eps/metrics.jsonl`);

  await Deno.symlink(outside, `${runsDir}/evil`);
  await Deno.symlink("/etc", `${runsDir}/etc`);
  // A sibling of runs/ whose name starts with "runs": a prefix test without the "/" would let it in.
  const sibling = `${root}/runs-private/sib`;
  await writeRunInfo(sibling, { name: "sib", stage: "base", config: { secret }, adapter: secret, started_at: old.toISOString(), status: "finished", step: 1 });
  await Deno.writeTextFile(`${sibling}/metrics.jsonl`, formatMetricsLine({ type: "train", step: 0, loss: 1, secret }));
  await Deno.symlink(sibling, `${runsDir}/sib`);
  await Deno.mkdir(`${runsDir}/notarun`);

  await Deno.mkdir(`${webDir}/assets`, { recursive: true });
  await Deno.writeTextFile(`${webDir}/index.html`, "<!doctype html><title>lab app</title><div id=app></div>");
  await Deno.writeTextFile(`${webDir}/assets/app-abcdef12.js`, "console.log('lab');");
  await Deno.writeTextFile(`${webDir}/assets/_helpers-abcdef12.js`, "export const h = 1;");
  await Deno.writeTextFile(`${webDir}/.env`, secret);
  await Deno.symlink(`${outside}/secret.txt`, `${webDir}/leak.txt`);

  return { root, runsDir, webDir, secret, cleanup: () => Deno.remove(root, { recursive: true }) };
}

/** Starts a server on a free port over a fresh fixture, runs `fn`, closes and cleans up. */
export async function withServer(
  fn: (s: { url: string; fx: Fixture; server: Awaited<ReturnType<typeof startLabServer>> }) => Promise<void>,
  opts: { pollMs?: number; keepaliveMs?: number; web?: boolean | "no-index" } = {},
): Promise<void> {
  const fx = await makeFixture();
  let webDir: string | null = opts.web === false ? null : fx.webDir;
  if (opts.web === "no-index") {
    webDir = `${fx.root}/web-no-index`; // a build folder whose build never finished
    await Deno.mkdir(`${webDir}/assets`, { recursive: true });
  }
  const server = await startLabServer({ runsDir: fx.runsDir, webDir, port: 0, pollMs: opts.pollMs ?? 20, keepaliveMs: opts.keepaliveMs });
  try {
    await fn({ url: server.url.replace(/\/$/, ""), fx, server });
  } finally {
    await server.close();
    await fx.cleanup();
  }
}

export async function getJson(url: string, init?: RequestInit): Promise<{ status: number; type: string | null; body: Record<string, unknown> }> {
  const r = await fetch(url, init);
  return { status: r.status, type: r.headers.get("content-type"), body: await r.json() };
}

export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Sends one request line as given (no normalisation) and reads the whole answer. */
export async function rawRequest(port: number, target: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const extra = Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    const host = opts.headers?.Host ? "" : `Host: 127.0.0.1:${port}\r\n`;
    await conn.write(new TextEncoder().encode(`${opts.method ?? "GET"} ${target} HTTP/1.1\r\n${host}${extra}Connection: close\r\n\r\n`));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (let n; (n = await conn.read(buf)) !== null;) chunks.push(buf.slice(0, n));
    const all = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
    chunks.reduce((off, c) => (all.set(c, off), off + c.length), 0);
    const text = new TextDecoder().decode(all);
    const split = text.indexOf("\r\n\r\n");
    const [statusLine, ...headerLines] = text.slice(0, split).split("\r\n");
    const headers = new Map(headerLines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
    let body = text.slice(split + 4);
    if (headers.get("transfer-encoding") === "chunked") {
      let out = "";
      for (let rest = body; rest.length;) {
        const eol = rest.indexOf("\r\n");
        const size = parseInt(rest.slice(0, eol), 16);
        if (!size) break;
        out += rest.slice(eol + 2, eol + 2 + size);
        rest = rest.slice(eol + 2 + size + 2);
      }
      body = out;
    }
    return { status: Number(statusLine.split(" ")[1]), headers, body };
  } finally {
    conn.close();
  }
}
