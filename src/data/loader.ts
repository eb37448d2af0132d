// Pretraining batches from parquet shards, resumable to the token. Runtime-agnostic:
// shards are opened through an OpenShard function (local files in Deno, URLs or Files
// in the browser).
//
// The stream is the reference's: shards in order, this rank's row groups r, r+W, r+2W,
// ..., documents in row order, each tokenized with <|bos|> in front and no EOS, all
// concatenated; every batch takes the next B*T+1 tokens (packing.ts). Documents straddle
// rows and batches. After the last shard the stream starts over (epoch + 1), unless
// maxEpochs stops it. With a seed, each epoch visits shards and row groups in an order
// shuffled from (seed, epoch), the same on every rank so the striding still partitions.
//
// state() is small and JSON-serialisable: where the next document comes from (shard,
// row group, document offset, epoch) plus the tokens already read but not yet used,
// which are fewer than one document's. createLoader(opts, state) re-reads that row
// group, skips docOffset documents and continues exactly the stream that was saved.

import { DataError } from "./errors.ts";
import { errorMessage } from "../util/errors.ts";
import { ParquetShard } from "./parquet.ts";
import { type Batch, checkShape, toBatch, TokenQueue } from "./packing.ts";
import type { OpenShard } from "./sources.ts";
import { Rng } from "../util/rng.ts";

export interface TokenizerLike {
  encodeOrdinary(text: string): number[];
  readonly bosId: number;
}

/** Many documents' ids stored flat: document i is ids[offsets[i] .. offsets[i+1]). */
export interface FlatIds {
  ids: Int32Array;
  offsets: Int32Array;
}

export interface LoaderOptions {
  /** Shard names in order (e.g. splitShards(...).train); opened with `open`. */
  shards: readonly string[];
  open: OpenShard;
  tokenizer: TokenizerLike;
  B: number;
  T: number;
  rank?: number;
  worldSize?: number;
  /** null (default): file order, as the reference. A number: shuffled per epoch from it. */
  seed?: number | null;
  /** Stop after this many passes over the shards (default: never, like the reference). */
  maxEpochs?: number;
  /** Encodes a row group's documents (without BOS), e.g. in workers: (t) => pool.encodeBatchFlat(t). */
  encodeBatch?: (texts: string[]) => Promise<FlatIds> | FlatIds;
  /** Read and tokenize the next row group while batches are taken (default true). */
  prefetch?: boolean;
}

export interface LoaderState {
  version: 1;
  /** Index into the shard list of the shard the next document comes from. */
  shardIndex: number;
  /** That shard's file name, checked on restore so a changed shard list is caught. */
  shard: string;
  /** Row group (index in the file) the next document comes from. */
  rowGroup: number;
  /** Documents of that row group already read into the stream. */
  docOffset: number;
  /** Tokens read but not yet in a batch (fewer than one document's). */
  buffer: number[];
  epoch: number;
}

export interface DataLoader extends AsyncIterable<Batch> {
  /** The next batch, or null once maxEpochs passes are done. */
  next(): Promise<Batch | null>;
  state(): LoaderState;
  /** Tokens taken into batches so far by this loader object. */
  readonly tokensServed: number;
  close(): void;
}

const baseName = (p: string) => p.slice(p.lastIndexOf("/") + 1);

/** The reference split over the locally present shards: the last (sorted) is validation. */
export function splitShards(names: readonly string[]): { train: string[]; val: string[] } {
  const sorted = [...names].sort((a, b) => (baseName(a) < baseName(b) ? -1 : baseName(a) > baseName(b) ? 1 : 0));
  return { train: sorted.slice(0, -1), val: sorted.slice(-1) };
}

/** Integer seed for (seed, epoch, which): distinct streams for every shard and epoch. */
function mixSeed(seed: number, epoch: number, which: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (epoch + 0x632be5ab), 0xc2b2ae35);
  h = Math.imul(h ^ (which + 0x165667b1), 0x27d4eb2f);
  return (h ^ (h >>> 15)) | 0;
}

function flatEncode(tok: TokenizerLike, texts: string[]): FlatIds {
  const lists = texts.map((t) => tok.encodeOrdinary(t));
  const offsets = new Int32Array(texts.length + 1);
  lists.forEach((l, i) => (offsets[i + 1] = offsets[i] + l.length));
  const ids = new Int32Array(offsets[texts.length]);
  lists.forEach((l, i) => ids.set(l, offsets[i]));
  return { ids, offsets };
}

