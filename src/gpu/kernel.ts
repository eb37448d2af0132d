// Kernel loading: WGSL fetched by URL (a file: URL under Deno, a bundled asset in
// Vite builds), reflected with wgsl_reflect, compiled into a compute pipeline that
// is cached per (file, entry point, override constants). Binding a kernel checks the
// host's buffers and parameters against the reflection, so a wrapper that passes the
// wrong set of buffers or a misspelled parameter fails at once with the kernel named.
// @ts-types="wgsl_reflect/types/index.d.ts"
import { WgslReflect } from "wgsl_reflect/wgsl_reflect.module.js";
import { type Gpu, GpuError } from "./device.ts";
import { withErrorScope } from "./errors.ts";
import type { Tensor } from "./tensor.ts";

export type Overrides = Record<string, number | boolean>;

export interface KernelSpec {
  /** URL of the .wgsl file, e.g. new URL("../../kernels/matmul.wgsl", import.meta.url). */
  url: URL | string;
  entry: string;
  overrides?: Overrides;
}

interface ResourceInfo {
  name: string;
  binding: number;
  kind: "uniform" | "read-only-storage" | "storage";
}

interface ParamMember {
  name: string;
  offset: number;
  type: "u32" | "i32" | "f32";
}

/** A compiled entry point with what the reflection says it binds. */
export class Kernel {
  constructor(
    readonly gpu: Gpu,
    readonly name: string,
    readonly pipeline: GPUComputePipeline,
    readonly layout: GPUBindGroupLayout,
    readonly resources: ResourceInfo[],
    readonly params: { binding: number; size: number; members: ParamMember[] } | null,
    readonly workgroupSize: [number, number, number],
  ) {}

  /**
   * Creates the bind group (and the uniform buffer for `params`) once. The result can
   * be recorded into many passes; only setParams() touches the GPU again.
   */
  bind(buffers: Record<string, Tensor | GPUBuffer>, params: Record<string, number> = {}, label = this.name): BoundKernel {
    const storage = this.resources.filter((r) => r.kind !== "uniform");
    const expected = storage.map((r) => r.name).sort();
    const given = Object.keys(buffers).sort();
    const missing = expected.filter((n) => !given.includes(n));
    const extra = given.filter((n) => !expected.includes(n));
    if (missing.length || extra.length) {
      throw new GpuError(
        `${label}: buffers do not match the kernel's bindings` +
          (missing.length ? `; missing: ${missing.join(", ")}` : "") +
          (extra.length ? `; not in the shader: ${extra.join(", ")}` : ""),
      );
    }
    const entries: GPUBindGroupEntry[] = storage.map((r) => {
      const b = buffers[r.name];
      return { binding: r.binding, resource: { buffer: "buffer" in b ? b.buffer : b } };
    });
    let uniform: GPUBuffer | null = null;
    if (this.params) {
      uniform = this.gpu.device.createBuffer({
        label: `${label}:params`,
        size: Math.max(16, Math.ceil(this.params.size / 16) * 16),
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      entries.push({ binding: this.params.binding, resource: { buffer: uniform } });
    }
    const bindGroup = this.gpu.device.createBindGroup({ label, layout: this.layout, entries });
    const bound = new BoundKernel(this, bindGroup, uniform, label);
    if (this.params) bound.setParams(params);
    else if (Object.keys(params).length) throw new GpuError(`${label}: kernel has no params struct but params were given`);
    return bound;
  }

  packParams(values: Record<string, number>, label = this.name): ArrayBuffer {
    const p = this.params!;
    const names = p.members.map((m) => m.name);
    const unknown = Object.keys(values).filter((k) => !names.includes(k));
    const missing = names.filter((k) => !(k in values));
    if (unknown.length || missing.length) {
      throw new GpuError(
        `${label}: params do not match the shader's struct` +
          (missing.length ? `; missing: ${missing.join(", ")}` : "") +
          (unknown.length ? `; unknown: ${unknown.join(", ")}` : ""),
      );
    }
    const data = new ArrayBuffer(Math.max(16, Math.ceil(p.size / 16) * 16));
    const view = new DataView(data);
    for (const m of p.members) {
      const v = values[m.name];
      if (m.type === "f32") view.setFloat32(m.offset, v, true);
      else if (m.type === "i32") view.setInt32(m.offset, v, true);
      else {
        if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
          throw new GpuError(`${label}: param ${m.name} must be a u32, got ${v}`);
        }
        view.setUint32(m.offset, v, true);
      }
    }
    return data;
  }
}

/** A kernel with its buffers bound: record it into a compute pass as often as needed. */
export class BoundKernel {
  constructor(
    readonly kernel: Kernel,
    readonly bindGroup: GPUBindGroup,
    readonly uniform: GPUBuffer | null,
    readonly label: string,
  ) {}

