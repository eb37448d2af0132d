// DENO-ONLY: a local file as a parquet byte-range source (see sources.ts). The browser
// never imports this module.
//
// hyparquet may ask for several ranges at once; a Deno file handle has one cursor, so
// seek+read pairs are queued one after another instead of interleaving.

import { DataError, FIX_SHARD } from "./errors.ts";
import { openShard, type ParquetShard, readTextBatches } from "./parquet.ts";
import type { ShardSource } from "./sources.ts";

export async function fileSource(path: string): Promise<ShardSource> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new DataError(`${path}: no such shard file (run 'deno task data prepare' or 'deno task data download')`, path);
    }
    throw new DataError(`${path}: cannot open (${(err as Error).message})`, path);
  }
  const byteLength = (await file.stat()).size;
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;

  const readAt = async (start: number, end: number): Promise<ArrayBuffer> => {
    if (closed) throw new DataError(`${path}: read after close`, path);
    const out = new Uint8Array(end - start);
    await file.seek(start, Deno.SeekMode.Start);
    let off = 0;
    while (off < out.length) {
      const n = await file.read(out.subarray(off));
      if (n === null) {
        throw new DataError(`${path}: file ended at byte ${start + off}, expected ${end} bytes (it changed while being read?); ${FIX_SHARD}`, path);
      }
      off += n;
    }
    return out.buffer;
  };

  return {
    name: path,
    byteLength,
    slice(start, end = byteLength) {
      const s = Math.max(0, start), e = Math.min(byteLength, end);
      if (e <= s) return new ArrayBuffer(0);
      const p = queue.then(() => readAt(s, e));
      queue = p.catch(() => {});
      return p;
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        file.close();
      } catch { /* already closed */ }
    },
  };
}

/** OpenShard for local paths (what createLoader takes in Deno). */
export const openLocalShard = (path: string): Promise<ShardSource> => fileSource(path);

/** A local shard file, opened and its footer read. */
export async function openShardFile(path: string): Promise<ParquetShard> {
  return openShard(await fileSource(path));
}

/** The `text` column of a local shard, one row group at a time. */
export async function* readShardFile(path: string, opts: { rowGroups?: Iterable<number> } = {}): AsyncGenerator<string[]> {
  yield* readTextBatches(await fileSource(path), opts);
}