interface Cursor {
  epoch: number;
  shardPos: number; // position in the epoch's shard order
  groupPos: number; // position in this rank's row groups of that shard
}

export async function createLoader(opts: LoaderOptions, state?: LoaderState): Promise<DataLoader> {
  const { shards, open, tokenizer, B, T } = opts;
  const rank = opts.rank ?? 0, world = opts.worldSize ?? 1;
  const seed = opts.seed ?? null;
  const maxEpochs = opts.maxEpochs ?? Infinity;
  const prefetch = opts.prefetch ?? true;
  checkShape(B, T);
  if (!Number.isInteger(world) || world < 1 || !Number.isInteger(rank) || rank < 0 || rank >= world) {
    throw new RangeError(`rank ${rank} of worldSize ${world}: need 0 <= rank < worldSize`);
  }
  if (shards.length === 0) {
    throw new DataError("no shards to load: the shard list is empty; run 'deno task data prepare' (or 'deno task data download') first");
  }
  const need = B * T + 1;
  const bos = tokenizer.bosId;
  const encode = opts.encodeBatch ?? ((texts: string[]) => flatEncode(tokenizer, texts));

  // Open shards (footer only) are kept until the loader moves past them. Row-group
  // counts are remembered so state() can name the row group without awaiting anything.
  const opened = new Map<number, Promise<ParquetShard>>();
  const groupCounts = new Map<number, number>();
  let closed = false;
  const shardAt = (index: number): Promise<ParquetShard> => {
    if (closed) return Promise.reject(new DataError("the loader was closed"));
    let p = opened.get(index);
    if (!p) {
      p = open(shards[index]).then((src) =>
        ParquetShard.open(src).then((s) => {
          // A prefetch that finishes after close() must not leave a file open.
          if (closed) s.close();
          groupCounts.set(index, s.numRowGroups);
          return s;
        }, (err) => {
          src.close?.();
          throw err;
        })
      );
      p.catch(() => opened.delete(index));
      opened.set(index, p);
    }
    return p;
  };
  const release = (keep: Set<number>) => {
    for (const [i, p] of opened) {
      if (!keep.has(i)) {
        opened.delete(i);
        p.then((s) => s.close(), () => {});
      }
    }
  };

  const orderCache = new Map<number, number[]>();
  const shardOrder = (epoch: number): number[] => {
    let order = orderCache.get(epoch);
    if (!order) {
      order = [...shards.keys()];
      if (seed !== null) new Rng(mixSeed(seed, epoch, -1)).shuffle(order);
      if (orderCache.size > 2) orderCache.clear(); // only the current and next epoch are asked for
      orderCache.set(epoch, order);
    }
    return order;
  };
  const rankGroups = (epoch: number, index: number, numGroups: number): number[] => {
    const all = [...Array(numGroups).keys()];
    if (seed !== null) new Rng(mixSeed(seed, epoch, index)).shuffle(all);
    return all.filter((_, k) => k % world === rank);
  };
  const groupsOf = async (c: Cursor) => {
    const index = shardOrder(c.epoch)[c.shardPos];
    const shard = await shardAt(index);
    return { index, shard, groups: rankGroups(c.epoch, index, shard.numRowGroups) };
  };

  /** Moves c forward (if needed) to a row group that exists; false past maxEpochs. */
  const settle = async (c: Cursor): Promise<boolean> => {
    let emptyShards = 0;
    while (c.epoch < maxEpochs) {
      const { groups } = await groupsOf(c);
      if (c.groupPos < groups.length) return true;
      if (++emptyShards > shards.length + 1) {
        throw new DataError(`rank ${rank} of ${world} has no row groups in any of the ${shards.length} shards (too few row groups for this many ranks?)`);
      }
      c.groupPos = 0;
      if (++c.shardPos >= shards.length) c.shardPos = 0, c.epoch++;
    }
    return false;
  };

  interface Loaded {
    cursor: Cursor;
    index: number;
    rowGroup: number;
    docs: FlatIds;
  }
  const load = async (c: Cursor): Promise<Loaded> => {
    const { index, shard, groups } = await groupsOf(c);
    const rowGroup = groups[c.groupPos];
    const texts = await shard.readRowGroup(rowGroup);
    let docs: FlatIds;
    try {
      docs = await encode(texts);
    } catch (err) {
      throw new DataError(`${shards[index]}: row group ${rowGroup}: tokenizing failed (${errorMessage(err)})`, shards[index]);
    }
    if (docs.offsets.length !== texts.length + 1) {
      throw new DataError(`${shards[index]}: row group ${rowGroup}: the encoder returned ${docs.offsets.length - 1} documents for ${texts.length}`);
    }
    return { cursor: { ...c }, index, rowGroup, docs };
  };

  // ---- position: restore from a saved state or start at the beginning ----
  const queue = new TokenQueue(state?.buffer ?? []);
  let cursor: Cursor = { epoch: 0, shardPos: 0, groupPos: 0 };
  let docOffset = 0;
  if (state) {
    const where = `loader state (shard ${state.shard}, row group ${state.rowGroup}, epoch ${state.epoch})`;
    if (state.version !== 1 || !Array.isArray(state.buffer)) throw new DataError(`unknown ${where} format`);
    if (!(state.shardIndex >= 0 && state.shardIndex < shards.length) || baseName(shards[state.shardIndex]) !== baseName(state.shard)) {
      throw new DataError(
        `${where} does not fit the shard list: index ${state.shardIndex} is ${
          shards[state.shardIndex] ?? "out of range"
        }; the data directory changed since the checkpoint was saved`,
      );
    }
    cursor = { epoch: state.epoch, shardPos: shardOrder(state.epoch).indexOf(state.shardIndex), groupPos: 0 };
    const { groups } = state.epoch < maxEpochs ? await groupsOf(cursor) : { groups: [state.rowGroup] };
    cursor.groupPos = groups.indexOf(state.rowGroup);
    if (cursor.groupPos < 0) {
      throw new DataError(`${where}: that row group is not one rank ${rank} of ${world} reads; resume with the rank, world size and seed it was saved with`);
    }
    docOffset = state.docOffset;
  }
  let done = !(await settle(cursor));

  let current: Loaded | null = null;
  // The next row group, read and tokenized while batches are taken from this one. A
  // failure stays inside the promise until the stream actually reaches that row group.
  let ahead: Promise<Loaded | null> | null = null;
  let served = 0;

  const nextCursor = (c: Cursor): Cursor => ({ ...c, groupPos: c.groupPos + 1 });
  const sameCursor = (a: Cursor, b: Cursor) => a.epoch === b.epoch && a.shardPos === b.shardPos && a.groupPos === b.groupPos;
  const startPrefetch = (after: Cursor) => {
    const c = nextCursor(after);
    ahead = settle(c).then((ok) => (ok ? load(c) : null));
    ahead.catch(() => {}); // not unhandled: fill() awaits it when the stream gets there
  };

  const fill = async (): Promise<boolean> => {
    while (queue.length < need) {
      if (done) return false;
      if (!current) {
        const pending = ahead && (await ahead.catch(() => null));
        ahead = null;
        // A failed prefetch is simply redone here, so its error is thrown now, with its file.
        current = pending && sameCursor(pending.cursor, cursor) ? pending : await load(cursor);
        release(new Set([current.index]));
        if (prefetch) startPrefetch(cursor);
      }
      const { ids, offsets } = current.docs;
      const nDocs = offsets.length - 1;
      while (docOffset < nDocs && queue.length < need) {
        queue.push(bos);
        queue.pushAll(ids.subarray(offsets[docOffset], offsets[docOffset + 1]));
        docOffset++;
      }
      if (docOffset >= nDocs && queue.length < need) {
        // Row group used up: on to the next one this rank reads (maybe the next shard or epoch).
        cursor = nextCursor(cursor);
        docOffset = 0;
        current = null;
        done = !(await settle(cursor));
      }
    }
    return true;
  };

  const loader: DataLoader = {
    async next() {
      if (!(await fill())) return null;
      served += need;
      return toBatch(queue.take(need), B, T);
    },
    state() {
      const index = shardOrder(cursor.epoch)[cursor.shardPos];
      const count = groupCounts.get(index);
      // Past maxEpochs the next epoch's shard may be unopened; that state restores as "done".
      const rowGroup = count === undefined ? -1 : rankGroups(cursor.epoch, index, count)[cursor.groupPos] ?? -1;
      return { version: 1, shardIndex: index, shard: baseName(shards[index]), rowGroup, docOffset, buffer: queue.toArray(), epoch: cursor.epoch };
    },
    get tokensServed() {
      return served;
    },
    close() {
      closed = true;
      release(new Set());
      ahead = null;
    },
    async *[Symbol.asyncIterator]() {
      for (let b = await loader.next(); b; b = await loader.next()) yield b;
    },
  };

  return loader;
}
