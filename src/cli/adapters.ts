// `deno task adapters`: every WebGPU adapter this machine offers the lab under Deno, and how
// to point a process at each one.
//
// Deno's requestAdapter passes only powerPreference and forceFallbackAdapter to wgpu, so
// one process cannot pick the second of two identical GPUs. Mesa's device-select Vulkan
// layer (shipped with mesa-vulkan-drivers, and loaded for every Vulkan driver, not only
// Mesa's) can: MESA_VK_DEVICE_SELECT=list prints the devices and exits, and
// MESA_VK_DEVICE_SELECT=VENDOR:DEVICE makes that device the process's first. So each
// device is probed in a child process of its own (`deno task gpu --json` under that
// variable), which is also how a training rank is started on it.
import { SWIFTSHADER_ICDS } from "../dist/deno_world.ts";
import { parseFlags, runMain } from "./args.ts";

const FLAGS = {
  json: { type: "boolean", default: false, help: "print JSON instead of text" },
} as const;

const GPU_SCRIPT = new URL("./gpu.ts", import.meta.url).pathname;

/** One line of MESA_VK_DEVICE_SELECT=list: `  GPU 0: 10005:0 "llvmpipe (LLVM 15.0.6, 256 bits)" CPU`. */
export interface VulkanDevice {
  index: number;
  /** VENDOR:DEVICE in hex, what MESA_VK_DEVICE_SELECT takes. */
  id: string;
  name: string;
  /** Vulkan's device type as the layer prints it: CPU, discrete GPU, integrated GPU, … */
  type: string;
  /** The PCI address, where the layer prints one (newer Mesa). */
  bus: string | null;
}

export function parseDeviceList(text: string): VulkanDevice[] {
  const out: VulkanDevice[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*GPU (\d+): ([0-9a-fA-F]+:[0-9a-fA-F]+) "(.*)" (.+?)(?: ([0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-9a-fA-F]))?\s*$/.exec(line);
    if (m) out.push({ index: Number(m[1]), id: m[2].toLowerCase(), name: m[3], type: m[4], bus: m[5] ?? null });
  }
  return out;
}

export interface AdapterReport {
  /** The device-select id, or null for the adapter Deno picks by itself. */
  id: string | null;
  name: string;
  type: string;
  software: boolean;
  description: string;
  features: string[];
  limits: Record<string, number>;
  /** How a command is pointed at this adapter. */
  address: string;
  /** Why it could not be opened, if it could not. */
  error?: string;
}

async function probe(env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  const child = new Deno.Command(Deno.execPath(), { args: ["run", "-A", GPU_SCRIPT, "--json"], env, stdout: "piped", stderr: "piped" });
  const r = await child.output();
  return { code: r.code, out: new TextDecoder().decode(r.stdout), err: new TextDecoder().decode(r.stderr) };
}

function parseProbe(r: { code: number; out: string; err: string }): { description: string; features: string[]; limits: Record<string, number> } | string {
  if (r.code !== 0) return (r.err.trim().split("\n").pop() ?? `exit code ${r.code}`).trim();
  try {
    return JSON.parse(r.out);
  } catch {
    return `unreadable output: ${r.out.slice(0, 200)}`;
  }
}

export async function listAdapters(): Promise<{ selectable: boolean; adapters: AdapterReport[] }> {
  const listed = await probe({ MESA_VK_DEVICE_SELECT: "list" });
  const devices = parseDeviceList(listed.err + "\n" + listed.out);
  const adapters: AdapterReport[] = [];
  if (devices.length === 0) {
    // No device-select layer: only what Deno picks by itself can be reported (and used).
    const p = parseProbe(await probe({}));
    const base = { id: null, type: "?", address: "the default (no MESA_VK_DEVICE_SELECT: Mesa's device-select layer is not installed or is disabled)" };
    adapters.push(typeof p === "string"
      ? { ...base, name: "?", software: false, description: "", features: [], limits: {}, error: p }
      : { ...base, name: p.description.replace(/ \(deno .*$/, ""), software: /\bsoftware\b/.test(p.description), ...p });
    return { selectable: false, adapters };
  }
  for (const d of devices) {
    const p = parseProbe(await probe({ MESA_VK_DEVICE_SELECT: d.id }));
    // Two devices with one VENDOR:DEVICE (two identical cards) are one choice to the layer: it takes the first.
    const twin = devices.some((o) => o !== d && o.id === d.id);
    const address = `MESA_VK_DEVICE_SELECT=${d.id} deno task …` + (twin ? ` (shared with another device of the same model: the layer picks the first of them${d.bus ? `; this one is at ${d.bus}` : ""})` : "");
    const base = { id: d.id, name: d.name, type: d.type, address };
    adapters.push(typeof p === "string"
      ? { ...base, software: d.type === "CPU", description: "", features: [], limits: {}, error: p }
      : { ...base, software: /\bsoftware\b/.test(p.description) || d.type === "CPU", ...p });
  }
  adapters.push(...await driverFileAdapters());
  return { selectable: true, adapters };
}

/**
 * Vulkan drivers outside the system's list that this machine still has: the SwiftShader
 * Chromium ships (a second software adapter, which a data-parallel rank can use).
 */
async function driverFileAdapters(): Promise<AdapterReport[]> {
  const out: AdapterReport[] = [];
  for (const icd of SWIFTSHADER_ICDS) {
    if (!(await Deno.stat(icd).then(() => true, () => false))) continue;
    const p = parseProbe(await probe({ VK_ICD_FILENAMES: icd }));
    const base = { id: null, name: "SwiftShader (Chromium's Vulkan driver)", type: "CPU", address: `VK_ICD_FILENAMES=${icd} deno task …, or train --adapters swiftshader` };
    out.push(typeof p === "string"
      ? { ...base, software: true, description: "", features: [], limits: {}, error: p }
      : { ...base, name: p.description.replace(/ \(deno .*$/, ""), software: true, ...p });
    break; // one copy of the driver is enough
  }
  return out;
}

if (import.meta.main) {
  runMain(async (args) => {
    const parsed = parseFlags(args, "adapters", "List the WebGPU adapters this machine offers under Deno (one child process per Vulkan device) and how to address each.", FLAGS);
    if (!parsed) return;
    const r = await listAdapters();
    if (parsed.flags.json) {
      console.log(JSON.stringify(r, null, 2));
      return;
    }
    for (const [i, a] of r.adapters.entries()) {
      console.log(`[${i}] ${a.name} — ${a.software ? "software" : "hardware"}${a.type !== "?" ? ` (Vulkan ${a.type})` : ""}${a.id ? `, id ${a.id}` : ""}`);
      if (a.error) {
        console.log(`    could not be opened: ${a.error}`);
        continue;
      }
      console.log(`    ${a.description}`);
      console.log(`    features: ${a.features.join(", ") || "none"}`);
      for (const [k, v] of Object.entries(a.limits)) console.log(`    ${k.padEnd(36)} ${v}`);
      console.log(`    use it: ${a.address}`);
    }
    if (!r.selectable) console.log("Only the default adapter is listed: install mesa-vulkan-drivers (its device-select layer picks a device per process) to see and address every Vulkan device.");
  });
}
