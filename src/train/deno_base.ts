// DENO-ONLY: `deno task train base`, pretraining on the parquet shards. Wires the
// pieces together — config, tokenizer, loaders, model, optimizer, checkpoints, metrics —
// and hands the steps to the shared loop (src/train/loop.ts).
import { createLocalLoader } from "../data/deno_shards.ts";
import type { DataLoader, LoaderState } from "../data/loader.ts";
import { evaluateBpbOnLoader } from "../eval/bpb.ts";
import type { Gpu } from "../gpu/device.ts";
import { measurePeakFlops } from "../nn/peak.ts";
import { denoFiles } from "../io/deno_files.ts";
import { GPT } from "../model/gpt.ts";
import { InferenceGPT } from "../model/inference.ts";
import { checkModelFits } from "../model/limits.ts";
import { initParams } from "../model/params.ts";
import { ModelOptimizer } from "../optim/optimizer.ts";
import { loadTokenizer, saveTokenizer } from "../tokenizer/store.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import { cleanupCheckpoints, latestCheckpoint, loadCheckpoint, saveCheckpoint } from "./deno_checkpoint.ts";
import { type LoopState, runTrainingLoop } from "./loop.ts";
import { MetricsLog, updateRunStatus, writeRunInfo } from "./deno_metrics.ts";
import type { ResolvedRunConfig } from "./run_config.ts";
import { greedySample, SAMPLE_PROMPTS } from "./sample.ts";
import { UserError } from "../util/errors.ts";

export interface BaseTrainOptions {
  resolved: ResolvedRunConfig;
  gpu: Gpu;
  resume: boolean;
  /** Greedy tokens per sample prompt. */
  sampleTokens?: number;
  log?: (line: string) => void;
}

export interface BaseTrainResult {
  runDir: string;
  step: number;
  firstValBpb: number | null;
  lastValBpb: number | null;
  stopped: boolean;
}

class TrainError extends UserError {
  override name = "TrainError";
}

async function loadRunTokenizer(r: ResolvedRunConfig): Promise<Tokenizer> {
  const tok = await loadTokenizer(denoFiles("."), r.config.tokenizer_dir);
  if (tok.vocabSize !== r.model.vocab_size) {
    throw new TrainError(
      `the tokenizer in ${r.config.tokenizer_dir} has ${tok.vocabSize} tokens but vocab_size is ${r.model.vocab_size}: ` +
        `pass --vocab-size ${tok.vocabSize}, or retrain it with 'deno task tok train --vocab ${r.model.vocab_size}'`,
    );
  }
  return tok;
}

