// `deno task bench matmul`: GFLOP/s of the tiled float32 kernel per shape, next to
// the naive one-thread-per-output kernel on the same adapter and data.
import { acquireGpu } from "../../gpu/device.ts";
import { createTensor, writeTensor } from "../../gpu/tensor.ts";
import { timeOps } from "../../gpu/timing.ts";
import { matmulOp, type MatmulOptions } from "../../nn/matmul.ts";
import { parseFlags } from "../args.ts";
import { Rng } from "../../util/rng.ts";

const FLAGS = {
  sizes: { type: "string", default: "256,512,1024", help: "square sizes to time (comma-separated; 2048 is slow on software adapters)" },
  model: { type: "string", default: "256x128", help: "model-shaped products as BTxC: x·Wᵀ with W 4C×C and its two backward products" },
  repeats: { type: "number", default: 3, help: "repetitions per timing" },
  naive: { type: "boolean", default: true, help: "also time the naive kernel (use --no-naive to skip)" },
  adapter: { type: "string", default: "", help: "adapter name substring" },
} as const;

interface Row {
  shape: string;
  M: number;
  N: number;
  K: number;
  opts: MatmulOptions;
}

export async function main(args: string[]): Promise<void> {
  // node:util parseArgs has no --no-x; accept it by hand.
  const noNaive = args.includes("--no-naive");
  const parsed = parseFlags(args.filter((a) => a !== "--no-naive"), "bench matmul", "Time the float32 matmul kernels.", FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  const gpu = await acquireGpu({ adapterName: f.adapter || undefined });
  console.log(`adapter: ${gpu.description}`);
  const rows: Row[] = [];
  for (const s of f.sizes.split(",").filter(Boolean).map(Number)) rows.push({ shape: `${s}³`, M: s, N: s, K: s, opts: {} });
  for (const spec of f.model.split(",").filter(Boolean)) {
    const [bt, c] = spec.split("x").map(Number);
    rows.push({ shape: `x·Wᵀ ${bt}×${4 * c}×${c}`, M: bt, N: 4 * c, K: c, opts: { transB: true } });
    rows.push({ shape: `dY·W ${bt}×${c}×${4 * c}`, M: bt, N: c, K: 4 * c, opts: {} });
    rows.push({ shape: `dYᵀ·X ${4 * c}×${c}×${bt}`, M: 4 * c, N: c, K: bt, opts: { transA: true, accumulate: true } });
  }
  const rng = new Rng(1);
  const header = ["shape", "tiled GFLOP/s", "tiled ms", ...(noNaive ? [] : ["naive GFLOP/s", "naive ms", "speed-up"])];
  const table: string[][] = [];
  let timingSource = "";
  for (const r of rows) {
    const sizes = [r.M * r.K, r.K * r.N, r.M * r.N];
    const [a, b, c] = sizes.map((n, i) => {
      const t = createTensor(gpu, [n], "f32", "ABC"[i]);
      writeTensor(t, Float32Array.from({ length: n }, () => rng.uniform() - 0.5));
      return t;
    });
    const tiled = await matmulOp(gpu, { a, b, c }, r, r.opts);
    const tt = await timeOps(gpu, [tiled], f.repeats, tiled.label);
    timingSource = tt.source;
    const gflops = (ms: number) => tiled.flops / (ms * 1e6);
    const row = [r.shape, gflops(tt.ms).toFixed(2), tt.ms.toFixed(2)];
    if (!noNaive) {
      const naive = await matmulOp(gpu, { a, b, c }, r, { ...r.opts, naive: true });
      const tn = await timeOps(gpu, [naive], Math.max(1, Math.min(f.repeats, 2)), naive.label);
      row.push(gflops(tn.ms).toFixed(2), tn.ms.toFixed(2), `${(tn.ms / tt.ms).toFixed(1)}×`);
    }
    table.push(row);
    console.log(formatRow(row, header));
    for (const t of [a, b, c]) t.destroy();
  }
  console.log(`\n(timed with ${timingSource}; ${f.repeats} repetitions per shape)`);
  console.log(markdownTable(header, table));
}

function formatRow(row: string[], header: string[]): string {
  return row.map((v, i) => `${header[i]}: ${v}`).join("  ");
}

export function markdownTable(header: string[], rows: string[][]): string {
  const lines = [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`];
  for (const r of rows) lines.push(`| ${r.join(" | ")} |`);
  return lines.join("\n");
}
