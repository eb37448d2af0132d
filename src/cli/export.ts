// `deno task export nanochat --run NAME [--step N] --out DIR [--optimizer]`: a lab
// checkpoint as nanochat's files, laid out as a $NANOCHAT_BASE_DIR so nanochat's scripts
// find them (docs/interop.md):
//
//   DIR/<stage>_checkpoints/d<n_layer>/model_NNNNNN.pt, meta_NNNNNN.json [, optim_NNNNNN.pt]
//   DIR/tokenizer/tokenizer.pkl, token_bytes.pt
//
// Everything is built and written into a staging directory inside DIR first; only then
// is each file renamed into place (the model last: nanochat finds checkpoints by their
// model_*.pt). A failure leaves no file of the export behind. Existing files are never
// replaced: a checkpoint of the same step, or a different tokenizer, is refused.
import { loadCheckpoint, findCheckpoint, latestCheckpoint } from "../train/deno_checkpoint.ts";
import { formatNanochatMeta, metaFileName, modelFileName, optimFileName, stateDictFromParams, writeTiktokenPickle } from "../formats/nanochat.ts";
import { nanochatOptimizer } from "../formats/nanochat_optim.ts";
import { torchStateDictChunks, TorchWriter } from "../formats/torch_save.ts";
import { denoFiles } from "../io/deno_files.ts";
import { NANOCHAT_OPTIM } from "../optim/optimizer.ts";
import { loadTokenizer } from "../tokenizer/store.ts";
import { parseFlags, runMain, UsageError } from "./args.ts";
import { exists, NANOCHAT_STAGE_DIRS, stagingDir, tokenizerToEncoding, writeChunks } from "./interop.ts";

export const EXPORT_FLAGS = {
  run: { type: "string", default: "", help: "the lab run to export" },
  step: { type: "number", default: -1, min: 0, integer: true, unset: -1, help: "its checkpoint step; -1: the latest" },
  out: { type: "string", default: "", help: "a $NANOCHAT_BASE_DIR to write into (created if missing)" },
  optimizer: { type: "boolean", default: false, help: "also write optim_NNNNNN.pt ([AdamW, Muon] state dicts, for a one-GPU resume)" },
  "embedding-dtype": { type: "string", default: "bf16", help: "wte's dtype in model_NNNNNN.pt: bf16 (as nanochat keeps it) or fp32 (lossless)" },
  "runs-dir": { type: "string", default: "runs", help: "directory holding the runs" },
} as const;

