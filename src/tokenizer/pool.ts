// Batch encoding and training-chunk counting across Web Workers. `new Worker(new URL(
// "./worker.ts", import.meta.url), {type: "module"})` works in Deno and in Vite builds.
// Small batches stay in this thread: posting strings to workers and back costs more than
// encoding a few kilobytes, and results are identical either way.

import { type EncodeOptions, Tokenizer } from "./tokenizer.ts";
import { ChunkCounter } from "./train.ts";
import type { WorkerReply, WorkerRequest } from "./worker.ts";

export interface PoolOptions {
  /** Worker count (default: hardware threads, at most 8). 0 = always in this thread. */
  workers?: number;
  /** Batches with fewer characters than this stay in this thread (default 200,000). */
  minChars?: number;
}

/** Many encodings stored flat: text i has ids[offsets[i] .. offsets[i+1]). */
export interface FlatIds {
  ids: Int32Array;
  offsets: Int32Array;
}

type Pending = { resolve: (r: WorkerReply) => void; reject: (e: Error) => void };
type Reply<K extends WorkerReply["kind"]> = Extract<WorkerReply, { kind: K }>;

/** A set of started workers and request/reply bookkeeping. */
class Workers {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private constructor(public list: Worker[]) {
    for (const w of list) {
      w.onmessage = (e: MessageEvent<WorkerReply>) => {
        const r = e.data;
        if (r.kind === "ready") return;
        const p = this.pending.get(r.id);
        if (!p) return;
        this.pending.delete(r.id);
        if (r.kind === "error") p.reject(new Error(`tokenizer worker: ${r.message}`));
        else p.resolve(r);
      };
      w.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        this.failAll(new Error(`tokenizer worker crashed: ${e.message}`));
      };
    }
  }

  static async start(tok: Tokenizer | null, opts: PoolOptions): Promise<Workers> {
    const hw = (globalThis.navigator as { hardwareConcurrency?: number } | undefined)?.hardwareConcurrency ?? 1;
    const n = typeof Worker === "undefined" ? 0 : Math.max(0, opts.workers ?? Math.min(8, hw));
    const file = tok ? tok.toJSON() : null;
    const list: Worker[] = [];
    const ready: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      // Written exactly in this form so that Vite recognizes and bundles the worker.
      const w = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
      ready.push(
        new Promise((resolve, reject) => {
          w.onmessage = (e: MessageEvent<WorkerReply>) => e.data.kind === "ready" ? resolve() : reject(new Error(JSON.stringify(e.data)));
          w.onerror = (e: ErrorEvent) => {
            e.preventDefault();
            reject(new Error(`tokenizer worker failed to start: ${e.message}`));
          };
        }),
      );
      w.postMessage({ kind: "init", file } satisfies WorkerRequest);
      list.push(w);
    }
    try {
      await Promise.all(ready);
    } catch (err) {
      for (const w of list) w.terminate();
      throw err;
    }
    return new Workers(list);
  }

  request<K extends WorkerReply["kind"]>(i: number, msg: WorkerRequest & { id?: number }): Promise<Reply<K>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: WorkerReply) => void, reject });
      this.list[i].postMessage({ ...msg, id });
    });
  }

  /** Contiguous slices of `texts` with about equal characters, at most one per worker. */
  split(texts: readonly string[]): string[][] {
    const total = texts.reduce((s, t) => s + t.length, 0);
    const n = Math.min(this.list.length, texts.length);
    const slices: string[][] = [];
    let cur: string[] = [], acc = 0;
    for (const t of texts) {
      cur.push(t);
      acc += t.length;
      if (slices.length < n - 1 && acc >= (total * (slices.length + 1)) / n) slices.push(cur), cur = [];
    }
    slices.push(cur);
    return slices;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  close(): void {
    for (const w of this.list) w.terminate();
    this.list = [];
    this.failAll(new Error("tokenizer worker pool closed"));
  }
}

function bigEnough(texts: readonly string[], minChars: number): boolean {
  if (texts.length < 2) return false;
  let chars = 0;
  for (const t of texts) if ((chars += t.length) >= minChars) return true;
  return false;
}

