// Host wrapper for kernels/topk.wgsl: each row's k largest logits and their ids, largest
// first (ties: the lower id), so a decode step reads back rows × k candidates instead of
// rows × V logits. Sampling among them (src/engine/sampling.ts sampleTopK) picks the same
// token as sampling the full row with top-k k, and k = 1 is the argmax.
import type { Gpu } from "../gpu/device.ts";
import { GpuError } from "../gpu/device.ts";
import { gridOp, requireSize } from "../gpu/grid.ts";
import { loadKernel, type Op } from "../gpu/kernel.ts";
import { createTensor, readBuffer, type Tensor } from "../gpu/tensor.ts";

export const TOPK_WGSL = new URL("../../kernels/topk.wgsl", import.meta.url);
/** The largest k the kernel keeps per thread (its private lists). */
export const MAX_TOPK = 64;

export interface TopKOp extends Op {
  /** rows × 2k u32: per row, k values (f32 bits), then k ids. */
  out: Tensor;
  /** Reads the candidates back: per row, values and ids, best first. */
  read(): Promise<{ values: Float32Array; ids: Uint32Array; k: number }[]>;
  destroy(): void;
}

export async function topKOp(gpu: Gpu, t: { logits: Tensor }, s: { rows: number; V: number; k: number }, opts: { label?: string } = {}): Promise<TopKOp> {
  const name = `${opts.label ?? "topk"}(rows=${s.rows} V=${s.V} k=${s.k})`;
  if (!Number.isInteger(s.k) || s.k < 1 || s.k > MAX_TOPK || s.k > s.V) throw new GpuError(`${name}: k must be 1 … min(${MAX_TOPK}, V)`);
  if (s.rows > gpu.limits.maxComputeWorkgroupsPerDimension) throw new GpuError(`${name}: more rows than one dispatch dimension holds (${gpu.limits.maxComputeWorkgroupsPerDimension})`);
  requireSize(name, "logits", t.logits, s.rows * s.V);
  const kernel = await loadKernel(gpu, { url: TOPK_WGSL, entry: "topk" });
  const out = createTensor(gpu, [s.rows, 2 * s.k], "u32", `${name}.out`);
  const bound = kernel.bind({ logits: t.logits, out }, { rows: s.rows, V: s.V, k: s.k }, name);
  return {
    ...gridOp(bound, [s.rows, 1], name),
    out,
    async read() {
      const bytes = await readBuffer(gpu, out.buffer, 0, s.rows * 2 * s.k * 4);
      return Array.from({ length: s.rows }, (_, r) => ({
        values: new Float32Array(bytes, r * 2 * s.k * 4, s.k),
        ids: new Uint32Array(bytes, (r * 2 + 1) * s.k * 4, s.k),
        k: s.k,
      }));
    },
    destroy: () => out.destroy(),
  };
}
