// The adapter's measured float32 matmul rate, used as the "peak" for MFU: on software
// adapters there is no datasheet number, and on GPUs this is what our kernels can reach.
import type { Gpu } from "../gpu/device.ts";
import { createTensor, writeTensor } from "../gpu/tensor.ts";
import { timeOps } from "../gpu/timing.ts";
import { matmulOp } from "./matmul.ts";

const cache = new WeakMap<GPUDevice, Promise<number>>();

/** FLOP/s of the tiled matmul at size³ (size defaults to 256 on software adapters, 1024 otherwise). */
export function measurePeakFlops(gpu: Gpu, size?: number): Promise<number> {
  let p = cache.get(gpu.device);
  if (!p) {
    p = (async () => {
      const n = size ?? (/software/.test(gpu.description) ? 256 : 1024);
      const ts = [0, 1, 2].map((i) => createTensor(gpu, [n * n], "f32", `peak${i}`));
      writeTensor(ts[0], new Float32Array(n * n).fill(0.5));
      writeTensor(ts[1], new Float32Array(n * n).fill(0.25));
      const op = await matmulOp(gpu, { a: ts[0], b: ts[1], c: ts[2] }, { M: n, N: n, K: n });
      const t = await timeOps(gpu, [op], 3, "peak matmul");
      for (const x of ts) x.destroy();
      return op.flops / (t.ms / 1000);
    })();
    cache.set(gpu.device, p);
  }
  return p;
}
