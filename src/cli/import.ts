// `deno task import nanochat DIR [--step N] --run NAME`: a nanochat checkpoint directory
// (model_NNNNNN.pt + meta_NNNNNN.json, e.g. $NANOCHAT_BASE_DIR/base_checkpoints/d20) and
// its tokenizer.pkl become an ordinary lab run:
//
//   runs/NAME/run.json, tokenizer/ (tokenizer.json, .tiktoken, token_bytes.json),
//   checkpoints/step_NNNNNN/ (meta.json, model.safetensors)
//
// so `chat --run NAME`, `eval`, `train sft --from NAME` and the lab work on it. The files
// are read with the restricted unpickler (src/formats/pickle.ts): nothing in them runs.
// The run is assembled in a staging directory and renamed to runs/NAME in one step, so
// a refused or failed import leaves nothing behind. The optimizer state is not imported
// (nanochat's is sharded per rank); a chat stage starts its own.
import { metaFileName, modelFileName, nanochatSteps, paramsFromStateDict, parseNanochatMeta, readTiktokenPickle } from "../formats/nanochat.ts";
import { readTorchStateDict, readTorchTensor } from "../formats/torch_save.ts";
import { denoFiles } from "../io/deno_files.ts";
import { saveTokenizer } from "../tokenizer/store.ts";
import { saveCheckpoint } from "../train/deno_checkpoint.ts";
import { writeRunInfo } from "../train/deno_metrics.ts";
import { parseFlags, runMain, UsageError } from "./args.ts";
import { encodingToTokenizer, exists, fileSource, stagingDir } from "./interop.ts";

export const IMPORT_FLAGS = {
  run: { type: "string", default: "", help: "name of the lab run to create (must not exist)" },
  step: { type: "number", default: -1, min: 0, integer: true, unset: -1, help: "which model_NNNNNN.pt; -1: the highest step" },
  tokenizer: { type: "string", default: "", help: "directory holding tokenizer.pkl (default: DIR/tokenizer, else DIR/../../tokenizer as in $NANOCHAT_BASE_DIR)" },
  stage: { type: "string", default: "", help: "the stage to record (base, mid, sft, rl); default none, so any chat stage may start from it" },
  "runs-dir": { type: "string", default: "runs", help: "directory holding the runs" },
} as const;

async function readSource(path: string, read: (src: Awaited<ReturnType<typeof fileSource>>) => Promise<unknown>) {
  const src = await fileSource(path).catch((err) => {
    throw new UsageError(`cannot open ${path}: ${(err as Error).message}`);
  });
  try {
    return await read(src);
  } finally {
    src.close();
  }
}

runMain(async (args) => {
  const parsed = parseFlags(args, "import", "Make a lab run from a nanochat checkpoint and tokenizer, reading the PyTorch files safely (nothing in them runs).", IMPORT_FLAGS, "nanochat DIR");
  if (!parsed) return;
  const f = parsed.flags;
  const [format, dirArg, extra] = parsed.positionals;
  if (format !== "nanochat" || !dirArg) throw new UsageError("usage: deno task import nanochat DIR --run NAME (DIR holds model_NNNNNN.pt and meta_NNNNNN.json)");
  if (extra) throw new UsageError(`unexpected argument '${extra}'`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(f.run)) throw new UsageError(`--run '${f.run}': pass a run name of letters, digits, '.', '_' and '-'`);
  if (!["", "base", "mid", "sft", "rl"].includes(f.stage)) throw new UsageError(`--stage must be base, mid, sft or rl, got '${f.stage}'`);
  const dir = dirArg.replace(/\/+$/, "");
  const runDir = `${f["runs-dir"]}/${f.run}`;
  if (await exists(runDir)) throw new UsageError(`${runDir} already exists: choose another --run name (nothing was written)`);

  const names = await Array.fromAsync(Deno.readDir(dir)).then((es) => es.map((e) => e.name), () => {
    throw new UsageError(`${dir} is not a directory`);
  });
  const steps = nanochatSteps(names);
  if (!steps.length) throw new UsageError(`${dir} holds no model_NNNNNN.pt (a nanochat checkpoint directory, e.g. $NANOCHAT_BASE_DIR/base_checkpoints/d20)`);
  const step = f.step >= 0 ? f.step : steps[steps.length - 1];
  if (!steps.includes(step)) throw new UsageError(`${dir} has no ${modelFileName(step)} (steps there: ${steps.join(", ")})`);

  const metaPath = `${dir}/${metaFileName(step)}`;
  const metaText = await Deno.readTextFile(metaPath).catch(() => {
    throw new UsageError(`${metaPath} is missing: nanochat writes it beside ${modelFileName(step)}`);
  });
  const meta = parseNanochatMeta(metaText, metaPath);
  const modelPath = `${dir}/${modelFileName(step)}`;
  const tensors = await readSource(modelPath, (src) => readTorchStateDict(src, modelPath)) as Awaited<ReturnType<typeof readTorchStateDict>>;
  const params = paramsFromStateDict(tensors, meta.model_config, modelPath); // unknown parameters are named here
  if (meta.unknownConfigKeys.length) throw new UsageError(`${metaPath}: model_config keys this lab does not know: ${meta.unknownConfigKeys.join(", ")} (a later nanochat variant)`);

  const tokDir = f.tokenizer || ((await exists(`${dir}/tokenizer/tokenizer.pkl`)) ? `${dir}/tokenizer` : `${dir}/../../tokenizer`);
  const pklPath = `${tokDir}/tokenizer.pkl`;
  const pkl = await Deno.readFile(pklPath).catch(() => {
    throw new UsageError(`${pklPath} is missing: pass --tokenizer DIR (nanochat keeps it in $NANOCHAT_BASE_DIR/tokenizer)`);
  });
  const tok = encodingToTokenizer(readTiktokenPickle(pkl, pklPath), pklPath);
  if (tok.vocabSize !== meta.model_config.vocab_size) throw new UsageError(`${pklPath} has ${tok.vocabSize} tokens but the model's vocab_size is ${meta.model_config.vocab_size}: not this model's tokenizer`);
  const tbPath = `${tokDir}/token_bytes.pt`;
  if (await exists(tbPath)) {
    const tb = await readSource(tbPath, (src) => readTorchTensor(src, tbPath)) as Awaited<ReturnType<typeof readTorchTensor>>;
    if (tb.data.length !== tok.vocabSize) throw new UsageError(`${tbPath} has ${tb.data.length} entries, the tokenizer ${tok.vocabSize}`);
  }

  // Everything read and checked: assemble the run, then one rename makes it appear.
  const stage = await stagingDir(runDir, `import-${f.run}`);
  try {
    await saveTokenizer(denoFiles("."), `${stage}/tokenizer`, tok);
    await saveCheckpoint(stage, step, {
      params, cfg: meta.model_config,
      meta: {
        user_config: {}, val_bpb: meta.val_bpb, loader_state: null, rng_state: null, metrics: {},
        tokenizer: { hash: tok.hash, vocab_size: tok.vocabSize }, stage: f.stage, source: `nanochat:${modelPath}`,
      },
    });
    await writeRunInfo(stage, {
      name: f.run, stage: f.stage || "import", config: { imported_from: modelPath, nanochat_user_config: meta.user_config }, adapter: "nanochat (PyTorch)",
      started_at: new Date().toISOString(), status: "finished", step,
    });
    await Deno.rename(stage, runDir);
  } catch (err) {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
    throw err;
  }
  console.log(`imported ${modelPath} (step ${step}, ${JSON.stringify(meta.model_config)}) → ${runDir}`);
  console.log(`try: deno task chat --run ${f.run}`);
});
