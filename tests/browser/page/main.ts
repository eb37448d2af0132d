// The kernel-test page: runs every case from tests/kernels/cases on the browser's
// WebGPU adapter and leaves the results on window for the Playwright runner.
import { acquireGpu } from "../../../src/gpu/device.ts";
import { ALL_CASES } from "../../kernels/cases/index.ts";
import type { PageResult } from "./results.ts";

const log = document.getElementById("log")!;
const w = window as unknown as { __adapter?: string; __results?: PageResult[]; __fatal?: string };

async function runAll(filter: string | null): Promise<void> {
  const gpu = await acquireGpu();
  w.__adapter = gpu.description;
  const lines = [`adapter: ${gpu.description}`];
  const results: PageResult[] = [];
  for (const [family, cases] of Object.entries(ALL_CASES)) {
    if (filter && !filter.split(",").includes(family)) continue;
    for (const c of cases) {
      const t0 = performance.now();
      try {
        const r = await c.run(gpu);
        results.push({ family, name: c.name, relErr: Number.isFinite(r.relErr) ? r.relErr : null, bound: r.bound, error: null, ms: performance.now() - t0 });
        lines.push(`${r.relErr < r.bound ? "ok  " : "FAIL"} ${c.name}  rel.err ${r.relErr.toExponential(2)} (bound ${r.bound})`);
      } catch (err) {
        results.push({ family, name: c.name, relErr: null, bound: null, error: String((err as Error).message ?? err), ms: performance.now() - t0 });
        lines.push(`ERR  ${c.name}: ${(err as Error).message}`);
      }
      log.textContent = lines.join("\n");
    }
  }
  w.__results = results;
}

runAll(new URLSearchParams(location.search).get("families")).catch((err) => {
  w.__fatal = String((err as Error).message ?? err);
  log.textContent = `fatal: ${w.__fatal}`;
});