export async function trainBase(opts: BaseTrainOptions): Promise<BaseTrainResult> {
  const { resolved: r, gpu } = opts;
  const log = opts.log ?? ((line: string) => console.log(line));
  const c = r.config;
  const runDir = `${c.runs_dir}/${c.run}`;
  const B = c.device_batch_size, T = c.max_seq_len;
  if (c.world_size !== 1) throw new TrainError(`world_size ${c.world_size}: data-parallel training over several adapters is not built yet; use world_size 1`);
  checkModelFits(gpu, r.model, { B, T });
  const tok = await loadRunTokenizer(r);

  // Resume or start fresh.
  await cleanupCheckpoints(runDir);
  const latest = await latestCheckpoint(runDir);
  if (latest && !opts.resume) {
    throw new TrainError(`run '${c.run}' already has checkpoints (latest step ${latest.step} in ${runDir}): pass --resume to continue it, or choose another --run name`);
  }
  if (!latest && opts.resume) throw new TrainError(`--resume: run '${c.run}' has no checkpoint in ${runDir}/checkpoints`);
  const ckpt = latest ? await loadCheckpoint(latest.dir) : null;
  if (ckpt && JSON.stringify(ckpt.cfg) !== JSON.stringify(r.model)) {
    throw new TrainError(`--resume: ${latest!.dir} holds a model ${JSON.stringify(ckpt.cfg)} but the config describes ${JSON.stringify(r.model)}; resume with the same config`);
  }
  if (ckpt && ckpt.meta.tokenizer && ckpt.meta.tokenizer.hash !== tok.hash) {
    throw new TrainError(`--resume: ${latest!.dir} was trained with tokenizer ${ckpt.meta.tokenizer.hash.slice(0, 12)}…, but ${c.tokenizer_dir} holds ${tok.hash.slice(0, 12)}…`);
  }

  // The run keeps the tokenizer it was trained with, so its checkpoints stay usable
  // whatever happens to data/tokenizer later.
  await saveTokenizer(denoFiles("."), `${runDir}/tokenizer`, tok);

  const model = await GPT.create(gpu, r.model, { B, T, training: true });
  const opt = await ModelOptimizer.create(gpu, r.model.n_embd, model.params, model.grads, r.optimizer);
  // Samples decode one sequence at a time: a B=1 model over the same weight buffers.
  const sampler = await InferenceGPT.create(gpu, r.model, model.params, { B: 1, T });
  model.loadParams(ckpt ? ckpt.params : initParams(r.model, c.seed));
  if (ckpt?.optimizer) opt.loadState(ckpt.optimizer, `${latest!.dir}/optim.safetensors`);
  const tokenBytes = tok.tokenBytes();

  const train: DataLoader = await createLocalLoader(c.data_dir, "train", { tokenizer: tok, B, T }, (ckpt?.meta.loader_state ?? undefined) as LoaderState | undefined);
  const metrics = await MetricsLog.open(runDir);
  const started = new Date().toISOString();
  await writeRunInfo(runDir, { name: c.run, stage: "base", config: c as unknown as Record<string, unknown>, adapter: gpu.description, started_at: started, status: "running", step: ckpt?.meta.step ?? 0 });
  const peak = await measurePeakFlops(gpu);
  log(`adapter: ${gpu.description} (measured matmul peak ${(peak / 1e9).toFixed(2)} GFLOP/s)`);
  log(
    `model: ${JSON.stringify(r.model)}, ${r.numParams.toLocaleString("en-US")} params, ${r.flopsPerToken.toExponential(3)} FLOPs/token; ` +
      `${r.numIterations} steps of ${c.total_batch_size} tokens (${r.gradAccumSteps} micro-batch${r.gradAccumSteps > 1 ? "es" : ""} of ${B}×${T}); run dir ${runDir}`,
  );
  if (ckpt) log(`resuming from ${latest!.dir} (step ${ckpt.meta.step})`);

  let stop = false;
  const onSigint = () => {
    if (stop) Deno.exit(130); // a second Ctrl-C: leave at once
    stop = true;
    log("\nCtrl-C: saving a checkpoint at the end of this step, then stopping (Ctrl-C again to quit at once)");
  };
  Deno.addSignalListener("SIGINT", onSigint);

  let firstValBpb: number | null = (ckpt?.meta.metrics?.first_val_bpb as number | null | undefined) ?? null;
  const start: LoopState = {
    step: ckpt?.meta.step ?? 0,
    lossEma: (ckpt?.meta.metrics?.loss_ema_raw as number | undefined) ?? 0,
    trainSeconds: (ckpt?.meta.metrics?.train_seconds as number | undefined) ?? 0,
    lastValBpb: ckpt?.meta.val_bpb ?? null,
  };
  try {
    const result = await runTrainingLoop(model, opt, {
      numIterations: r.numIterations,
      gradAccumSteps: r.gradAccumSteps,
      schedule: r.schedule,
      evalEvery: c.eval_every > 0 ? c.eval_every : r.numIterations,
      sampleEvery: c.sample_every,
      checkpointEvery: c.checkpoint_every,
      tokensPerStep: c.total_batch_size,
      flopsPerToken: r.flopsPerToken,
      peakFlops: peak,
    }, {
      nextBatch: async () => {
        const b = await train.next();
        if (!b) throw new TrainError(`the training shards in ${c.data_dir} ran out`);
        return { inputs: b.inputs, targets: b.targets };
      },
      evaluate: async () => {
        // The reference re-creates the validation loader for every evaluation.
        const val = await createLocalLoader(c.data_dir, "val", { tokenizer: tok, B, T });
        const res = await evaluateBpbOnLoader(model, val, r.evalSteps, tokenBytes);
        if (firstValBpb === null) firstValBpb = res.bpb;
        return { bpb: res.bpb, loss: res.loss };
      },
      sample: async () => {
        const out: string[] = [];
        for (const p of SAMPLE_PROMPTS) out.push(await greedySample(sampler, tok, p, opts.sampleTokens ?? 16));
        return out;
      },
      saveCheckpoint: async (step, state) => {
        await metrics.sync();
        const optimizer = await opt.saveState();
        await saveCheckpoint(runDir, step, {
          params: await model.readParams(),
          cfg: r.model,
          optimizer,
          meta: {
            user_config: c as unknown as Record<string, unknown>,
            val_bpb: state.lastValBpb,
            loader_state: train.state(),
            rng_state: null,
            metrics: { loss_ema_raw: state.lossEma, train_seconds: state.trainSeconds, first_val_bpb: firstValBpb },
            tokenizer: { hash: tok.hash, vocab_size: tok.vocabSize },
            stage: "base",
          },
        }, { keepLast: c.keep_last > 0 ? c.keep_last : undefined });
        await updateRunStatus(runDir, "running", { step });
        log(`checkpoint: ${runDir}/checkpoints/step_${String(step).padStart(6, "0")}`);
      },
      log: (record) => metrics.append(record),
      progress: log,
      stopRequested: () => stop,
    }, start);
    await updateRunStatus(runDir, result.stopped ? "stopped" : "finished", { step: result.step });
    return { runDir, step: result.step, firstValBpb, lastValBpb: result.lastValBpb, stopped: result.stopped };
  } catch (err) {
    await updateRunStatus(runDir, "failed", { step: start.step, error: (err as Error).message }).catch(() => {});
    throw err;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    metrics.close();
    train.close();
    sampler.destroy();
    model.destroy();
    opt.destroy();
  }
}
