// DENO-ONLY: `deno task data download`, fetching the reference's FineWeb-Edu shards.
//
// Like nanochat's dataset.py: 4 parallel workers, 5 tries per shard with exponential
// backoff (2^k seconds), files that already exist are skipped. Beyond it:
//   - resumable: bytes go to <shard>.partial; a retry (or a later run) asks for the rest
//     with `Range: bytes=<size>-` and appends, so a cut connection loses nothing;
//   - verified: the size must match Content-Length / Content-Range, and the file must be
//     parquet (PAR1 at both ends, a footer that parses, a `text` column); when the server
//     names the file's SHA-256 (Hugging Face's X-Linked-Etag, on its redirect to the CDN)
//     the bytes must hash to it;
//   - recorded: each shard's size and SHA-256 go to downloads.json in the shard directory
//     before the shard is renamed into place. Training hashes a shard against it when it
//     first opens it (deno_shards.ts), and a later download re-checks the shards already
//     there (a damaged one is fetched again, and must hash to the recorded value);
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
import { sha256Hex } from "./prepare.ts";
import { writeFileAtomic } from "../io/deno_files.ts";

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
/** The bytes arrived whole but hash to something else than expected: refetched from scratch. */
class Corrupt extends Error {}

// ---------------------------------------------------------------- downloads.json
//
// Not manifest.json: that one is `data prepare`'s, and a directory holding it is refused
// (the two datasets never mix). One entry per shard, written before the shard is renamed
// into place, so a shard on disk under its final name always has its entry (a kill between
// the two leaves an entry whose shard is missing: the next run fetches it and checks it).

export const DOWNLOADS = "downloads.json";
export const DOWNLOADS_FORMAT = "webgpu-nanochat/downloads@1";

export interface DownloadedShard {
  name: string;
  bytes: number;
  sha256: string;
  /** "server": the server named this SHA-256 and the bytes matched it; "download": computed from the bytes as fetched. */
  source: "server" | "download";
}

export interface DownloadsFile {
  format: typeof DOWNLOADS_FORMAT;
  base_url: string;
  shards: DownloadedShard[];
}

/** downloads.json of `dir`; null when there is none. Throws a DataError when it is not one of ours. */
export async function readDownloads(dir: string): Promise<DownloadsFile | null> {
  const path = `${dir}/${DOWNLOADS}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new DataError(`${path}: cannot read (${errorMessage(err)})`, path);
  }
  try {
    const d = JSON.parse(text) as DownloadsFile;
    if (d?.format === DOWNLOADS_FORMAT && Array.isArray(d.shards)) return d;
  } catch { /* reported below */ }
  throw new DataError(`${path} is not a download record of this lab; delete it and run 'deno task data download --dir ${dir}' again (it re-checks every shard)`, path);
}

/** The record of one download run; entries are written one at a time (workers finish in any order). */
class DownloadRecord {
  private writes: Promise<void> = Promise.resolve();
  private constructor(private dir: string, private file: DownloadsFile) {}

  static async open(dir: string, baseUrl: string): Promise<DownloadRecord> {
    return new DownloadRecord(dir, (await readDownloads(dir)) ?? { format: DOWNLOADS_FORMAT, base_url: baseUrl, shards: [] });
  }

  get(name: string): DownloadedShard | undefined {
    return this.file.shards.find((s) => s.name === name);
  }

  set(entry: DownloadedShard): Promise<void> {
    this.file.shards = [...this.file.shards.filter((s) => s.name !== entry.name), entry].sort((a, b) => a.name.localeCompare(b.name));
    const text = JSON.stringify(this.file, null, 1) + "\n";
    this.writes = this.writes.then(() => writeFileAtomic(`${this.dir}/${DOWNLOADS}`, text));
    return this.writes;
  }
}

/** The SHA-256 a response says its file has: Hugging Face's X-Linked-Etag for LFS files (64 hex digits), else null. */
function declaredSha256(headers: Headers): string | null {
  const v = (headers.get("x-linked-etag") ?? "").replace(/^W\//, "").replace(/"/g, "").trim().toLowerCase();
  return /^[0-9a-f]{64}$/.test(v) ? v : null;
}

/**
 * fetch, following redirects here rather than inside fetch: Hugging Face names an LFS
 * file's SHA-256 on the 302 to its CDN, and an automatic redirect would drop that header.
 */
async function fetchNamingSha(url: string, init: RequestInit, sh: Shared): Promise<{ res: Response; sha256: string | null }> {
  let sha256: string | null = null;
  for (let hops = 0;; hops++) {
    const res = await sh.fetch(url, { ...init, redirect: "manual" });
    sha256 ??= declaredSha256(res.headers);
    const location = res.headers.get("location");
    if (res.status < 300 || res.status > 308 || res.status === 304 || !location) return { res, sha256 };
    await res.body?.cancel();
    if (hops >= 10) throw new Error(`more than 10 redirects from ${url}`);
    url = new URL(location, url).href;
  }
}

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
  /** Shards: the SHA-256 of each is checked against, and written to, downloads.json. */
  record?: DownloadRecord;
  /** What to run to fetch a file again (for messages). */
  again: string;
}

/**
 * One attempt: continue <name>.partial from its size; resolves when it is complete, to the
 * SHA-256 the server named for the file (null when it named none).
 */
async function attempt(url: string, partial: string, sh: Shared): Promise<string | null> {
  let offset = await sizeOf(partial);
  const stall = new AbortController();
  let timer = setTimeout(() => stall.abort(), sh.stallMs);
  const signal = AbortSignal.any([sh.abort.signal, stall.signal]);
  try {
    const { res, sha256 } = await fetchNamingSha(url, { headers: offset > 0 ? { Range: `bytes=${offset}-` } : {}, signal }, sh);
    sh.connected = true;
    let total: number;
    if (res.status === 416) {
      // Our partial is as long as (or longer than) the file: keep it only if exactly complete.
      await res.body?.cancel();
      total = totalFromContentRange(res.headers.get("content-range")) ?? -1;
      if (total === offset) return sha256;
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
    return sha256;
  } catch (err) {
    if (stall.signal.aborted && !sh.abort.signal.aborted) throw new Error(`no data for ${sh.stallMs / 1000} s`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** The SHA-256 of a whole file (shards are ~100 MB: read at once, as the training check does). */
async function sha256OfFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const bytes = await Deno.readFile(path);
  return { sha256: await sha256Hex(bytes), bytes: bytes.length };
}

/**
 * Throws Corrupt unless the file at `path` hashes to what is known of it: the SHA-256 the
 * server named, then the one downloads.json recorded when it was first fetched. Returns the
 * entry to record.
 */
async function checkSha(path: string, name: string, declared: string | null, rules: FileRules, what = "the downloaded bytes"): Promise<DownloadedShard> {
  const got = await sha256OfFile(path);
  const recorded = rules.record?.get(name);
  if (declared !== null && got.sha256 !== declared) {
    throw new Corrupt(`${name}: ${what} hash to ${got.sha256.slice(0, 12)}…, but the server says the file's SHA-256 is ${declared.slice(0, 12)}… (damaged on the way, or a damaged copy on the server)`);
  }
  if (recorded && (got.sha256 !== recorded.sha256 || got.bytes !== recorded.bytes)) {
    throw new Corrupt(
      `${name}: ${what} (${got.bytes} bytes, SHA-256 ${got.sha256.slice(0, 12)}…) are not what ${DOWNLOADS} recorded when the shard was first downloaded ` +
        `(${recorded.bytes} bytes, ${recorded.sha256.slice(0, 12)}…)`,
    );
  }
  return { name, bytes: got.bytes, sha256: got.sha256, source: declared !== null || recorded?.source === "server" ? "server" : "download" };
}

