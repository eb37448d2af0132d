// Dispatch grids. WebGPU caps each grid dimension (65535 on most adapters), so 1-D work
// is laid over x and y; kernels rebuild the index as y·(x-count·workgroup) + x.
import type { Gpu } from "./device.ts";
import { GpuError } from "./device.ts";
import type { BoundKernel, Op } from "./kernel.ts";

export function grid1d(gpu: Gpu, items: number, perWorkgroup: number, label: string): [number, number] {
  const groups = Math.ceil(items / perWorkgroup);
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= max) return [Math.max(groups, 1), 1];
  const y = Math.ceil(groups / max);
  if (y > max) throw new GpuError(`${label}: ${items} items need more than ${max}² workgroups`);
  return [Math.ceil(groups / y), y];
}

/** An op that dispatches one bound kernel over a fixed grid. */
export function gridOp(bound: BoundKernel, grid: [number, number] | [number, number, number], label = bound.label): Op {
  return {
    label,
    record(pass) {
      bound.dispatch(pass, grid[0], grid[1], grid[2] ?? 1);
    },
  };
}

export function requireSize(label: string, name: string, t: { size: number; toString(): string }, need: number): void {
  if (t.size < need) throw new GpuError(`${label}: ${name} ${t} has ${t.size} elements, needs ${need}`);
}