/** Encodes batches of texts across workers; results equal tok.encodeBatch. Close it when done. */
export class EncoderPool {
  private constructor(readonly tok: Tokenizer, private workers: Workers, private minChars: number) {}

  static async create(tok: Tokenizer, opts: PoolOptions = {}): Promise<EncoderPool> {
    return new EncoderPool(tok, await Workers.start(tok, opts), opts.minChars ?? 200_000);
  }

  get workerCount(): number {
    return this.workers.list.length;
  }

  /** Encodes every text (like Tokenizer.encode) into one flat buffer. */
  async encodeBatchFlat(texts: readonly string[], opts: EncodeOptions = {}): Promise<FlatIds> {
    if (this.workerCount === 0 || !bigEnough(texts, this.minChars)) return flatten(this.tok.encodeBatch(texts, opts));
    const outs = await Promise.all(
      this.workers.split(texts).map((slice, i) => this.workers.request<"encoded">(i, { kind: "encode", id: 0, texts: slice, opts })),
    );
    const ids = new Int32Array(outs.reduce((s, o) => s + o.ids.length, 0));
    const offsets = new Int32Array(texts.length + 1);
    let at = 0, t = 0;
    for (const o of outs) {
      ids.set(o.ids, at);
      for (let i = 1; i < o.offsets.length; i++) offsets[++t] = at + o.offsets[i];
      at += o.ids.length;
    }
    return { ids, offsets };
  }

  /** Encodes every text; same result as tok.encodeBatch, spread over the workers. */
  async encodeBatch(texts: readonly string[], opts: EncodeOptions = {}): Promise<number[][]> {
    const { ids, offsets } = await this.encodeBatchFlat(texts, opts);
    return Array.from({ length: texts.length }, (_, i) => Array.from(ids.subarray(offsets[i], offsets[i + 1])));
  }

  /** Stops the workers (a Deno process does not exit while they run). */
  close(): void {
    this.workers.close();
  }
}

/**
 * Counts training chunks across workers. Each worker keeps its own counts across
 * batches; finish() gathers them once, so the main thread only merges each worker's
 * distinct chunks at the end. Equal to ChunkCounter.add over the same texts.
 */
export class CountingPool {
  private local = new ChunkCounter();
  private constructor(private workers: Workers, private minChars: number) {}

  static async create(opts: PoolOptions = {}): Promise<CountingPool> {
    return new CountingPool(await Workers.start(null, opts), opts.minChars ?? 200_000);
  }

  get workerCount(): number {
    return this.workers.list.length;
  }

  /** Texts and characters added so far. */
  get texts(): number {
    return this.local.texts;
  }
  get chars(): number {
    return this.local.chars;
  }

  async add(texts: readonly string[]): Promise<void> {
    if (this.workerCount === 0 || !bigEnough(texts, this.minChars)) {
      for (const t of texts) this.local.add(t);
      return;
    }
    await Promise.all(this.workers.split(texts).map((slice, i) => this.workers.request<"counted">(i, { kind: "count", id: 0, texts: slice })));
    for (const t of texts) this.local.chars += t.length;
    this.local.texts += texts.length;
  }

  /** All counts so far, in one counter; closes the workers. */
  async finish(): Promise<ChunkCounter> {
    const parts = await Promise.all(this.workers.list.map((_, i) => this.workers.request<"counts">(i, { kind: "flush", id: 0 })));
    this.workers.close();
    for (const p of parts) for (let i = 0; i < p.chunks.length; i++) this.local.addChunk(p.chunks[i], p.counts[i]);
    return this.local;
  }

  close(): void {
    this.workers.close();
  }
}

function flatten(lists: number[][]): FlatIds {
  const offsets = new Int32Array(lists.length + 1);
  lists.forEach((l, i) => (offsets[i + 1] = offsets[i] + l.length));
  const ids = new Int32Array(offsets[lists.length]);
  lists.forEach((l, i) => ids.set(l, offsets[i]));
  return { ids, offsets };
}