/** Fetches url into dest (via dest.partial) unless dest is already there and verifies. */
async function fetchFile(url: string, dest: string, rules: FileRules, sh: Shared): Promise<"downloaded" | "skipped"> {
  const { tries, backoffMs, verify } = rules;
  const label = dest.slice(dest.lastIndexOf("/") + 1);
  const partial = `${dest}.partial`;
  if (await sizeOf(dest) > 0) {
    if (!verify && !rules.record) return "skipped";
    try {
      await verify?.(dest);
      if (rules.record) {
        // A shard already there must still be what was downloaded. One from before
        // downloads.json existed (no entry) is hashed and recorded as it is.
        const entry = await checkSha(dest, label, null, rules, "the bytes on disk");
        if (!rules.record.get(label)) await rules.record.set(entry);
      }
      return "skipped";
    } catch (err) {
      sh.log(`${errorMessage(err)}\n  -> downloading it again`);
      await Deno.remove(dest);
    }
  }
  let last: unknown;
  let declared: string | null = null;
  for (let k = 1; k <= tries; k++) {
    if (sh.abort.signal.aborted) throw new DataError(`${url}: cancelled`);
    try {
      declared = (await attempt(url, partial, sh)) ?? declared;
      try {
        await verify?.(partial);
        if (rules.record) {
          // Recorded before the rename: a shard under its final name always has its entry.
          await rules.record.set(await checkSha(partial, label, declared, rules));
        } else if (declared !== null) {
          await checkSha(partial, label, declared, rules);
        }
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
  if (last instanceof Corrupt) {
    // Every try brought damaged bytes: no partial file is kept, nothing was renamed into place.
    throw new DataError(
      `${url}: refused after ${tries} tries: ${last.message}. Nothing was kept. Run '${rules.again}' again; ` +
        `if it fails the same way, the copy at ${new URL(url).host} is damaged: fetch it from another mirror (--base-url)` +
        (rules.record?.get(label) ? `, or, if the dataset itself changed, delete its entry in ${DOWNLOADS}` : ""),
      dest,
    );
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
    again: "the same command",
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
  const baseUrl = opts.baseUrl ?? SHARD_BASE_URL;
  const rules: FileRules = {
    tries: opts.tries ?? 5,
    backoffMs: opts.backoffMs ?? 1000,
    verify: verifyShardFile,
    offlineHint: "Without network access, use the embedded corpus instead: 'deno task data prepare'",
    record: await DownloadRecord.open(opts.dir, baseUrl),
    again: `deno task data download --dir ${opts.dir} --shards ${Math.max(...indices) + 1}`,
  };
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
