// GPU timing: timestamp queries around a compute pass where the adapter has them,
// otherwise wall-clock time from submit to queue completion (which includes the
// submit overhead, and says so in `source`).
import type { Gpu } from "./device.ts";
import type { Op } from "./kernel.ts";
import { withErrorScope } from "./errors.ts";

export interface Timing {
  /** Milliseconds for one repetition of the ops. */
  ms: number;
  source: "timestamp-query" | "wall-clock";
}

function now(): number {
  return performance.now();
}

/**
 * Times `ops` recorded `repeats` times into one pass (after one warm-up submit).
 * Timestamp queries measure the pass on the GPU; the fallback measures wall time.
 */
export async function timeOps(gpu: Gpu, ops: Op[], repeats = 5, label = "timing"): Promise<Timing> {
  const record = (pass: GPUComputePassEncoder, n: number) => {
    for (let r = 0; r < n; r++) for (const op of ops) op.record(pass);
  };
  // Warm-up: compiles lazily-built driver state and faults in buffers.
  await withErrorScope(gpu, label, async () => {
    const enc = gpu.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    record(pass, 1);
    pass.end();
    gpu.device.queue.submit([enc.finish()]);
    await gpu.device.queue.onSubmittedWorkDone();
  });

  if (gpu.features.has("timestamp-query")) {
    const querySet = gpu.device.createQuerySet({ type: "timestamp", count: 2 });
    const resolve = gpu.device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const read = gpu.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = gpu.device.createCommandEncoder();
    const pass = enc.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
    record(pass, repeats);
    pass.end();
    enc.resolveQuerySet(querySet, 0, 2, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, read, 0, 16);
    const t0 = now();
    gpu.device.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const wall = now() - t0;
    const [start, end] = new BigUint64Array(read.getMappedRange());
    read.unmap();
    for (const b of [resolve, read]) b.destroy();
    querySet.destroy();
    const ns = Number(end - start);
    // Some drivers return zeros or garbage for timestamps; fall back to the wall clock then.
    if (ns > 0 && ns < wall * 1e6 * 1.5) return { ms: ns / 1e6 / repeats, source: "timestamp-query" };
    return { ms: wall / repeats, source: "wall-clock" };
  }

  const enc = gpu.device.createCommandEncoder();
  const pass = enc.beginComputePass();
  record(pass, repeats);
  pass.end();
  const t0 = now();
  gpu.device.queue.submit([enc.finish()]);
  await gpu.device.queue.onSubmittedWorkDone();
  return { ms: (now() - t0) / repeats, source: "wall-clock" };
}
