// DENO-ONLY: `deno task data download`, fetching the reference's FineWeb-Edu shards.
//
// Like nanochat's dataset.py: 4 parallel workers, 5 tries per shard with exponential
// backoff (2^k seconds), files that already exist are skipped. Beyond it:
//   - resumable: bytes go to <shard>.partial; a retry (or a later run) asks for the rest
//     with `Range: bytes=<size>-` and appends, so a cut connection loses nothing;
//   - verified: the size must match Content-Length / Content-Range, and the file must be
//     parquet (PAR1 at both ends, a footer that parses, a `text` column);
//   - atomic: only a verified file is renamed to shard_NNNNN.parquet;
//   - offline-aware: when the host cannot be reached at all (DNS failure, connection
//     refused) it stops at once and points to the embedded corpus.
// downloadFile is the same machinery for one file of any kind (the task datasets use it),
// with its own check of what a complete file is.

import { DataError } from "./errors.ts";
import { errorMessage } from "../util/errors.ts";
import { ParquetShard } from "./parquet.ts";
import { fileSource } from "./deno_source.ts";
import { shardName } from "./corpus.ts";
import { totalFromContentRange } from "./sources.ts";
import { MANIFEST } from "./prepare.ts";
import { Progress } from "./deno_progress.ts";

export const SHARD_BASE_URL = "https://huggingface.co/datasets/karpathy/fineweb-edu-100b-shuffle/resolve/main";
/** Shards 0 ... 1822 exist (1,823 files). */
export const MAX_SHARD_INDEX = 1822;

export function shardUrl(index: number, baseUrl = SHARD_BASE_URL): string {
  return `${baseUrl.replace(/\/+$/, "")}/${shardName(index)}`;
}

/** How files are fetched, for downloadShards and downloadFile alike. */
export interface FetchOptions {
  tries?: number;
  /** Wait before retry k (1-based) is backoffMs * 2^k; 1000 gives the reference's 2, 4, 8, 16 s. */
  backoffMs?: number;
  /** Abort a response that sends nothing for this long, and retry. */
  stallMs?: number;
  fetch?: typeof fetch;
  log?: (line: string) => void;
  /** Progress display; default one on stderr. A caller's own one may span several calls (the caller ends it). */
  progress?: Progress;
}

export interface DownloadOptions extends FetchOptions {
  dir: string;
  baseUrl?: string;
  workers?: number;
}

export interface DownloadResult {
  downloaded: string[];
  skipped: string[];
  bytes: number;
}

/** The host could not be reached at all: no point in retrying. */
export class OfflineError extends DataError {
  override name = "OfflineError";
}

/** Connection-level failures: the request never reached a server. */
export function isUnreachable(err: unknown): boolean {
  const text = `${errorMessage(err)} ${errorMessage((err as { cause?: unknown })?.cause ?? "")}`;
  return /dns error|failed to lookup address|Name or service not known|Connection refused|Network is unreachable|No route to host|os error (101|111|113)|ENOTFOUND|ECONNREFUSED|EAI_AGAIN|are blocked/i
    .test(text);
}

class Fatal extends Error {} // not worth retrying (404, 403, ...)

/** Waits ms, or less when `signal` aborts (so a failing worker stops the others' backoff). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return 0;
  }
}

/** Throws a DataError (naming the file) unless `path` is a complete shard. */
export async function verifyShardFile(path: string): Promise<ParquetShard["info"]> {
  const shard = await ParquetShard.open(await fileSource(path));
  shard.close();
  return shard.info;
}

/** What the files of one run share: a failing file aborts the others' backoff. */
interface Shared {
  fetch: typeof fetch;
  log: (line: string) => void;
  stallMs: number;
  progress: Progress;
  abort: AbortController;
  /** Some response arrived in this run: later connect errors are transient, not "offline". */
  connected: boolean;
}

function shared(opts: FetchOptions, files: number): Shared {
  return {
    fetch: opts.fetch ?? globalThis.fetch,
    log: opts.log ?? ((l) => console.error(l)),
    stallMs: opts.stallMs ?? 60_000,
    progress: opts.progress ?? new Progress(files),
    abort: new AbortController(),
    connected: false,
  };
}

