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
//
// `deno task export checkpoint --run NAME [--step N] --out DIR [--save-dtype bf16|f16|mxfp4|f32]
// [--mxfp4-all]`: an inference copy of a lab checkpoint, as a lab checkpoint directory of
// its own — DIR/meta.json (weights_dtype recorded), DIR/model.safetensors (bf16, f16: half
// the bytes; mxfp4: the blocks' matrices at 4.25 bits a weight, wte and lm_head bf16 unless
// --mxfp4-all), DIR/tokenizer/ — without the optimizer state, so training cannot resume
// from it. DIR is built beside itself and renamed into place whole; an existing DIR is refused.
import { loadCheckpoint, findCheckpoint, latestCheckpoint } from "../train/deno_checkpoint.ts";
import { encodeCheckpoint, MODEL_FILE } from "../formats/checkpoint.ts";
import { formatNanochatMeta, metaFileName, modelFileName, optimFileName, stateDictFromParams, writeTiktokenPickle } from "../formats/nanochat.ts";
import { nanochatOptimizer } from "../formats/nanochat_optim.ts";
import { torchStateDictChunks, TorchWriter } from "../formats/torch_save.ts";
import { denoFiles } from "../io/deno_files.ts";
import { NANOCHAT_OPTIM } from "../optim/optimizer.ts";
import { loadTokenizer, saveTokenizer, TOKENIZER_JSON } from "../tokenizer/store.ts";
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

export const CHECKPOINT_EXPORT_FLAGS = {
  run: EXPORT_FLAGS.run,
  step: EXPORT_FLAGS.step,
  out: { type: "string", default: "", help: "the checkpoint directory to create (must not exist)" },
  "save-dtype": {
    type: "string", default: "bf16",
    help: "the weights' dtype: bf16 or f16 (half the size; f16 keeps 3 more mantissa bits, bf16 f32's range), mxfp4 (the blocks' matrices in OCP MXFP4, 4.25 bits a weight; wte and lm_head stay bf16) — all inference only, no resume — or f32 (exact)",
  },
  "mxfp4-all": { type: "boolean", default: false, help: "with --save-dtype mxfp4: quantise transformer.wte.weight and lm_head.weight to MXFP4 too" },
  "runs-dir": EXPORT_FLAGS["runs-dir"],
} as const;

const USAGE = `usage: deno task export nanochat --run NAME [--step N] --out DIR [flags]
       deno task export checkpoint --run NAME [--step N] --out DIR [--save-dtype bf16|f16|mxfp4|f32] [--mxfp4-all]

nanochat: the checkpoint and its tokenizer as nanochat's PyTorch files.
checkpoint: an inference copy as a lab checkpoint directory (bf16 or f16 weights: half the size; mxfp4: 4.25 bits a weight in the blocks).
'deno task export nanochat --help' and 'deno task export checkpoint --help' list the flags.`;

runMain(async (args) => {
  if (!args.length || args[0] === "-h" || args[0] === "--help") return void console.log(USAGE);
  if (args[0] === "checkpoint") return await exportCheckpoint(args.slice(1));
  await exportNanochat(args);
});

async function exportNanochat(args: string[]): Promise<void> {
  const parsed = parseFlags(args, "export", "Write a lab checkpoint and its tokenizer as nanochat's PyTorch files (no Python needed).", EXPORT_FLAGS, "nanochat");
  if (!parsed) return;
  const f = parsed.flags;
  const [format, extra] = parsed.positionals;
  if (format !== "nanochat") {
    throw new UsageError(`say the format: deno task export nanochat --run NAME --out DIR, or deno task export checkpoint --run NAME --out DIR (got ${format === undefined ? "nothing" : `'${format}'`})`);
  }
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
}