  setParams(values: Record<string, number>): void {
    if (!this.uniform) return;
    this.kernel.gpu.device.queue.writeBuffer(this.uniform, 0, this.kernel.packParams(values, this.label));
  }

  /** Frees the parameter buffer; the bound tensors belong to their owners. */
  destroy(): void {
    this.uniform?.destroy();
  }

  dispatch(pass: GPUComputePassEncoder, x: number, y = 1, z = 1): void {
    const max = this.kernel.gpu.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) {
      throw new GpuError(`${this.label}: dispatch ${x}×${y}×${z} exceeds maxComputeWorkgroupsPerDimension (${max})`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    pass.setPipeline(this.kernel.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(x, y, z);
  }
}

const sourceCache = new Map<string, Promise<string>>();
const pipelineCache = new WeakMap<GPUDevice, Map<string, Promise<Kernel>>>();

async function fetchSource(url: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new GpuError(`cannot read kernel source ${url}: ${(err as Error).message}`);
  }
  if (!response.ok) throw new GpuError(`cannot read kernel source ${url}: HTTP ${response.status}`);
  return await response.text();
}

/**
 * Forgets the source and the compiled pipelines of one kernel file on this device, so the
 * next loadKernel reads the file again. For tools that change a kernel's source in place
 * (mutation testing); ops bound earlier keep their old pipelines.
 */
export function clearKernelCache(gpu: Gpu, url: URL | string): void {
  const key = String(url);
  sourceCache.delete(key);
  const cache = pipelineCache.get(gpu.device);
  for (const k of [...(cache?.keys() ?? [])]) if (k.startsWith(`${key}#`)) cache!.delete(k);
}

export function kernelFileName(url: URL | string): string {
  const s = String(url);
  return s.slice(s.lastIndexOf("/") + 1).replace(/\?.*$/, "");
}

function reflectEntry(source: string, file: string, entry: string) {
  const reflect = new WgslReflect(source);
  const fn = reflect.entry.compute.find((f) => f.name === entry);
  if (!fn) {
    const names = reflect.entry.compute.map((f) => f.name).join(", ");
    throw new GpuError(`${file}: no compute entry point '${entry}' (entry points: ${names})`);
  }
  const resources: ResourceInfo[] = [];
  let params: Kernel["params"] = null;
  for (const r of fn.resources) {
    if (r.group !== 0) throw new GpuError(`${file}:${entry}: only @group(0) is supported (${r.name} is in group ${r.group})`);
    // ResourceType: 0 uniform, 1 storage.
    if (r.resourceType === 0) {
      const members = (r.members ?? []).map((m) => {
        const type = m.type.name;
        if (type !== "u32" && type !== "i32" && type !== "f32") {
          throw new GpuError(`${file}:${entry}: uniform member ${m.name} has type ${type}; only u32/i32/f32 are supported`);
        }
        return { name: m.name, offset: m.offset, type } as ParamMember;
      });
      if (params) throw new GpuError(`${file}:${entry}: at most one uniform params struct is supported`);
      params = { binding: r.binding, size: r.size, members };
      resources.push({ name: r.name, binding: r.binding, kind: "uniform" });
    } else if (r.resourceType === 1) {
      resources.push({ name: r.name, binding: r.binding, kind: r.access === "read" ? "read-only-storage" : "storage" });
    } else {
      throw new GpuError(`${file}:${entry}: resource ${r.name} is not a buffer; kernels use storage and uniform buffers only`);
    }
  }
  resources.sort((a, b) => a.binding - b.binding);
  return { resources, params, workgroupSize: fn.workgroupSize ?? [1, 1, 1], overrides: reflect.overrides.map((o) => o.name) };
}

export function loadKernel(gpu: Gpu, spec: KernelSpec): Promise<Kernel> {
  const url = String(spec.url);
  const overrides = spec.overrides ?? {};
  const key = `${url}#${spec.entry}#${JSON.stringify(Object.entries(overrides).sort())}`;
  let cache = pipelineCache.get(gpu.device);
  if (!cache) pipelineCache.set(gpu.device, (cache = new Map()));
  let kernel = cache.get(key);
  if (!kernel) {
    kernel = compile(gpu, url, spec.entry, overrides);
    cache.set(key, kernel);
    kernel.catch(() => cache!.delete(key));
  }
  return kernel;
}

async function compile(gpu: Gpu, url: string, entry: string, overrides: Overrides): Promise<Kernel> {
  let source = sourceCache.get(url);
  if (!source) {
    source = fetchSource(url);
    sourceCache.set(url, source);
    source.catch(() => sourceCache.delete(url));
  }
  const code = await source;
  const file = kernelFileName(url);
  const name = `${file.replace(/\.wgsl$/, "")}:${entry}`;
  const info = reflectEntry(code, file, entry);
  const unknown = Object.keys(overrides).filter((o) => !info.overrides.includes(o));
  if (unknown.length) throw new GpuError(`${name}: unknown override constants ${unknown.join(", ")}`);
  const constants: Record<string, number> = {};
  for (const [k, v] of Object.entries(overrides)) constants[k] = typeof v === "boolean" ? Number(v) : v;

  return await withErrorScope(gpu, `compiling ${name}`, async () => {
    const module = gpu.device.createShaderModule({ label: file, code });
    const messages = (await module.getCompilationInfo()).messages.filter((m) => m.type === "error");
    if (messages.length) {
      throw new GpuError(`${file} does not compile:\n${messages.map((m) => `  line ${m.lineNum}: ${m.message}`).join("\n")}`);
    }
    const layout = gpu.device.createBindGroupLayout({
      label: name,
      entries: info.resources.map((r) => ({
        binding: r.binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: r.kind },
      })),
    });
    let pipeline: GPUComputePipeline;
    try {
      pipeline = await gpu.device.createComputePipelineAsync({
        label: name,
        layout: gpu.device.createPipelineLayout({ label: name, bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: entry, constants },
      });
    } catch (err) {
      throw new GpuError(`${name}: pipeline creation failed: ${(err as Error).message}`);
    }
    return new Kernel(gpu, name, pipeline, layout, info.resources, info.params, info.workgroupSize);
  });
}

/** Anything that can be recorded into a compute pass: a bound kernel with its grid. */
export interface Op {
  label: string;
  record(pass: GPUComputePassEncoder): void;
}

/**
 * Records `ops` into one command buffer (one compute pass) and submits it. By default
 * inside error scopes, so a validation error names the ops involved. `checked: false`
 * skips the scopes — popping one waits for the queue under Deno, which would stall a
 * training step — and leaves errors to the device's uncaptured-error record, which
 * callers check with throwIfUncaptured() after their readback.
 */
export async function runOps(
  gpu: Gpu, ops: Op[], what = ops.map((o) => o.label).join(", "), opts: { checked?: boolean } = {},
): Promise<void> {
  const record = () => {
    const encoder = gpu.device.createCommandEncoder({ label: what.slice(0, 200) });
    const pass = encoder.beginComputePass({ label: what.slice(0, 200) });
    for (const op of ops) op.record(pass);
    pass.end();
    gpu.device.queue.submit([encoder.finish()]);
  };
  if (opts.checked === false) {
    if (gpu.lost) throw new GpuError(`${what}: ${gpu.lost}`);
    record();
    return;
  }
  await withErrorScope(gpu, what, record);
}
