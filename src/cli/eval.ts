// `deno task eval base --bpb [--run NAME | --checkpoint DIR]`: validation bits per byte of a checkpoint.
import { createLocalLoader } from "../data/deno_shards.ts";
import { evaluateBpbOnLoader } from "../eval/bpb.ts";
import { acquireGpu } from "../gpu/device.ts";
import { denoFiles } from "../io/deno_files.ts";
import { GPT } from "../model/gpt.ts";
import { loadTokenizer } from "../tokenizer/store.ts";
import { loadCheckpoint } from "../train/deno_checkpoint.ts";
import { parseFlags, runMain, UsageError } from "./args.ts";
import { CHECKPOINT_FLAGS, resolveCheckpointArgs } from "./checkpoint_args.ts";

const FLAGS = {
  bpb: { type: "boolean", default: false, help: "report validation bits per byte" },
  ...CHECKPOINT_FLAGS,
  "data-dir": { type: "string", default: "data/base_data", help: "parquet shards; the last is validation" },
  tokens: { type: "number", default: 65536, help: "validation tokens to evaluate" },
  "batch-size": { type: "number", default: 8, help: "sequences per forward pass" },
  adapter: { type: "string", default: "", help: "WebGPU adapter name substring" },
} as const;

runMain(async (args) => {
  const [stage, ...rest] = args;
  if (!stage || stage === "-h" || stage === "--help") {
    console.log("usage: deno task eval base --bpb [--run NAME | --checkpoint DIR] [flags]\n\n'deno task eval base --help' lists the flags.");
    return;
  }
  if (stage !== "base") throw new UsageError(`unknown or unbuilt evaluation '${stage}'; available: base`);
  const parsed = parseFlags(rest, "eval base", "Evaluate a base checkpoint.", FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  if (!f.bpb) throw new UsageError("say what to evaluate: --bpb (validation bits per byte)");
  const { checkpointDir: dir, tokenizerDir: tokDir } = await resolveCheckpointArgs(f);
  const ckpt = await loadCheckpoint(dir);
  const tok = await loadTokenizer(denoFiles("."), tokDir);
  if (ckpt.meta.tokenizer && ckpt.meta.tokenizer.hash !== tok.hash) {
    throw new UsageError(`${tokDir} is not the tokenizer recorded in ${dir}/meta.json (hash ${ckpt.meta.tokenizer.hash.slice(0, 12)}…): pass --tokenizer-dir`);
  }
  const B = f["batch-size"], T = ckpt.cfg.sequence_len;
  const gpu = await acquireGpu({ adapterName: f.adapter || undefined });
  const model = await GPT.create(gpu, ckpt.cfg, { B, T });
  model.loadParams(ckpt.params);
  const val = await createLocalLoader(f["data-dir"], "val", { tokenizer: tok, B, T });
  const steps = Math.max(1, Math.floor(f.tokens / (B * T)));
  const res = await evaluateBpbOnLoader(model, val, steps, tok.tokenBytes());
  console.log(`${dir} (step ${ckpt.meta.step}) on ${gpu.description}`);
  console.log(`validation bits per byte: ${res.bpb.toFixed(4)}  (loss ${res.loss.toFixed(4)} nats/token over ${res.tokens.toLocaleString("en-US")} tokens, ${res.bytes.toLocaleString("en-US")} bytes)`);
  model.destroy();
});