async function exportCheckpoint(args: string[]): Promise<void> {
  const parsed = parseFlags(
    args, "export checkpoint", "Write an inference copy of a lab checkpoint (weights and tokenizer, no optimizer state) as a new checkpoint directory; bf16 halves its size, mxfp4 stores the blocks' matrices at 4.25 bits a weight.",
    CHECKPOINT_EXPORT_FLAGS,
  );
  if (!parsed) return;
  const f = parsed.flags;
  if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
  if (!f.run || !f.out) throw new UsageError("pass --run NAME and --out DIR");
  const dtype = f["save-dtype"];
  if (dtype !== "bf16" && dtype !== "f16" && dtype !== "mxfp4" && dtype !== "f32") throw new UsageError(`--save-dtype must be bf16, f16, mxfp4 or f32, got '${dtype}'`);
  if (f["mxfp4-all"] && dtype !== "mxfp4") throw new UsageError(`--mxfp4-all quantises wte and lm_head to MXFP4 and needs --save-dtype mxfp4 (got ${dtype})`);
  const out = f.out.replace(/\/+$/, "");
  if (await exists(out)) throw new UsageError(`${out} already exists; export to a new --out directory (nothing was written)`);

  const runDir = `${f["runs-dir"]}/${f.run}`;
  const dir = f.step >= 0 ? await findCheckpoint(runDir, f.step) : (await latestCheckpoint(runDir))?.dir ?? null;
  if (!dir) throw new UsageError(`run '${f.run}' has no ${f.step >= 0 ? `checkpoint of step ${f.step}` : "checkpoint"} in ${runDir}/checkpoints`);
  const ckpt = await loadCheckpoint(dir, { withOptimizer: false });
  const m = ckpt.meta;
  // Widening is exact, so an f32 copy of narrowed weights would look like master weights
  // and let a resume train over their rounding.
  if (m.weights_dtype !== "f32" && dtype === "f32") throw new UsageError(`${dir} holds ${m.weights_dtype} weights; an f32 copy of it would pass for the master weights: export from the float32 checkpoint`);
  const tokDir = `${runDir}/tokenizer`;
  const tok = await exists(`${tokDir}/${TOKENIZER_JSON}`) ? await loadTokenizer(denoFiles("."), tokDir) : null;
  if (tok && m.tokenizer && m.tokenizer.hash !== tok.hash) throw new UsageError(`${dir} was trained with another tokenizer than ${tokDir} holds`);
  if (tok && tok.vocabSize !== ckpt.cfg.vocab_size) throw new UsageError(`${tokDir} has ${tok.vocabSize} tokens, the model ${ckpt.cfg.vocab_size}`);

  const files = encodeCheckpoint(m.step, {
    params: ckpt.params, cfg: ckpt.cfg,
    meta: {
      user_config: m.user_config, val_bpb: m.val_bpb, loader_state: m.loader_state, rng_state: m.rng_state, metrics: m.metrics,
      tokenizer: m.tokenizer, stage: m.stage, source: m.source, created_at: m.created_at,
    },
  }, { weightsDtype: dtype, mxfp4All: f["mxfp4-all"] });
  const stage = await stagingDir(out, "export-checkpoint");
  try {
    for (const file of files) await writeChunks(`${stage}/${file.name}`, file.chunks);
    if (tok) await saveTokenizer(denoFiles("."), `${stage}/tokenizer`, tok);
    if (await exists(out)) throw new UsageError(`${out} appeared while exporting; export to a new --out directory (nothing was written)`);
    await Deno.rename(stage, out);
  } catch (err) {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
    throw err;
  }
  const mb = async (path: string) => `${((await Deno.stat(path)).size / 2 ** 20).toFixed(2)} MiB`;
  const what = dtype === "mxfp4" ? `mxfp4 weights (${f["mxfp4-all"] ? "every matrix" : "wte and lm_head bf16"})` : `${dtype} weights`;
  console.log(`exported ${dir} (step ${m.step}) → ${out}: ${what}, ${MODEL_FILE} ${await mb(`${out}/${MODEL_FILE}`)} (source ${await mb(`${dir}/${MODEL_FILE}`)}), no optimizer state`);
  console.log(tok ? `tokenizer → ${out}/tokenizer; chat with: deno task chat --checkpoint ${out}` : `${tokDir} holds no tokenizer, none copied; chat with: deno task chat --checkpoint ${out} --tokenizer-dir DIR`);
}

function equalBytes(a: Uint8Array, chunks: Uint8Array[]): boolean {
  let o = 0;
  for (const c of chunks) {
    if (o + c.length > a.length) return false;
    for (let i = 0; i < c.length; i++) if (a[o + i] !== c[i]) return false;
    o += c.length;
  }
  return o === a.length;
}
