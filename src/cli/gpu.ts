// `deno task gpu`: which WebGPU adapter the lab would use, with its features and limits.
import { acquireGpu } from "../gpu/device.ts";
import { parseFlags, runMain } from "./args.ts";

const FLAGS = {
  adapter: { type: "string", default: "", help: "pick the adapter whose name contains this" },
  power: { type: "string", default: "", help: "power preference: high-performance or low-power" },
  json: { type: "boolean", default: false, help: "print JSON instead of text" },
} as const;

const SHOWN_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupsPerDimension",
];

runMain(async (args) => {
  const parsed = parseFlags(args, "gpu", "Show the WebGPU adapter, features and limits the lab would use.", FLAGS);
  if (!parsed) return;
  const { flags } = parsed;
  if (flags.power && flags.power !== "high-performance" && flags.power !== "low-power") {
    throw new Error(`--power must be high-performance or low-power, got '${flags.power}'`);
  }
  const gpu = await acquireGpu({
    adapterName: flags.adapter || undefined,
    powerPreference: (flags.power || undefined) as GPUPowerPreference | undefined,
  });
  const limits = Object.fromEntries(SHOWN_LIMITS.map((k) => [k, (gpu.limits as unknown as Record<string, number>)[k]]));
  if (flags.json) {
    console.log(JSON.stringify({ description: gpu.description, features: [...gpu.features].sort(), limits }, null, 2));
    return;
  }
  console.log(gpu.description);
  console.log(`features: ${[...gpu.features].sort().join(", ")}`);
  for (const [k, v] of Object.entries(limits)) console.log(`  ${k.padEnd(36)} ${v}`);
  gpu.device.destroy();
});
