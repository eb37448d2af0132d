// Byte-range sources for parquet reading, in any runtime. hyparquet reads a file
// through an AsyncBuffer (byteLength + slice(start, end)), fetching only the footer and
// then one row group's column chunk at a time, so a shard never has to sit in memory
// whole. Each source also carries a name for error messages and an optional close().
//
//   bytesSource  bytes already in memory (tests, small fixtures)
//   blobSource   a File/Blob (browser file picker, drag and drop)
//   urlSource    HTTP(S) with Range requests (browser, or Deno reading a remote shard)
//   fileSource   a local file: Deno-only, in deno_source.ts

import type { AsyncBuffer } from "hyparquet";
import { DataError } from "./errors.ts";
import { errorMessage } from "../util/errors.ts";

export interface ShardSource extends AsyncBuffer {
  /** File name, path or URL: what error messages call this source. */
  readonly name: string;
  /** Releases the underlying handle (files); safe to call twice. */
  close?(): void;
}

/** Opens a shard by name (path, URL, ...); the loader and readers take one of these. */
export type OpenShard = (name: string) => Promise<ShardSource>;

export function bytesSource(bytes: Uint8Array | ArrayBuffer, name = "<memory>"): ShardSource {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return {
    name,
    byteLength: view.byteLength,
    // slice() copies: hyparquet may keep the result while we keep the source.
    slice: (start, end) => view.slice(start, end ?? view.byteLength).buffer,
  };
}

export function blobSource(blob: Blob, name = (blob as File).name ?? "<blob>"): ShardSource {
  return {
    name,
    byteLength: blob.size,
    slice: (start, end) => blob.slice(start, end ?? blob.size).arrayBuffer(),
  };
}

export interface UrlSourceOptions {
  /** fetch to use (tests, auth wrappers); default globalThis.fetch. */
  fetch?: typeof fetch;
  headers?: Record<string, string>;
}

/** Total size from `Content-Range: bytes a-b/total` (or `bytes * /total`). */
export function totalFromContentRange(header: string | null): number | null {
  const m = header?.match(/\/(\d+)\s*$/);
  return m ? Number(m[1]) : null;
}

/**
 * A remote file read with HTTP Range requests. The size comes from a one-byte range
 * request (works on servers and CDNs that answer HEAD without a length).
 */
export async function urlSource(url: string | URL, opts: UrlSourceOptions = {}): Promise<ShardSource> {
  const name = String(url);
  const doFetch = opts.fetch ?? globalThis.fetch;
  const get = async (start: number, end: number): Promise<Response> => {
    let res: Response;
    try {
      res = await doFetch(name, { headers: { ...opts.headers, Range: `bytes=${start}-${end - 1}` } });
    } catch (err) {
      throw new DataError(`${name}: cannot fetch (${errorMessage(err)})`, name);
    }
    if (res.status !== 206 && res.status !== 200) {
      await res.body?.cancel();
      throw new DataError(`${name}: HTTP ${res.status} ${res.statusText}`, name);
    }
    return res;
  };
  const probe = await get(0, 1);
  const byteLength = probe.status === 206 ? totalFromContentRange(probe.headers.get("content-range")) : Number(probe.headers.get("content-length") ?? NaN);
  await probe.body?.cancel();
  if (byteLength === null || !Number.isFinite(byteLength)) {
    throw new DataError(`${name}: the server did not say how large the file is (no Content-Range/Content-Length)`, name);
  }
  if (probe.status === 200) {
    // No Range support: the only way to read it is whole. Fine for small files.
    const whole = new Uint8Array(await (await get(0, byteLength)).arrayBuffer());
    return bytesSource(whole, name);
  }
  return {
    name,
    byteLength,
    async slice(start, end = byteLength) {
      if (end <= start) return new ArrayBuffer(0);
      const res = await get(start, end);
      const buf = await res.arrayBuffer();
      if (res.status === 200) return buf.slice(start, end); // server ignored Range this time
      if (buf.byteLength !== end - start) {
        throw new DataError(`${name}: asked for bytes ${start}-${end - 1}, got ${buf.byteLength} bytes`, name);
      }
      return buf;
    },
  };
}
