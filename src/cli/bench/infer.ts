// `deno task bench infer`: KV-cache generation speed — prefill tokens/s (one prompt) and
// decode tokens/s at batch 1 and batch 8 (n samples of one prompt) — for the tiny preset's
// model and a d12-shaped one (n_embd 768, 6 heads; depth and vocabulary adjustable so it
// finishes on a software adapter). Decode time includes reading the logits back and
// choosing the token on the host, as a user of the engine sees it.
import { parseFlags } from "../args.ts";
import { Engine } from "../../engine/engine.ts";
import { timeGeneration } from "../../engine/speed.ts";
import { NO_SPECIAL_TOKENS } from "../../engine/tools.ts";
import { acquireGpu } from "../../gpu/device.ts";
import { type GPTConfig, numParams } from "../../model/config.ts";
import { initParams } from "../../model/params.ts";
import { Rng } from "../../util/rng.ts";
import { markdownTable } from "./matmul.ts";

const FLAGS = {
  "prompt-len": { type: "number", default: 64, help: "prompt tokens (prefill)" },
  "decode-tokens": { type: "number", default: 16, help: "tokens decoded per sequence" },
  batches: { type: "string", default: "1,8", help: "decode batch sizes (samples per prompt)" },
  "d12-layers": { type: "number", default: 12, help: "layers of the d12-shaped model (0 skips it)" },
  "d12-vocab": { type: "number", default: 32768, help: "vocabulary of the d12-shaped model (nanochat uses 65,536: wte needs 192 MiB bindings, over a software adapter's 128 MiB)" },
  "d12-seq": { type: "number", default: 2048, help: "context of the d12-shaped model (the KV cache's capacity)" },
  adapter: { type: "string", default: "", help: "adapter name substring" },
} as const;


async function timeConfig(gpu: Awaited<ReturnType<typeof acquireGpu>>, name: string, cfg: GPTConfig, f: { "prompt-len": number; "decode-tokens": number }, batches: number[]) {
  const engine = await Engine.create(gpu, cfg, initParams(cfg, 1), NO_SPECIAL_TOKENS, { maxBatch: Math.max(...batches), capacity: Math.min(cfg.sequence_len, f["prompt-len"] + f["decode-tokens"] + 1) });
  const rng = new Rng(7);
  const prompt = Array.from({ length: f["prompt-len"] }, () => rng.int(cfg.vocab_size));
  const rows: string[][] = [];
  const run = (n: number) => timeGeneration(engine, prompt, f["decode-tokens"], n);
  await run(Math.max(...batches)); // warm-up: pipelines, prefill and decode graphs
  await run(1);
  for (const n of batches) {
    const r = await run(n);
    rows.push([
      name, numParams(cfg).toLocaleString("en-US"), String(f["prompt-len"]), String(n),
      r.prefillMs.toFixed(0), ((f["prompt-len"] / r.prefillMs) * 1000).toFixed(1),
      r.decodeMs.toFixed(1), ((n / r.decodeMs) * 1000).toFixed(1),
    ]);
    console.log(rows[rows.length - 1].join("  "));
  }
  const mem = engine.bufferBytes;
  console.log(`  ${name}: weights ${(mem.params / 2 ** 20).toFixed(1)} MiB, KV cache ${(mem.kvCache / 2 ** 20).toFixed(2)} MiB (${engine.maxBatch} rows × ${engine.capacity} positions)`);
  engine.destroy();
  return rows;
}

export async function main(args: string[]): Promise<void> {
  const parsed = parseFlags(args, "bench infer", "Prefill and decode tokens/s of the KV-cache engine on this adapter.", FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  const batches = f.batches.split(",").filter(Boolean).map(Number);
  const gpu = await acquireGpu({ adapterName: f.adapter || undefined });
  console.log(`adapter: ${gpu.description}`);
  const header = ["model", "params", "prompt", "batch", "prefill ms", "prefill tok/s", "decode ms/step", "decode tok/s"];
  const rows: string[][] = [];
  rows.push(...await timeConfig(gpu, "tiny preset", { sequence_len: 128, vocab_size: 4096, n_layer: 2, n_head: 2, n_kv_head: 2, n_embd: 128 }, f, batches));
  if (f["d12-layers"] > 0) {
    const cfg = { sequence_len: f["d12-seq"], vocab_size: f["d12-vocab"], n_layer: f["d12-layers"], n_head: 6, n_kv_head: 6, n_embd: 768 };
    rows.push(...await timeConfig(gpu, `d12-shaped (${f["d12-layers"]} layers, vocab ${f["d12-vocab"]})`, cfg, f, batches));
  }
  console.log("\n" + markdownTable(header, rows));
}
