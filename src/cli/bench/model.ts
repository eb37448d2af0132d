// `deno task bench model`: forward+backward time per step for a config, tokens/s, the
// reference's FLOPs/token estimate, achieved GFLOP/s, dispatches per step and the GPU
// buffer memory — at several sequence lengths, to show attention memory is linear in T.
import { parseFlags } from "../args.ts";
import { acquireGpu } from "../../gpu/device.ts";
import { runOps } from "../../gpu/kernel.ts";
import { configFromDepth, estimateFlopsPerToken, type GPTConfig, numParams, validateConfig } from "../../model/config.ts";
import { GPT } from "../../model/gpt.ts";
import { initParams } from "../../model/params.ts";
import { Rng } from "../../util/rng.ts";
import { markdownTable } from "./matmul.ts";

const FLAGS = {
  depth: { type: "number", default: 2, help: "model depth (n_embd = 64·depth unless --n-embd)" },
  "n-embd": { type: "number", default: 0, help: "override the width (0: from depth)" },
  "n-head": { type: "number", default: 0, help: "override the number of heads (0: from depth)" },
  vocab: { type: "number", default: 4096, help: "vocabulary size" },
  batch: { type: "number", default: 1, help: "sequences per step (B)" },
  "seq-lens": { type: "string", default: "128,256,512", help: "sequence lengths T to time (comma-separated)" },
  steps: { type: "number", default: 2, help: "timed steps per T (after one warm-up)" },
  adapter: { type: "string", default: "", help: "adapter name substring" },
} as const;

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

export async function main(args: string[]): Promise<void> {
  const parsed = parseFlags(args, "bench model", "Time forward+backward of the GPT on this adapter.", FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  const gpu = await acquireGpu({ adapterName: f.adapter || undefined });
  console.log(`adapter: ${gpu.description}`);
  const seqLens = f["seq-lens"].split(",").filter(Boolean).map(Number);
  const maxT = Math.max(...seqLens);
  let cfg: GPTConfig = configFromDepth(f.depth, { vocabSize: f.vocab, sequenceLen: maxT });
  if (f["n-embd"]) cfg = { ...cfg, n_embd: f["n-embd"] };
  if (f["n-head"]) cfg = { ...cfg, n_head: f["n-head"], n_kv_head: f["n-head"] };
  validateConfig(cfg);
  console.log(`config: ${JSON.stringify(cfg)}  params: ${numParams(cfg).toLocaleString("en-US")}`);
  const header = ["B×T", "step ms", "tokens/s", "FLOPs/token", "GFLOP/s", "dispatches", "params MiB", "activations MiB", "attn lse+o MiB"];
  const rows: string[][] = [];
  const params = initParams(cfg, 42);
  for (const T of seqLens) {
    const model = await GPT.create(gpu, { ...cfg, sequence_len: T }, { B: f.batch, T, training: true });
    model.loadParams(params);
    const rng = new Rng(T);
    const N = f.batch * T;
    const tokens = Int32Array.from({ length: N }, () => rng.int(cfg.vocab_size));
    const targets = Int32Array.from({ length: N }, () => rng.int(cfg.vocab_size));
    await model.forwardBackward(tokens, targets); // warm-up (pipeline creation, first touches)
    const ops = [...model.zeroGradOps, ...model.forwardOps, ...model.backwardOps];
    const t0 = performance.now();
    for (let s = 0; s < f.steps; s++) await runOps(gpu, ops, "bench step");
    await gpu.device.queue.onSubmittedWorkDone();
    const ms = (performance.now() - t0) / f.steps;
    const flopsTok = estimateFlopsPerToken({ ...cfg, sequence_len: T });
    const mem = model.bufferBytes;
    const L = model.acts.layers[0];
    const attnBytes = (L.lse.buffer.size + L.y.buffer.size) * cfg.n_layer;
    const disp = model.dispatchCount;
    rows.push([
      `${f.batch}×${T}`, ms.toFixed(1), (N / (ms / 1000)).toFixed(0), flopsTok.toExponential(3),
      ((flopsTok * N) / (ms * 1e6)).toFixed(2), String(disp.forward + disp.backward),
      mib(mem.params + mem.grads), mib(mem.activations), mib(attnBytes),
    ]);
    console.log(rows[rows.length - 1].map((v, i) => `${header[i]}: ${v}`).join("  "));
    model.destroy();
  }
  console.log("\n" + markdownTable(header, rows));
  console.log("\n(wall-clock per step incl. submit; activations include every saved tensor and the lm_head logits chunk;" +
    " no buffer is T×T, so memory grows linearly in T)");
}
