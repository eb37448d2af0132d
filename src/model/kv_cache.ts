// The KV cache for generation: per layer, the keys and values of every position seen so
// far, for up to `rows` sequences decoded together. Keys are stored after rotary and
// QK-norm (what attention reads), values as c_v wrote them; both are GQA-sized,
// (rows, capacity, n_kv_head, head_dim) float32, so memory is
//   2 · n_layer · rows · capacity · n_kv_head · head_dim · 4 bytes.
// The cache holds no length: the engine knows how many positions are filled, and the
// model's ops write and read positions through their uniforms (GPT.setPosition).
import type { Gpu } from "../gpu/device.ts";
import type { Op } from "../gpu/kernel.ts";
import { createTensor, prefixView, type Tensor } from "../gpu/tensor.ts";
import { type KvBroadcastOp, kvBroadcastOp } from "../nn/kv_write.ts";
import { type GPTConfig, headDim } from "./config.ts";

export class KVCache {
  readonly k: Tensor[] = [];
  readonly v: Tensor[] = [];
  /** Floats per cached position of one sequence: n_kv_head · head_dim. */
  readonly width: number;
  /** Per number of sequences n: the ops copying sequence 0's prefix to rows 1 … n−1, made once. */
  private shares = new Map<number, KvBroadcastOp[]>();

  constructor(readonly gpu: Gpu, readonly cfg: GPTConfig, readonly rows: number, readonly capacity: number) {
    if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`KV cache: rows must be a positive integer, got ${rows}`);
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > cfg.sequence_len) {
      throw new RangeError(`KV cache: capacity must be 1 … sequence_len (${cfg.sequence_len}), got ${capacity}`);
    }
    this.width = cfg.n_kv_head * headDim(cfg);
    for (let l = 0; l < cfg.n_layer; l++) {
      this.k.push(createTensor(gpu, [rows, capacity, this.width], "f32", `kv.k${l}`));
      this.v.push(createTensor(gpu, [rows, capacity, this.width], "f32", `kv.v${l}`));
    }
  }

  /** Bytes one sequence of `capacity` positions takes in a cache (keys and values, every layer). */
  static rowBytes(cfg: GPTConfig, capacity: number): number {
    return 2 * cfg.n_layer * capacity * cfg.n_kv_head * headDim(cfg) * 4;
  }

  /**
   * Rows for batched decoding (evals, RL sampling): `wanted`, at most 64 and as many as a
   * 1 GiB cache holds, at least one.
   */
  static batchRows(cfg: GPTConfig, capacity: number, wanted = 64): number {
    return Math.max(1, Math.min(wanted, 64, Math.floor(2 ** 30 / KVCache.rowBytes(cfg, capacity))));
  }

  /** Layer l's k and v for the first B sequences (views sharing the cache's buffers). */
  layer(l: number, B: number): { k: Tensor; v: Tensor } {
    if (B > this.rows) throw new RangeError(`KV cache: ${B} sequences asked of a cache with ${this.rows} rows`);
    const shape = [B, this.capacity, this.width];
    return { k: prefixView(this.k[l], shape), v: prefixView(this.v[l], shape) };
  }

  /**
   * Ops that copy positions 0 … length−1 of sequence 0 into sequences 1 … n−1 in every
   * layer (k and v), so n samples of one prompt share one prefill. The ops for each n
   * are made once and re-aimed at `length` on each call.
   */
  async shareRow0Ops(n: number, length: number): Promise<Op[]> {
    if (!Number.isInteger(n) || n < 1 || n > this.rows) throw new RangeError(`KV cache: cannot share row 0 with ${n} sequences of ${this.rows}`);
    let ops = this.shares.get(n);
    if (!ops) {
      const layout = { B: n, width: this.width, capacity: this.capacity };
      ops = await Promise.all([...this.k, ...this.v].map((cache) => kvBroadcastOp(this.gpu, { cache }, layout, { label: `${cache.label}.broadcast` })));
      this.shares.set(n, ops);
    }
    for (const op of ops) op.setLength(length);
    return ops;
  }

  get bytes(): number {
    return [...this.k, ...this.v].reduce((s, t) => s + t.buffer.size, 0);
  }

  destroy(): void {
    for (const op of [...this.shares.values()].flat()) op.destroy();
    for (const t of [...this.k, ...this.v]) t.destroy();
  }
}
