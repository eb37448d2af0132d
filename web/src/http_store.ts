// A read-only FileStore over the lab server's API, for loading a model in the page:
//
//   runs/<run>/checkpoints/<step>/<file>  →  GET /api/runs/<run>/checkpoints/<step>/<file>
//   runs/<run>/tokenizer/<file>           →  GET /api/runs/<run>/tokenizer/<file>
//
// Files go through the IndexedDB cache (revalidated with If-None-Match, used as is when
// the server is unreachable). Downloads report progress and resume a broken transfer
// with a Range request instead of starting over.
import { FileNotFound, type FileStore } from "../../src/io/files.ts";
import { checkpointFileUrl, errorOf, fetchCheckpoints, tokenizerFileUrl } from "./api.ts";
import type { CheckpointCache } from "./checkpoint_cache.ts";

export interface Progress {
  path: string;
  url: string;
  loaded: number;
  /** Bytes expected, when the server said (content-length). */
  total: number | null;
  /** The bytes came from the IndexedDB cache. */
  cached: boolean;
  done: boolean;
}

export interface HttpStoreOptions {
  cache?: CheckpointCache | null;
  onProgress?: (p: Progress) => void;
  /** File names never downloaded (answered as missing): inference skips the optimizer state. */
  exclude?: string[];
  signal?: AbortSignal;
}

const RETRIES = 4;

export function checkpointPaths(run: string, step: number): { checkpointDir: string; tokenizerDir: string } {
  return { checkpointDir: `runs/${run}/checkpoints/${step}`, tokenizerDir: `runs/${run}/tokenizer` };
}

/** The API URL of a store path, or null when the path names nothing the server serves. */
export function urlForPath(path: string): string | null {
  const parts = path.replace(/^\/+/, "").split("/");
  if (parts[0] !== "runs" || parts.length < 4) return null;
  const run = parts[1];
  if (parts[2] === "checkpoints" && parts.length === 5 && /^\d+$/.test(parts[3])) return checkpointFileUrl(run, Number(parts[3]), parts[4]);
  if (parts[2] === "tokenizer" && parts.length === 4) return tokenizerFileUrl(run, parts[3]);
  return null;
}

export class HttpStore implements FileStore {
  constructor(private opts: HttpStoreOptions = {}) {}

  async read(path: string): Promise<Uint8Array> {
    const name = path.slice(path.lastIndexOf("/") + 1);
    if (this.opts.exclude?.includes(name)) throw new FileNotFound(path, "not downloaded for inference");
    const url = urlForPath(path);
    if (!url) throw new FileNotFound(path, "the lab server serves runs/<run>/checkpoints/<step>/<file> and runs/<run>/tokenizer/<file>");
    const cache = this.opts.cache ?? null;
    const cached = cache ? await cache.get(url) : null;
    const report = (loaded: number, total: number | null, fromCache: boolean, done: boolean) =>
      this.opts.onProgress?.({ path, url, loaded, total, cached: fromCache, done });
    if (cached) {
      let res: Response | null = null;
      try {
        res = await fetch(url, { headers: cached.meta.etag ? { "if-none-match": cached.meta.etag } : {}, signal: this.opts.signal });
      } catch (err) {
        if ((err as Error).name === "AbortError") throw err;
        res = null; // offline: the cached copy is all we have
      }
      if (!res || res.status === 304) {
        report(cached.bytes.byteLength, cached.bytes.byteLength, true, true);
        return cached.bytes;
      }
      if (res.status === 404) {
        await cache!.remove(url);
        throw new FileNotFound(path);
      }
      if (!res.ok) throw await errorOf(res);
      const bytes = await this.download(url, res, report);
      await cache!.put(url, bytes, res.headers.get("etag"), res.headers.get("last-modified"));
      return bytes;
    }
    const res = await fetch(url, { signal: this.opts.signal });
    if (res.status === 404) {
      await res.body?.cancel();
      throw new FileNotFound(path);
    }
    if (!res.ok) throw await errorOf(res);
    const bytes = await this.download(url, res, report);
    if (cache) await cache.put(url, bytes, res.headers.get("etag"), res.headers.get("last-modified"));
    return bytes;
  }

  /** Reads a response body with progress; a transfer that breaks resumes with Range (If-Range: the ETag). */
  private async download(url: string, first: Response, report: (loaded: number, total: number | null, cached: boolean, done: boolean) => void): Promise<Uint8Array> {
    const lengthHeader = first.headers.get("content-length");
    const total = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
    const etag = first.headers.get("etag");
    const chunks: Uint8Array[] = [];
    let loaded = 0;
    let res: Response = first;
    for (let attempt = 0;; attempt++) {
      try {
        const reader = res.body!.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          chunks.push(value);
          loaded += value.byteLength;
          report(loaded, total, false, false);
        }
        if (total === null || loaded >= total) break;
        throw new Error(`the connection closed after ${loaded} of ${total} bytes`);
      } catch (err) {
        if ((err as Error).name === "AbortError" || this.opts.signal?.aborted) throw err;
        if (attempt + 1 >= RETRIES) throw new Error(`downloading ${url} failed after ${RETRIES} tries: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 300 * (attempt + 1)));
        const headers: Record<string, string> = { range: `bytes=${loaded}-` };
        if (etag) headers["if-range"] = etag;
        res = await fetch(url, { headers, signal: this.opts.signal });
        if (res.status === 200) { // the file changed (or no range support): start over
          chunks.length = 0;
          loaded = 0;
        } else if (res.status !== 206) {
          throw await errorOf(res);
        }
      }
    }
    const out = new Uint8Array(loaded);
    let off = 0;
    for (const c of chunks) {
      out.set(c, off);
      off += c.byteLength;
    }
    report(loaded, total ?? loaded, false, true);
    return out;
  }

  writeAtomic(path: string): Promise<void> {
    return Promise.reject(new Error(`the lab server's files are read-only (tried to write ${path})`));
  }

  async list(dir: string): Promise<string[]> {
    const parts = dir.replace(/^\/+|\/+$/g, "").split("/");
    if (parts[0] !== "runs" || parts.length < 3) return [];
    const run = parts[1];
    if (parts[2] === "checkpoints") {
      const ckpts = await fetchCheckpoints(run, this.opts.signal).catch(() => []);
      if (parts.length === 3) return ckpts.map((c) => String(c.step)).sort();
      const step = Number(parts[3]);
      return (ckpts.find((c) => c.step === step)?.files ?? []).map((f) => f.name).sort();
    }
    return [];
  }

  async exists(path: string): Promise<boolean> {
    const url = urlForPath(path);
    if (!url) return false;
    const res = await fetch(url, { method: "HEAD", signal: this.opts.signal }).catch(() => null);
    return !!res && res.ok;
  }
}
