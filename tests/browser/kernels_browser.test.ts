// Runs the kernel cases of tests/kernels/cases in Chromium's WebGPU (SwiftShader on
// a machine without a GPU) and reports each as its own test, like the Deno run.
import { assertCase } from "../kernels/harness.ts";
import { ALL_CASES } from "../kernels/cases/index.ts";
import { buildPage, serveDir, withChromiumPage } from "./chromium.ts";

import type { PageResult } from "./page/results.ts";

const TIMEOUT_MS = 10 * 60_000;

async function runInChromium(): Promise<{ adapter: string; results: PageResult[] }> {
  const dir = await buildPage(new URL("./page/", import.meta.url), "browser-tests");
  const server = serveDir(dir);
  try {
    return await withChromiumPage(server.url, async (page) => {
      await page.waitForFunction(
        () => {
          const w = window as unknown as { __results?: unknown; __fatal?: string };
          return w.__results !== undefined || w.__fatal !== undefined;
        },
        undefined,
        { timeout: TIMEOUT_MS, polling: 250 },
      );
      const fatal = await page.evaluate(() => (window as unknown as { __fatal?: string }).__fatal);
      if (fatal) throw new Error(`the kernel page failed in Chromium: ${fatal}`);
      return await page.evaluate(() => {
        const w = window as unknown as { __adapter: string; __results: PageResult[] };
        return { adapter: w.__adapter, results: w.__results };
      });
    });
  } finally {
    await server.close();
  }
}

const run = runInChromium();
run.catch(() => {}); // reported by the tests below

Deno.test({
  name: "[chromium] WebGPU adapter and kernel page",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { adapter, results } = await run;
    console.log(`[chromium] adapter: ${adapter}`);
    const expected = Object.values(ALL_CASES).flat().length;
    if (results.length !== expected) throw new Error(`the page ran ${results.length} cases, expected ${expected}`);
  },
});

for (const [family, cases] of Object.entries(ALL_CASES)) {
  for (const c of cases) {
    Deno.test({
      name: `[chromium] ${c.name}`,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: async () => {
        const { results } = await run;
        const r = results.find((x) => x.family === family && x.name === c.name);
        if (!r) throw new Error(`no result from Chromium for ${c.name}`);
        if (r.error) throw new Error(`${c.name} failed in Chromium: ${r.error}`);
        assertCase(`${family}: ${c.name} (chromium)`, { relErr: r.relErr ?? Infinity, bound: r.bound ?? 0 });
      },
    });
  }
}
