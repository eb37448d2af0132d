// Adapter and device acquisition, the same in Deno and in the browser.
// We ask for every optional feature the kernels can use and raise the limits the
// model needs as far as the adapter allows, then describe what we got in one line.
import { UserError } from "../util/errors.ts";

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** Pick the adapter whose description/vendor/architecture contains this (case-insensitive). */
  adapterName?: string;
  /** Features to leave off even when present (e.g. to test the float32 path). */
  disableFeatures?: GPUFeatureName[];
}

export interface Gpu {
  device: GPUDevice;
  adapter: GPUAdapter;
  info: GPUAdapterInfo;
  features: Set<string>;
  limits: GPUSupportedLimits;
  /** One line for logs and reports: name, backend, software or hardware, features. */
  description: string;
  /** Set once the device is lost; every later submit raises it. */
  lost: string | null;
  /**
   * The first WebGPU error raised outside an error scope (the hot training path records
   * without scopes, since popping one waits for the queue in Deno); checked after readbacks.
   */
  uncaptured: string | null;
}

/** WebGPU errors a user can act on (no adapter, a limit, a kernel that does not fit). */
export class GpuError extends UserError {
  override name = "GpuError";
}

export const WANTED_FEATURES = ["shader-f16", "subgroups", "timestamp-query"] as const;

// Limits the lab raises to the adapter's maximum: large weight and activation
// buffers, the flash-attention tiles in workgroup memory, many buffers per kernel.
const RAISED_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupsPerDimension",
] as const;

function isDeno(): boolean {
  return typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
}

export function noWebGpuMessage(): string {
  if (isDeno()) {
    return [
      "WebGPU is not available in this Deno process (navigator.gpu is missing).",
      "Use Deno 2 (npx -y deno@2 ...), and on older versions pass the flag --unstable-webgpu",
      "(this project's deno.json turns it on for every `deno task ...`).",
    ].join("\n");
  }
  return [
    "This browser has no WebGPU (navigator.gpu is missing).",
    "Use a recent Chrome/Edge/Chromium (or Firefox/Safari with WebGPU enabled), open the page over https or http://127.0.0.1,",
    "and on Linux start Chromium with --enable-unsafe-webgpu if WebGPU is still off.",
  ].join("\n");
}

export function noAdapterMessage(): string {
  if (isDeno()) {
    return [
      "WebGPU found no adapter (no GPU driver that wgpu can use).",
      "Install a GPU driver with Vulkan support, or on a headless Debian/Ubuntu machine the software adapter:",
      "  sudo apt-get install -y mesa-vulkan-drivers",
    ].join("\n");
  }
  return "WebGPU found no adapter: enable hardware acceleration in the browser settings or update the GPU driver.";
}

export function adapterText(info: GPUAdapterInfo): string {
  return [info.description, info.vendor, info.architecture, info.device].filter(Boolean).join(" ");
}

/** Software rasterizers the lab may run on: they are slow and need tiny shapes. */
export function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  const text = adapterText(info).toLowerCase();
  return (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
    /llvmpipe|lavapipe|swiftshader|software|warp/.test(text);
}

export function describeAdapter(info: GPUAdapterInfo, features: Set<string>): string {
  const name = info.description || [info.vendor, info.architecture].filter(Boolean).join(" ") || "unknown adapter";
  const backend = isDeno() ? `deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno} wgpu` : "browser";
  const kind = isSoftwareAdapter(info) ? "software" : "hardware";
  const feats = WANTED_FEATURES.filter((f) => features.has(f));
  return `${name} (${backend}, ${kind}; features: ${feats.length ? feats.join(", ") : "none of shader-f16/subgroups/timestamp-query"})`;
}

async function pickAdapter(gpu: GPU, opts: AcquireOptions): Promise<GPUAdapter> {
  const prefs: (GPUPowerPreference | undefined)[] = opts.powerPreference
    ? [opts.powerPreference]
    : [undefined, "high-performance", "low-power"];
  const seen: GPUAdapter[] = [];
  for (const powerPreference of prefs) {
    const adapter = await gpu.requestAdapter(powerPreference ? { powerPreference } : {});
    if (adapter) seen.push(adapter);
  }
  if (seen.length === 0) throw new GpuError(noAdapterMessage());
  if (!opts.adapterName) return seen[0];
  const want = opts.adapterName.toLowerCase();
  const match = seen.find((a) => adapterText(a.info).toLowerCase().includes(want));
  if (!match) {
    const names = [...new Set(seen.map((a) => adapterText(a.info)))].join("; ");
    throw new GpuError(`no WebGPU adapter matches '${opts.adapterName}'. Adapters found: ${names}`);
  }
  return match;
}

/**
 * Under Deno on Linux, requesting an adapter makes the Vulkan stack probe for a Wayland
 * display; with XDG_RUNTIME_DIR unset (headless machines, CI, containers, sudo) libwayland
 * prints "error: XDG_RUNTIME_DIR is invalid or not set in the environment." for every
 * probe — six lines per start — although compute needs no display at all. Giving the
 * process a private, empty runtime directory makes the probe fail quietly (there is no
 * socket in it). Only when the variable is unset; a session's own value is left alone,
 * and nothing is filtered out of stderr, so real errors still show.
 */
function quietDisplayProbe(): void {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (!deno || deno.build.os !== "linux") return;
  try {
    if (deno.env.get("XDG_RUNTIME_DIR") || deno.env.get("WAYLAND_DISPLAY")) return;
    const uid = deno.uid();
    const dir = `${deno.env.get("TMPDIR") || "/tmp"}/webgpu-nanochat-runtime-${uid}`;
    deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = deno.statSync(dir);
    // Someone else's directory, or one others can write into, is not ours to use.
    if (!st.isDirectory || st.uid !== uid || ((st.mode ?? 0) & 0o077) !== 0) return;
    deno.env.set("XDG_RUNTIME_DIR", dir);
  } catch {
    // No env or file permissions: the probe just stays noisy.
  }
}

export async function acquireGpu(opts: AcquireOptions = {}): Promise<Gpu> {
  quietDisplayProbe();
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new GpuError(noWebGpuMessage());
  const adapter = await pickAdapter(gpu, opts);
  const disabled = new Set<string>(opts.disableFeatures ?? []);
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f) && !disabled.has(f)) as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const value = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof value === "number") requiredLimits[name] = value;
  }
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  const features = new Set<string>([...device.features]);
  const result: Gpu = {
    device,
    adapter,
    info: adapter.info,
    features,
    limits: device.limits,
    description: describeAdapter(adapter.info, features),
    lost: null,
    uncaptured: null,
  };
  device.addEventListener("uncapturederror", (event) => {
    result.uncaptured ??= (event as GPUUncapturedErrorEvent).error.message;
  });
  device.lost.then((info) => {
    result.lost = `WebGPU device lost (${info.reason}): ${info.message || "no message"}`;
  });
  return result;
}
