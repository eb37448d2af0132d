// The page's one WebGPU device (the chat's engine runs on it) and the adapter facts the
// header and the Adapter tab show. Both are asked for once and shared.
import { acquireGpu, type Gpu, isSoftwareAdapter, noAdapterMessage, noWebGpuMessage } from "../../src/gpu/device.ts";

export interface AdapterReport {
  ok: true;
  adapter: GPUAdapter;
  info: GPUAdapterInfo;
  /** The adapter's name in a few words. */
  name: string;
  software: boolean;
  features: string[];
  limits: Record<string, number>;
}

export interface AdapterProblem {
  ok: false;
  /** "no-webgpu": navigator.gpu is missing; "no-adapter": requestAdapter answered null; "error": it threw. */
  reason: "no-webgpu" | "no-adapter" | "error";
  message: string;
}

let adapterPromise: Promise<AdapterReport | AdapterProblem> | null = null;
let gpuPromise: Promise<Gpu> | null = null;

export function adapterName(info: GPUAdapterInfo): string {
  if (info.description) return info.description;
  const arch = [info.architecture, info.device].filter(Boolean).join(" ");
  if (arch && info.vendor) return `${arch} (${info.vendor})`;
  return arch || info.vendor || "unknown adapter";
}

function limitsOf(limits: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  // GPUSupportedLimits exposes its values as prototype getters: walk them.
  for (let proto = Object.getPrototypeOf(limits); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const v = (limits as unknown as Record<string, unknown>)[key];
      if (typeof v === "number" && !(key in out)) out[key] = v;
    }
  }
  for (const key of Object.keys(limits)) {
    const v = (limits as unknown as Record<string, unknown>)[key];
    if (typeof v === "number") out[key] = v;
  }
  return out;
}

/** The adapter this browser offers (no device is created), or why there is none. */
export function getAdapter(): Promise<AdapterReport | AdapterProblem> {
  adapterPromise ??= (async (): Promise<AdapterReport | AdapterProblem> => {
    const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
    if (!gpu) return { ok: false, reason: "no-webgpu", message: noWebGpuMessage() };
    try {
      const adapter = await gpu.requestAdapter();
      if (!adapter) return { ok: false, reason: "no-adapter", message: noAdapterMessage() };
      const info = adapter.info;
      return {
        ok: true,
        adapter,
        info,
        name: adapterName(info),
        software: isSoftwareAdapter(info),
        features: [...adapter.features].map(String).sort(),
        limits: limitsOf(adapter.limits),
      };
    } catch (err) {
      return { ok: false, reason: "error", message: `requestAdapter failed: ${(err as Error).message}` };
    }
  })();
  return adapterPromise;
}

/** The shared device (acquireGpu: every useful feature, raised limits); retried after a failure or a lost device. */
export function getGpu(): Promise<Gpu> {
  if (gpuPromise) {
    return gpuPromise.then((g) => {
      if (g.lost) {
        gpuPromise = null;
        return getGpu();
      }
      return g;
    });
  }
  gpuPromise = acquireGpu();
  gpuPromise.catch(() => (gpuPromise = null));
  return gpuPromise;
}
