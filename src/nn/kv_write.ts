// Host wrappers for kernels/kv_write.wgsl: writing a step's keys/values into a layer's KV
// cache (append) and sharing sequence 0's prefix with the other rows (broadcast).
// A cache tensor is (rows, capacity, width) float32 with width = n_kv_head·head_dim.
import type { Gpu } from "../gpu/device.ts";
import { GpuError } from "../gpu/device.ts";
import { grid1d, gridOp, requireSize } from "../gpu/grid.ts";
import { loadKernel, type Op } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";

export const KV_WRITE_WGSL = new URL("../../kernels/kv_write.wgsl", import.meta.url);

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

export interface KvBroadcastOp extends Op {
  /** How many positions of sequence 0 the next dispatch copies. */
  setLength(length: number): void;
  /** Frees the op's parameter buffer (the cache itself belongs to its owner). */
  destroy(): void;
}

/** cache[b, pos + t, :] = src[b, t, :] — src is (B, T, width), packed. */
export async function kvAppendOp(
  gpu: Gpu, t: { src: Tensor; cache: Tensor }, s: KvLayout, opts: { label?: string } = {},
): Promise<KvAppendOp> {
  const name = `${opts.label ?? "kv.append"}(B=${s.B} T=${s.T} width=${s.width} capacity=${s.capacity})`;
  requireSize(name, "src", t.src, s.B * s.T * s.width);
  requireSize(name, "cache", t.cache, s.B * s.capacity * s.width);
  const kernel = await loadKernel(gpu, { url: KV_WRITE_WGSL, entry: "append" });
  const params = (pos: number) => ({ B: s.B, T: s.T, width: s.width, capacity: s.capacity, pos });
  const bound = kernel.bind({ src: t.src, cache: t.cache }, params(0), name);
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

/**
 * Copies positions 0 … length−1 of sequence 0 into sequences 1 … B−1 (one dispatch). The
 * length starts at `length` (default 0: nothing) and moves with setLength, so one op
 * serves every prompt.
 */
export async function kvBroadcastOp(
  gpu: Gpu, t: { cache: Tensor }, s: Omit<KvLayout, "T">, opts: { length?: number; label?: string } = {},
): Promise<KvBroadcastOp> {
  const label = opts.label ?? "kv.broadcast";
  const name = `${label}(B=${s.B} width=${s.width} capacity=${s.capacity})`;
  requireSize(name, "cache", t.cache, s.B * s.capacity * s.width);
  const kernel = await loadKernel(gpu, { url: KV_WRITE_WGSL, entry: "broadcast" });
  const params = (length: number) => ({ B: s.B, T: 1, width: s.width, capacity: s.capacity, pos: length });
  const bound = kernel.bind({ cache: t.cache }, params(0), name);
  let grid: [number, number] = [0, 1];
  const op: KvBroadcastOp = {
    label: name,
    record: (pass) => bound.dispatch(pass, grid[0], grid[1]),
    setLength(length: number) {
      if (!Number.isInteger(length) || length < 0 || length > s.capacity) {
        throw new GpuError(`${name}: length ${length} must be an integer within the capacity (${s.capacity})`);
      }
      bound.setParams(params(length));
      const items = Math.max(0, s.B - 1) * length * s.width;
      grid = items ? grid1d(gpu, items, 256, name) : [0, 1];
    },
    destroy: () => bound.destroy(),
  };
  op.setLength(opts.length ?? 0);
  return op;
}
