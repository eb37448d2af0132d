// Host wrappers for kernels/kv_cache.wgsl: writing a step's keys/values into a layer's
// cache (append) and sharing row 0's prefix with the other rows (broadcast).
// A cache tensor is (rows, capacity, width) float32 with width = n_kv_head·head_dim.
import type { Gpu } from "../gpu/device.ts";
import { GpuError } from "../gpu/device.ts";
import { loadKernel, type Op } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { grid1d, gridOp, requireSize } from "./grid.ts";

export const KV_CACHE_WGSL = new URL("../../kernels/kv_cache.wgsl", import.meta.url);

export interface KvLayout {
  /** Sequences written (≤ the cache's rows). */
  B: number;
  /** New rows per sequence this step. */
  T: number;
  /** Floats per cached row: n_kv_head · head_dim. */
  width: number;
  /** Rows per sequence in the cache. */
  capacity: number;
}

export interface KvAppendOp extends Op {
  /** Where this step's rows go: positions pos … pos + T − 1 of every sequence. */
  setPos(pos: number): void;
}

/** cache[b, pos + t, :] = src[b, t, :] — src is (B, T, width), packed. */
export async function kvAppendOp(gpu: Gpu, src: Tensor, cache: Tensor, s: KvLayout, label = "kv.append"): Promise<KvAppendOp> {
  const name = `${label}(B=${s.B} T=${s.T} width=${s.width} capacity=${s.capacity})`;
  requireSize(name, "src", src, s.B * s.T * s.width);
  requireSize(name, "cache", cache, s.B * s.capacity * s.width);
  const kernel = await loadKernel(gpu, { url: KV_CACHE_WGSL, entry: "append" });
  const params = (pos: number) => ({ B: s.B, T: s.T, width: s.width, capacity: s.capacity, pos });
  const bound = kernel.bind({ src, cache }, params(0), name);
  return {
    ...gridOp(bound, grid1d(gpu, s.B * s.T * s.width, 256, name)),
    setPos(pos: number) {
      if (!Number.isInteger(pos) || pos < 0 || pos + s.T > s.capacity) {
        throw new GpuError(`${name}: rows ${pos} … ${pos + s.T - 1} do not fit a cache of ${s.capacity} positions`);
      }
      bound.setParams(params(pos));
    },
  };
}

/** Copies positions 0 … length−1 of sequence 0 into sequences 1 … B−1 (one dispatch). */
export async function kvBroadcastOp(
  gpu: Gpu, cache: Tensor, s: Omit<KvLayout, "T">, length: number, label = "kv.broadcast",
): Promise<Op> {
  const name = `${label}(B=${s.B} length=${length} width=${s.width} capacity=${s.capacity})`;
  if (!Number.isInteger(length) || length < 0 || length > s.capacity) throw new GpuError(`${name}: length must be within the capacity`);
  requireSize(name, "cache", cache, s.B * s.capacity * s.width);
  const kernel = await loadKernel(gpu, { url: KV_CACHE_WGSL, entry: "broadcast" });
  const bound = kernel.bind({ cache }, { B: s.B, T: 1, width: s.width, capacity: s.capacity, pos: length }, name);
  return gridOp(bound, grid1d(gpu, Math.max(0, s.B - 1) * length * s.width, 256, name));
}
