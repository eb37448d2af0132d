// `deno task bench <name> [flags]`: each benchmark lives in src/cli/bench/<name>.ts and
// exports `main(args: string[])`. Benchmarks print tables; they never assert timings.
import { runMain, UsageError } from "./args.ts";

const BENCHES: Record<string, string> = {
  matmul: "tiled float32 matmul vs a naive kernel (GFLOP/s per shape)",
  model: "forward+backward step time, tokens/s, FLOPs/token, memory",
  optim: "optimizer step time relative to forward+backward",
  step: "one training step's ops timed alone, summed by phase and kind (matmul, attention, other)",
  tok: "tokenizer training and encoding throughput vs js-tiktoken",
  data: "data loader throughput vs what the tiny model consumes",
  train: "training tokens/s and MFU (tiny preset, d12-shaped layers)",
  infer: "prefill and decode tokens/s",
  dist: "data-parallel step time, world 1 vs N, and the gradient exchange's share",
  tab: "training tokens/s in the lab's Train tab (Chromium) vs deno task train base (Deno), same preset",
};

function usage(): string {
  const rows = Object.entries(BENCHES).map(([n, d]) => `  ${n.padEnd(8)} ${d}`);
  return [
    "usage: deno task bench <name> [flags] [--baseline REV [--rounds N]]   (deno task bench <name> --help for its flags)",
    "",
    "benchmarks:",
    ...rows,
    "",
    "--baseline REV: run the same benchmark on REV too (a temporary git worktree), alternating, N rounds (default 3);",
    "                prints each figure's median and spread for both and the ratio.",
  ].join("\n");
}

runMain(async (args) => {
  const [name, ...rest] = args;
  if (!name || name === "-h" || name === "--help") {
    console.log(usage());
    return;
  }
  if (!(name in BENCHES)) throw new UsageError(`unknown benchmark '${name}'\n${usage()}`);
  if (rest.some((a) => a === "--baseline" || a.startsWith("--baseline="))) {
    const { runComparison } = await import("./bench/compare.ts");
    return await runComparison(name, rest);
  }
  const url = new URL(`./bench/${name}.ts`, import.meta.url);
  let mod: { main: (args: string[]) => Promise<void> };
  try {
    mod = await import(url.href);
  } catch (err) {
    if (err instanceof TypeError && String(err.message).includes("Module not found")) {
      throw new UsageError(`benchmark '${name}' is not built yet (src/cli/bench/${name}.ts is missing)`);
    }
    throw err;
  }
  await mod.main(rest);
});
