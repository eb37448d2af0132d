// Batch encoding (and training-chunk counting) across Web Workers. `new Worker(new URL(
// "./worker.ts", import.meta.url), {type: "module"})` works in Deno and in Vite builds.
// Small batches stay in this thread: posting strings to workers and back costs more than
// encoding a few kilobytes, and results are identical either way.

import { type EncodeOptions, Tokenizer } from "./tokenizer.ts";
import { ChunkCounter } from "./train.ts";
import type { WorkerReply, WorkerRequest } from "./worker.ts";

export interface PoolOptions {
  /** Worker count (default: hardware threads, at most 8). 0 = always in-thread. */
  workers?: number;
  /** Batches with fewer characters than this are encoded in-thread (default 200,000). */
  minChars?: number;
}

/** Many encodings stored flat: text i has ids[offsets[i] .. offsets[i+1]). */
export interface FlatIds {
  ids: Int32Array;
  offsets: Int32Array;
}

type Pending = { resolve: (r: WorkerReply) => void; reject: (e: Error) => void };

export class EncoderPool {
  private nextId = 1;
  private pending = new Map<number, Pending>();

  private constructor(readonly tok: Tokenizer | null, private workers: Worker[], private minChars: number) {
    for (const w of workers) {
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
        const err = new Error(`tokenizer worker crashed: ${e.message}`);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      };
    }
  }

  /** Starts the workers; `tok` may be null for a pool that only counts training chunks. */
  static async create(tok: Tokenizer | null, opts: PoolOptions = {}): Promise<EncoderPool> {
    const hw = (globalThis.navigator as { hardwareConcurrency?: number } | undefined)?.hardwareConcurrency ?? 1;
    const n = typeof Worker === "undefined" ? 0 : Math.max(0, opts.workers ?? Math.min(8, hw));
    const workers: Worker[] = [];
    const file = tok ? tok.toJSON() : null;
    const ready: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
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
      workers.push(w);
    }
    try {
      await Promise.all(ready);
    } catch (err) {
      for (const w of workers) w.terminate();
      throw err;
    }
    return new EncoderPool(tok, workers, opts.minChars ?? 200_000);
  }

  get workerCount(): number {
    return this.workers.length;
  }

  private request(w: Worker, msg: WorkerRequest & { id: number }): Promise<WorkerReply> {
    return new Promise((resolve, reject) => {
      this.pending.set(msg.id, { resolve, reject });
      w.postMessage(msg);
    });
  }

  /** Contiguous slices of `texts` with about equal characters, one per worker. */
  private split(texts: readonly string[]): string[][] {
    const total = texts.reduce((s, t) => s + t.length, 0);
    const n = Math.min(this.workers.length, texts.length);
    const slices: string[][] = [];
    let cur: string[] = [], acc = 0;
    for (const t of texts) {
      cur.push(t);
      acc += t.length;
      if (slices.length < n - 1 && acc >= (total * (slices.length + 1)) / n) {
        slices.push(cur);
        cur = [];
      }
    }
    slices.push(cur);
    return slices;
  }

  private useWorkers(texts: readonly string[]): boolean {
    if (this.workers.length === 0 || texts.length < 2) return false;
    let chars = 0;
    for (const t of texts) if ((chars += t.length) >= this.minChars) return true;
    return false;
  }

  /** Encodes every text (like Tokenizer.encode) into one flat buffer. */
  async encodeBatchFlat(texts: readonly string[], opts: EncodeOptions = {}): Promise<FlatIds> {
    if (!this.tok) throw new Error("this pool was created without a tokenizer");
    if (!this.useWorkers(texts)) return flatten(this.tok.encodeBatch(texts, opts));
    const parts = await Promise.all(
      this.split(texts).map((slice, i) => this.request(this.workers[i], { kind: "encode", id: this.nextId++, texts: slice, opts })),
    );
    const outs = parts as Extract<WorkerReply, { kind: "encoded" }>[];
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

  /** Adds the training chunks of `texts` to `counter`, counting in the workers. */
  async countChunks(texts: readonly string[], counter: ChunkCounter): Promise<void> {
    if (!this.useWorkers(texts)) {
      for (const t of texts) counter.add(t);
      return;
    }
    const parts = await Promise.all(
      this.split(texts).map((slice, i) => this.request(this.workers[i], { kind: "count", id: this.nextId++, texts: slice })),
    );
    for (const p of parts as Extract<WorkerReply, { kind: "counted" }>[]) {
      for (let i = 0; i < p.chunks.length; i++) counter.addChunk(p.chunks[i], p.counts[i]);
    }
    for (const t of texts) counter.chars += t.length;
    counter.texts += texts.length;
  }

  /** Stops the workers (a Deno process does not exit while they run). */
  close(): void {
    for (const w of this.workers) w.terminate();
    this.workers = [];
    for (const p of this.pending.values()) p.reject(new Error("encoder pool closed"));
    this.pending.clear();
  }
}

function flatten(lists: number[][]): FlatIds {
  const offsets = new Int32Array(lists.length + 1);
  lists.forEach((l, i) => (offsets[i + 1] = offsets[i] + l.length));
  const ids = new Int32Array(offsets[lists.length]);
  lists.forEach((l, i) => ids.set(l, offsets[i]));
  return { ids, offsets };
}