/** How one file is fetched and checked. */
interface FileRules {
  tries: number;
  backoffMs: number;
  /** Throws unless the file at the path is complete and usable. */
  verify?: (path: string) => Promise<unknown>;
  /** Said after "cannot reach <host>": what to do without network access. */
  offlineHint: string;
}

/** One attempt: continue <name>.partial from its size; resolves when it is complete. */
async function attempt(url: string, partial: string, sh: Shared): Promise<void> {
  let offset = await sizeOf(partial);
  const stall = new AbortController();
  let timer = setTimeout(() => stall.abort(), sh.stallMs);
  const signal = AbortSignal.any([sh.abort.signal, stall.signal]);
  try {
    const res = await sh.fetch(url, { headers: offset > 0 ? { Range: `bytes=${offset}-` } : {}, signal });
    sh.connected = true;
    let total: number;
    if (res.status === 416) {
      // Our partial is as long as (or longer than) the file: keep it only if exactly complete.
      await res.body?.cancel();
      total = totalFromContentRange(res.headers.get("content-range")) ?? -1;
      if (total === offset) return;
      await Deno.remove(partial);
      throw new Error(`the partial file (${offset} bytes) does not fit the server's size (${total}); starting over`);
    }
    if (res.status === 404 || res.status === 403 || res.status === 401) {
      await res.body?.cancel();
      throw new Fatal(`HTTP ${res.status} ${res.statusText}`);
    }
    if (res.status === 206) {
      const range = res.headers.get("content-range") ?? "";
      const start = Number(range.match(/bytes (\d+)-/)?.[1] ?? NaN);
      total = totalFromContentRange(range) ?? -1;
      if (start !== offset) {
        await res.body?.cancel();
        throw new Error(`asked for bytes from ${offset}, the server sent from ${start}`);
      }
    } else if (res.status === 200) {
      total = Number(res.headers.get("content-length") ?? -1);
      offset = 0; // the server ignored Range (or there was none): start from scratch
    } else {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status} ${res.statusText}`);
    }
    sh.progress.setSize(url, total, offset);
    const file = await Deno.open(partial, { write: true, create: true, append: offset > 0, truncate: offset === 0 });
    try {
      for await (const chunk of res.body ?? new ReadableStream<Uint8Array>()) {
        clearTimeout(timer);
        timer = setTimeout(() => stall.abort(), sh.stallMs);
        let off = 0;
        while (off < chunk.length) off += await file.write(chunk.subarray(off));
        sh.progress.add(url, chunk.length);
      }
    } finally {
      file.close();
    }
    const got = await sizeOf(partial);
    if (total >= 0 && got !== total) throw new Error(`got ${got} of ${total} bytes`);
  } catch (err) {
    if (stall.signal.aborted && !sh.abort.signal.aborted) throw new Error(`no data for ${sh.stallMs / 1000} s`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Fetches url into dest (via dest.partial) unless dest is already there and verifies. */
async function fetchFile(url: string, dest: string, rules: FileRules, sh: Shared): Promise<"downloaded" | "skipped"> {
  const { tries, backoffMs, verify } = rules;
  const label = dest.slice(dest.lastIndexOf("/") + 1);
  const partial = `${dest}.partial`;
  if (await sizeOf(dest) > 0) {
    if (!verify) return "skipped";
    try {
      await verify(dest);
      return "skipped";
    } catch (err) {
      sh.log(`${errorMessage(err)}\n  -> downloading it again`);
      await Deno.remove(dest);
    }
  }
  let last: unknown;
  for (let k = 1; k <= tries; k++) {
    if (sh.abort.signal.aborted) throw new DataError(`${url}: cancelled`);
    try {
      await attempt(url, partial, sh);
      try {
        await verify?.(partial);
      } catch (err) {
        await Deno.remove(partial); // complete but not usable: the bytes are wrong, start over
        throw err;
      }
      await Deno.rename(partial, dest);
      sh.progress.finish(url);
      return "downloaded";
    } catch (err) {
      last = err;
      if (isUnreachable(err) && !sh.connected) {
        throw new OfflineError(`cannot reach ${new URL(url).host} (${errorMessage((err as { cause?: unknown }).cause ?? err)}). ${rules.offlineHint}`);
      }
      if (err instanceof Fatal) throw new DataError(`${url}: ${err.message}`, url);
      if (sh.abort.signal.aborted) throw err;
      if (k < tries) {
        const wait = backoffMs * 2 ** k;
        sh.log(`${label}: try ${k}/${tries} failed (${errorMessage(err)}); retrying in ${(wait / 1000).toFixed(wait < 1000 ? 3 : 0)} s`);
        await sleep(wait, sh.abort.signal);
      }
    }
  }
  throw new DataError(`${url}: failed after ${tries} tries (last error: ${errorMessage(last)}); run the command again to resume`, url);
}

export interface FileDownloadOptions extends FetchOptions {
  /** Throws unless the file at the path is complete and usable; without it only the size is checked. */
  verify?: (path: string) => Promise<unknown>;
  /** Said after "cannot reach <host>"; default: fetch it elsewhere and copy it to dest. */
  offlineHint?: string;
}

/**
 * One file, the way shards are fetched: resumable through dest.partial, retried with
 * backoff, size-checked, verified, renamed into place. A dest that exists and verifies
 * is left alone ("skipped").
 */
export async function downloadFile(url: string, dest: string, opts: FileDownloadOptions = {}): Promise<"downloaded" | "skipped"> {
  const slash = dest.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(dest.slice(0, slash), { recursive: true });
  const sh = shared(opts, 1);
  const rules: FileRules = {
    tries: opts.tries ?? 5,
    backoffMs: opts.backoffMs ?? 1000,
    verify: opts.verify,
    offlineHint: opts.offlineHint ?? `Without network access, fetch ${url} on another machine and copy it to ${dest}`,
  };
  try {
    const outcome = await fetchFile(url, dest, rules, sh);
    if (outcome === "skipped") sh.progress.skip();
    return outcome;
  } finally {
    if (!opts.progress) sh.progress.end(); // a caller's progress may span more files
  }
}

/** Downloads shards `indices` into opts.dir with a pool of workers. */
export async function downloadShards(indices: readonly number[], opts: DownloadOptions): Promise<DownloadResult> {
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i > MAX_SHARD_INDEX) throw new DataError(`shard index ${i} is out of range 0..${MAX_SHARD_INDEX}`);
  }
  await Deno.mkdir(opts.dir, { recursive: true });
  if (await sizeOf(`${opts.dir}/${MANIFEST}`) > 0) {
    throw new DataError(
      `${opts.dir} holds the embedded corpus (it has a ${MANIFEST} from 'data prepare'); download into another directory (--dir) so the two datasets do not mix`,
    );
  }
  const sh = shared(opts, indices.length);
  const rules: FileRules = {
    tries: opts.tries ?? 5,
    backoffMs: opts.backoffMs ?? 1000,
    verify: verifyShardFile,
    offlineHint: "Without network access, use the embedded corpus instead: 'deno task data prepare'",
  };
  const baseUrl = opts.baseUrl ?? SHARD_BASE_URL;
  const result: DownloadResult = { downloaded: [], skipped: [], bytes: 0 };
  const queue = [...indices];
  const worker = async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
      const outcome = await fetchFile(shardUrl(i, baseUrl), `${opts.dir}/${shardName(i)}`, rules, sh);
      result[outcome].push(shardName(i));
      if (outcome === "skipped") sh.progress.skip();
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(opts.workers ?? 4, indices.length)) }, worker);
  // The first fatal error stops the others (their .partial files stay for a later run);
  // all workers are awaited so nothing is left running when this returns.
  let first: unknown = null;
  await Promise.allSettled(workers.map((w) =>
    w.catch((err) => {
      first ??= err;
      sh.abort.abort();
    })
  ));
  sh.progress.end();
  if (first) throw first;
  result.bytes = sh.progress.bytesDone;
  return result;
}
