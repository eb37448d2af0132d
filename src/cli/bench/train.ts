// `deno task bench train`: training throughput (tokens/s) and MFU against the adapter's
// measured matmul rate, with dispatches per step, for the tiny preset and for
// d12-shaped layers (n_embd 768, 6 heads) at a small batch.
import { parseFlags, UsageError } from "../args.ts";
import { acquireGpu, type Gpu } from "../../gpu/device.ts";
import { measurePeakFlops } from "../../nn/peak.ts";
import { estimateFlopsPerToken, type GPTConfig, numParams } from "../../model/config.ts";
import { GPT } from "../../model/gpt.ts";
import { initParams } from "../../model/params.ts";
import { ModelOptimizer, NANOCHAT_OPTIM } from "../../optim/optimizer.ts";
import { muonMomentum } from "../../optim/schedule.ts";
import { submitTrainStep } from "../../train/step.ts";
import { Rng } from "../../util/rng.ts";
import { markdownTable } from "./matmul.ts";

const FLAGS = {
  steps: { type: "number", default: 3, help: "timed steps per config (after one warm-up step)" },
  "d12-layers": { type: "number", default: 1, help: "layers of the d12-shaped model (d12 has 12)" },
  "d12-seq": { type: "number", default: 64, help: "sequence length of the d12-shaped model" },
  "d12-vocab": { type: "number", default: 8192, help: "vocabulary of the d12-shaped model" },
  configs: { type: "string", default: "tiny,d12", help: "which configs to time: tiny, d12 or both (d12's Newton–Schulz takes minutes a step on a software adapter)" },
  adapter: { type: "string", default: "", help: "adapter name substring" },
} as const;

interface Case {
  name: string;
  cfg: GPTConfig;
  B: number;
}

async function measure(gpu: Gpu, c: Case, steps: number, peak: number): Promise<string[]> {
  const T = c.cfg.sequence_len, N = c.B * T;
  const model = await GPT.create(gpu, c.cfg, { B: c.B, T, training: true });
  model.loadParams(initParams(c.cfg, 1));
  const opt = await ModelOptimizer.create(gpu, c.cfg.n_embd, model.params, model.grads, NANOCHAT_OPTIM);
  const rng = new Rng(2);
  const batch = () => {
    const seq = Int32Array.from({ length: N + 1 }, () => rng.int(c.cfg.vocab_size));
    return { inputs: seq.slice(0, N), targets: seq.slice(1) };
  };
  await (await submitTrainStep(model, opt, [batch()], 1, muonMomentum(0))).result; // warm-up: compiles pipelines
  const t0 = performance.now();
  let last: Promise<unknown> = Promise.resolve();
  for (let s = 0; s < steps; s++) last = (await submitTrainStep(model, opt, [batch()], 1, muonMomentum(s + 1))).result;
  await last;
  const sec = (performance.now() - t0) / 1000 / steps;
  const flopsTok = estimateFlopsPerToken(c.cfg);
  const tps = N / sec;
  const d = model.dispatchCount;
  const row = [
    c.name, `${c.B}×${T}`, numParams(c.cfg).toLocaleString("en-US"), (sec * 1000).toFixed(0), tps.toFixed(0),
    ((flopsTok * tps) / 1e9).toFixed(2), `${((100 * flopsTok * tps) / peak).toFixed(1)}%`,
    String(d.forward + d.backward + opt.ops.length),
  ];
  model.destroy();
  opt.destroy();
  return row;
}

export async function main(args: string[]): Promise<void> {
  const parsed = parseFlags(args, "bench train", "Training tokens/s and MFU on this adapter.", FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  const gpu = await acquireGpu({ adapterName: f.adapter || undefined });
  const peak = await measurePeakFlops(gpu);
  console.log(`adapter: ${gpu.description}`);
  console.log(`peak (measured tiled matmul): ${(peak / 1e9).toFixed(2)} GFLOP/s — MFU is relative to it`);
  const cases: Case[] = [
    { name: "tiny preset", cfg: { sequence_len: 128, vocab_size: 4096, n_layer: 2, n_head: 2, n_kv_head: 2, n_embd: 128 }, B: 8 },
    {
      name: `d12-shaped, ${f["d12-layers"]} layer(s)`,
      cfg: { sequence_len: f["d12-seq"], vocab_size: f["d12-vocab"], n_layer: f["d12-layers"], n_head: 6, n_kv_head: 6, n_embd: 768 },
      B: 1,
    },
  ];
  const wanted = f.configs.split(",").map((s) => s.trim()).filter(Boolean);
  for (const w of wanted) if (w !== "tiny" && w !== "d12") throw new UsageError(`--configs: unknown config '${w}'; use tiny, d12 or tiny,d12`);
  const header = ["config", "B×T", "params", "step ms", "tokens/s", "GFLOP/s", "MFU", "dispatches/step"];
  const rows: string[][] = [];
  for (const c of cases.filter((_, i) => wanted.includes(i === 0 ? "tiny" : "d12"))) {
    rows.push(await measure(gpu, c, f.steps, peak));
    console.log(rows[rows.length - 1].map((v, i) => `${header[i]}: ${v}`).join("  "));
  }
  console.log("\n" + markdownTable(header, rows));
  console.log("\n(FLOPs/token by the reference's estimate; a step includes forward, backward, grad norm and the optimizer, one submit per micro-batch)");
}
