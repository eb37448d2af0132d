// One device for all kernel tests in a Deno process, described once in the output.
import { acquireGpu, type Gpu } from "../../src/gpu/device.ts";

let gpu: Promise<Gpu> | null = null;

export function testGpu(): Promise<Gpu> {
  if (!gpu) {
    gpu = acquireGpu({ adapterName: Deno.env.get("NANOCHAT_ADAPTER") || undefined }).then((g) => {
      console.log(`[deno] adapter: ${g.description}`);
      return g;
    });
  }
  return gpu;
}
