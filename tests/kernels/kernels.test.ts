// Runs every kernel case under Deno's WebGPU. The same cases run in Chromium from
// tests/browser/kernels_browser.test.ts.
import { ALL_CASES } from "./cases/index.ts";
import { assertCase } from "./harness.ts";
import { testGpu } from "./gpu.ts";

for (const [family, cases] of Object.entries(ALL_CASES)) {
  for (const c of cases) {
    Deno.test({
      name: `[deno] ${c.name}`,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: async () => assertCase(`${family}: ${c.name}`, await c.run(await testGpu())),
    });
  }
}
