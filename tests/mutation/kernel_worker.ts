// The fast first stage of `deno task mutate` for WGSL mutants: one long-lived process that
// runs every kernel case (tests/kernels/cases, the same as kernels.test.ts) against a
// mutated kernel source, so a mutant costs the recompilation of one kernel file and the
// cases up to the first failure instead of a whole `deno test` start. Mutants it does not
// kill go on to the full test files (src/cli/mutate/runner.ts), so this stage can only
// speed a verdict up, never change it.
//
// Protocol, one JSON object per line: in  {"file": "kernels/x.wgsl", "source": "..."}
//                                      out @@result {"killed": bool, "failed"?: string, "lost"?: bool}
import { clearKernelCache } from "../../src/gpu/kernel.ts";
import { ALL_CASES } from "../kernels/cases/index.ts";
import { assertCase, type KernelCase } from "../kernels/harness.ts";
import { testGpu } from "../kernels/gpu.ts";

/** Cases of the mutated kernel first: they are the likeliest to fail first. */
const FIRST: Record<string, RegExp> = {
  matmul: /matmul/, attention: /attention|decode/, rmsnorm: /rmsnorm/, rotary: /rotary/, embedding: /embedding/,
  elementwise: /relu|add/, cross_entropy: /lm_head|softcap/, kv_write: /kv/, reduce: /norm|muon|clip/, adamw: /adamw/i, muon: /muon/i,
};

const ROOT = new URL("../../", import.meta.url);
const overrides = new Map<string, string>();
const realFetch = globalThis.fetch;
globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
  const url = String(input instanceof Request ? input.url : input);
  const source = overrides.get(url);
  return source !== undefined ? Promise.resolve(new Response(source)) : realFetch(input, init);
};

const gpu = await testGpu();
const all: { family: string; c: KernelCase }[] = Object.entries(ALL_CASES).flatMap(([family, cases]) => cases.map((c) => ({ family, c })));

async function check(file: string, source: string): Promise<{ killed: boolean; failed?: string; lost?: boolean }> {
  const url = new URL(file, ROOT).href;
  const name = file.replace(/^.*\//, "").replace(/\.wgsl$/, "");
  const first = FIRST[name];
  const order = first ? [...all.filter((x) => first.test(x.c.name)), ...all.filter((x) => !first.test(x.c.name))] : all;
  overrides.set(url, source);
  clearKernelCache(gpu, url);
  try {
    for (const { family, c } of order) {
      try {
        assertCase(`${family}: ${c.name}`, await c.run(gpu));
      } catch (err) {
        return { killed: true, failed: `${family}: ${c.name}: ${(err as Error).message.slice(0, 200)}`, lost: gpu.lost !== null };
      }
      if (gpu.lost) return { killed: true, failed: gpu.lost, lost: true };
    }
    return { killed: false };
  } finally {
    overrides.delete(url);
    clearKernelCache(gpu, url);
    gpu.uncaptured = null;
  }
}

const decoder = new TextDecoder();
let buffered = "";
for await (const chunk of Deno.stdin.readable) {
  buffered += decoder.decode(chunk, { stream: true });
  let nl;
  while ((nl = buffered.indexOf("\n")) >= 0) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (!line.trim()) continue;
    const req = JSON.parse(line) as { file: string; source: string };
    const result = await check(req.file, req.source);
    console.log(`@@result ${JSON.stringify(result)}`);
    if (result.lost) Deno.exit(3); // a lost device cannot judge the next mutant: the runner starts a new worker
  }
}