runMain(async (args) => {
  const parsed = parseFlags(args, "export", "Write a lab checkpoint and its tokenizer as nanochat's PyTorch files (no Python needed).", EXPORT_FLAGS, "nanochat");
  if (!parsed) return;
  const f = parsed.flags;
  const [format, extra] = parsed.positionals;
  if (format !== "nanochat") throw new UsageError(`say the format: deno task export nanochat --run NAME --out DIR (got ${format === undefined ? "nothing" : `'${format}'`})`);
  if (extra) throw new UsageError(`unexpected argument '${extra}'`);
  if (!f.run || !f.out) throw new UsageError("pass --run NAME and --out DIR");
  const wteDtype = f["embedding-dtype"] === "bf16" ? "BF16" : f["embedding-dtype"] === "fp32" ? "F32" : null;
  if (!wteDtype) throw new UsageError(`--embedding-dtype must be bf16 or fp32, got '${f["embedding-dtype"]}'`);

  const runDir = `${f["runs-dir"]}/${f.run}`;
  const dir = f.step >= 0 ? await findCheckpoint(runDir, f.step) : (await latestCheckpoint(runDir))?.dir ?? null;
  if (!dir) throw new UsageError(`run '${f.run}' has no ${f.step >= 0 ? `checkpoint of step ${f.step}` : "checkpoint"} in ${runDir}/checkpoints`);
  const ckpt = await loadCheckpoint(dir);
  const tok = await loadTokenizer(denoFiles("."), `${runDir}/tokenizer`);
  if (ckpt.meta.tokenizer && ckpt.meta.tokenizer.hash !== tok.hash) throw new UsageError(`${dir} was trained with another tokenizer than ${runDir}/tokenizer holds`);
  if (tok.vocabSize !== ckpt.cfg.vocab_size) throw new UsageError(`${runDir}/tokenizer has ${tok.vocabSize} tokens, the model ${ckpt.cfg.vocab_size}`);
  if (f.optimizer && !ckpt.optimizer) throw new UsageError(`${dir} holds no optimizer state (optim.safetensors); export without --optimizer`);

  // Build every file in memory (tensor data as views) before touching the disk.
  const step = ckpt.meta.step, cfg = ckpt.cfg;
  const rel = `${NANOCHAT_STAGE_DIRS[ckpt.meta.stage || "base"] ?? "base_checkpoints"}/d${cfg.n_layer}`;
  const uc = ckpt.meta.user_config as Record<string, number | undefined>;
  const files: { path: string; chunks: Uint8Array[] }[] = [
    { path: `tokenizer/tokenizer.pkl`, chunks: [writeTiktokenPickle(tokenizerToEncoding(tok))] },
  ];
  const tw = new TorchWriter();
  files.push({ path: `tokenizer/token_bytes.pt`, chunks: tw.archive(tw.tensor({ dtype: "I32", shape: [tok.vocabSize], data: tok.tokenBytes() }), "token_bytes") });
  files.push({ path: `${rel}/${metaFileName(step)}`, chunks: [new TextEncoder().encode(formatNanochatMeta(step, cfg, ckpt.meta.user_config, ckpt.meta.val_bpb ?? null))] });
  if (f.optimizer) {
    const ow = new TorchWriter();
    const value = nanochatOptimizer(ow, cfg, ckpt.optimizer!, {
      embeddingLr: uc.embedding_lr ?? NANOCHAT_OPTIM.embeddingLr, unembeddingLr: uc.unembedding_lr ?? NANOCHAT_OPTIM.unembeddingLr,
      matrixLr: uc.matrix_lr ?? NANOCHAT_OPTIM.matrixLr, weightDecay: uc.weight_decay ?? NANOCHAT_OPTIM.weightDecay,
    });
    files.push({ path: `${rel}/${optimFileName(step)}`, chunks: ow.archive(value, optimFileName(step).slice(0, -3)) });
  }
  files.push({ path: `${rel}/${modelFileName(step)}`, chunks: torchStateDictChunks(stateDictFromParams(ckpt.params, cfg, wteDtype), modelFileName(step).slice(0, -3)) });

  // Refuse before writing anything: an existing checkpoint of this step, or another tokenizer.
  const out = f.out.replace(/\/+$/, "");
  for (const file of files) {
    const target = `${out}/${file.path}`;
    if (!(await exists(target))) continue;
    const same = file.path.startsWith("tokenizer/") && equalBytes(await Deno.readFile(target), file.chunks);
    if (!same) throw new UsageError(`${target} already exists${file.path.startsWith("tokenizer/") ? " and holds another tokenizer" : ""}; export to another --out (nothing was written)`);
    file.chunks = []; // the same tokenizer is already there
  }
  const todo = files.filter((x) => x.chunks.length);
  const stage = await stagingDir(`${out}/x`, "export");
  try {
    for (const [i, file] of todo.entries()) await writeChunks(`${stage}/${i}`, file.chunks);
    for (const [i, file] of todo.entries()) {
      const target = `${out}/${file.path}`;
      await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
      await Deno.rename(`${stage}/${i}`, target);
    }
  } finally {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
  }
  console.log(`exported ${dir} (step ${step}) → ${out}/${rel}/${modelFileName(step)}${f.optimizer ? " (+ optimizer)" : ""}, tokenizer → ${out}/tokenizer`);
  console.log(`nanochat reads it with NANOCHAT_BASE_DIR=${out} (docs/interop.md)`);
});

function equalBytes(a: Uint8Array, chunks: Uint8Array[]): boolean {
  let o = 0;
  for (const c of chunks) {
    if (o + c.length > a.length) return false;
    for (let i = 0; i < c.length; i++) if (a[o + i] !== c[i]) return false;
    o += c.length;
  }
  return o === a.length;
}
