// WebGPU reports validation, out-of-memory and internal errors asynchronously.
// We bracket risky work in error scopes and turn what they catch into a GpuError
// that names the work (kernel name and shapes), so nothing fails silently.
import { type Gpu, GpuError } from "./device.ts";

const FILTERS: GPUErrorFilter[] = ["validation", "out-of-memory", "internal"];

export async function withErrorScope<T>(gpu: Gpu, what: string, fn: () => T | Promise<T>): Promise<T> {
  if (gpu.lost) throw new GpuError(`${what}: ${gpu.lost}`);
  for (const filter of FILTERS) gpu.device.pushErrorScope(filter);
  let result: T;
  let thrown: unknown = null;
  try {
    result = await fn();
  } catch (err) {
    thrown = err;
  }
  const errors: string[] = [];
  // Scopes pop in reverse order of pushing.
  for (const filter of [...FILTERS].reverse()) {
    const error = await gpu.device.popErrorScope();
    if (error) errors.push(`${filter} error: ${error.message}`);
  }
  if (errors.length) throw new GpuError(`${what} failed on the GPU:\n  ${errors.join("\n  ")}`);
  if (thrown) throw thrown;
  if (gpu.lost) throw new GpuError(`${what}: ${gpu.lost}`);
  return result!;
}

/** Raises an error that happened outside any error scope since the last check. */
export function throwIfUncaptured(gpu: Gpu, what: string): void {
  if (gpu.lost) throw new GpuError(`${what}: ${gpu.lost}`);
  const message = gpu.uncaptured;
  if (message) {
    gpu.uncaptured = null;
    throw new GpuError(`${what} failed on the GPU: ${message}`);
  }
}
