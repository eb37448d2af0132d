// DENO-ONLY: what every training stage (base, mid, SFT) does around its data: the run
// directory and its resume rules, the tokenizer kept beside the checkpoints, model and
// optimizer, run.json and metrics.jsonl, Ctrl-C, checkpoints with the stage's meta, and
// the shared loop (src/train/loop.ts). A stage brings only its batches, its evaluation,
// its samples and where its weights start (src/train/deno_base.ts, deno_chat.ts).
import type { Gpu } from "../gpu/device.ts";
import { denoFiles } from "../io/deno_files.ts";
import { GPT } from "../model/gpt.ts";
import { InferenceGPT } from "../model/inference.ts";
import { checkModelFits } from "../model/limits.ts";
import { measurePeakFlops } from "../nn/peak.ts";
import { ModelOptimizer } from "../optim/optimizer.ts";
import { saveTokenizer } from "../tokenizer/store.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import type { LoadedCheckpoint } from "../formats/checkpoint.ts";
import { UserError } from "../util/errors.ts";
import { RUN_LOCK_FILE } from "../formats/metrics.ts";
import { acquireLock } from "../io/deno_lock.ts";
import { cleanupCheckpoints, incompleteCheckpoints, latestCheckpoint, loadCheckpoint, saveCheckpoint } from "./deno_checkpoint.ts";
import { dropMetricsFrom, MetricsLog, readRunInfo, updateRunStatus, writeRunInfo } from "./deno_metrics.ts";
import { runTrainingLoop } from "./loop.ts";
import { createFakeQuant, type FakeQuant } from "./qat.ts";
import { submitTrainStep } from "./step.ts";
import { DenoWorld, parsePlacements } from "../dist/deno_world.ts";
import { flatten, worldStep } from "../dist/step.ts";
import { checkpointDataOf, loopConfigOf, type Stage, type StageData, startOf } from "./stage.ts";
import type { ResolvedRunConfig } from "./run_config.ts";

export class TrainError extends UserError {
  override name = "TrainError";
}

export type { Stage, StageData } from "./stage.ts";

export interface StageSpec {
  stage: Stage;
  resolved: ResolvedRunConfig;
  gpu: Gpu;
  resume: boolean;
  tok: Tokenizer;
  /** The weights of a fresh start (not resuming): an init, or the previous stage's checkpoint. */
  initialParams(): Map<string, Float32Array>;
  /** Fixed Muon momentum instead of the warm-up (SFT). */
  fixedMomentum?: number;
  /** The source of a chat stage, for run.json. */
  source?: string;
  /** The preset the settings came from, for run.json (the next stage defaults to it). */
  preset?: string;
  /** `--adapters`: where ranks 1… of a world_size > 1 run run (src/dist/deno_world.ts). */
  adapters?: string;
  data(ctx: { model: GPT; sampler: InferenceGPT; checkpoint: LoadedCheckpoint | null }): Promise<StageData>;
  log?: (line: string) => void;
}

export interface StageResult {
  runDir: string;
  step: number;
  firstValBpb: number | null;
  lastValBpb: number | null;
  stopped: boolean;
}

/** The resume rules every stage shares: refuse to mix runs, and a checkpoint must fit the config. */
async function resumePoint(runDir: string, spec: StageSpec, log: (line: string) => void): Promise<{ ckpt: LoadedCheckpoint | null; dir: string | null }> {
  const { resolved: r, tok } = spec, c = r.config;
  await cleanupCheckpoints(runDir);
  const latest = await latestCheckpoint(runDir);
  if (latest && !spec.resume) {
    throw new TrainError(`run '${c.run}' already has checkpoints (latest step ${latest.step} in ${runDir}): pass --resume to continue it, or choose another --run name`);
  }
  if (!latest && spec.resume) throw new TrainError(`--resume: run '${c.run}' has no checkpoint in ${runDir}/checkpoints`);
  if (!latest) return { ckpt: null, dir: null };
  // Say what a resume falls back to: newer step directories that are not whole checkpoints
  // are skipped, and the user should know which and why before training over them.
  for (const bad of (await incompleteCheckpoints(runDir)).filter((b) => b.step > latest.step)) {
    log(`--resume: skipping ${bad.dir}: ${bad.missing.join(" and ")} ${bad.missing.length > 1 ? "are" : "is"} missing; using the latest complete checkpoint, ${latest.dir} (step ${latest.step})`);
  }
  const ckpt = await loadCheckpoint(latest.dir);
  // A narrowed copy would load as if it were the master weights, and the steps after it
  // would train over its rounding for good (its optimizer state is gone too).
  if (ckpt.meta.weights_dtype && ckpt.meta.weights_dtype !== "f32") {
    throw new TrainError(
      `--resume: ${latest.dir} holds ${ckpt.meta.weights_dtype} weights (an inference copy, as 'deno task export checkpoint --save-dtype ${ckpt.meta.weights_dtype}' writes); ` +
        `resuming from it would lose the float32 master weights. Resume from the float32 checkpoint it was exported from: put that back in its place, or move it out of ${runDir}/checkpoints to resume from the one before`,
    );
  }
  if (JSON.stringify(ckpt.cfg) !== JSON.stringify(r.model)) {
    throw new TrainError(`--resume: ${latest.dir} holds a model ${JSON.stringify(ckpt.cfg)} but the config describes ${JSON.stringify(r.model)}; resume with the same config`);
  }
  if (ckpt.meta.tokenizer && ckpt.meta.tokenizer.hash !== tok.hash) {
    throw new TrainError(`--resume: ${latest.dir} was trained with tokenizer ${ckpt.meta.tokenizer.hash.slice(0, 12)}…, but ${c.tokenizer_dir} holds ${tok.hash.slice(0, 12)}…`);
  }
  if (ckpt.meta.stage && ckpt.meta.stage !== spec.stage) {
    throw new TrainError(`--resume: ${latest.dir} is a ${ckpt.meta.stage} checkpoint, not ${spec.stage}; resume it with 'deno task train ${ckpt.meta.stage}'`);
  }
  return { ckpt, dir: latest.dir };
}

export async function runStage(spec: StageSpec): Promise<StageResult> {
  const { resolved: r, gpu } = spec;
  const log = spec.log ?? ((line: string) => console.log(line));
  const c = r.config;
  const runDir = `${c.runs_dir}/${c.run}`;
  const B = c.device_batch_size, T = c.max_seq_len;
  const placements = parsePlacements(spec.adapters ?? "", c.world_size);
  if (placements[0].spec !== "default" && !Object.entries(placements[0].env).every(([k, v]) => Deno.env.get(k) === v)) {
    throw new TrainError(
      `--adapters: rank 0 runs in this process, on ${gpu.description}; to put it on '${placements[0].spec}', start the command with ` +
        `${Object.entries(placements[0].env).map(([k, v]) => `${k}=${v}`).join(" ")} (or name 'default' first)`,
    );
  }
  checkModelFits(gpu, r.model, { B, T });

  // One writer per run directory: two trainings in one run would interleave their metrics
  // and replace each other's checkpoints. The lock is held until this function returns.
  const fresh = !(await Deno.stat(runDir).then(() => true, () => false));
  await Deno.mkdir(runDir, { recursive: true });
  const lock = await acquireLock(`${runDir}/${RUN_LOCK_FILE}`, {
    what: `run '${c.run}' (${runDir})`,
    hint: "wait for that training to end, or stop it (Ctrl-C in its terminal); then continue the run with --resume, or choose another --run name",
    onTakeover: (h) => log(`${runDir}: taking over the lock of pid ${h.pid} (since ${h.started_at}), which no longer runs`),
  });
  const progress = { stepped: false };
  try {
    return await runLocked(spec, runDir, log, progress);
  } catch (err) {
    // A new run that failed before its first step (a broken shard, a model too big…) has
    // nothing worth keeping: it leaves no half-made run directory behind. Otherwise
    // run.json says it failed and why.
    if (fresh && !progress.stepped && !(await latestCheckpoint(runDir))) {
      lock.release();
      await Deno.remove(runDir, { recursive: true }).catch(() => {});
    } else if (await readRunInfo(runDir).catch(() => null)) {
      await updateRunStatus(runDir, "failed", { error: (err as Error).message }).catch(() => {});
    }
    throw err;
  } finally {
    lock.release();
  }
}

async function runLocked(spec: StageSpec, runDir: string, log: (line: string) => void, progress: { stepped: boolean }): Promise<StageResult> {
  const { resolved: r, gpu, tok } = spec;
  const c = r.config;
  const B = c.device_batch_size, T = c.max_seq_len;
  const { ckpt, dir } = await resumePoint(runDir, spec, log);
  if (ckpt) {
    // The steps after the checkpoint are trained (and logged) again: drop their old records.
    const dropped = await dropMetricsFrom(runDir, ckpt.meta.step);
    if (dropped) log(`metrics.jsonl: dropped ${dropped} record${dropped > 1 ? "s" : ""} of steps ≥ ${ckpt.meta.step}, logged after that checkpoint; they are logged again as the run repeats them`);
  }

  // The run keeps the tokenizer it was trained with, so its checkpoints stay usable
  // whatever happens to data/tokenizer later.
  await saveTokenizer(denoFiles("."), `${runDir}/tokenizer`, tok);

  const model = await GPT.create(gpu, r.model, { B, T, training: true });
  const opt = await ModelOptimizer.create(gpu, r.model.n_embd, model.params, model.grads, r.optimizer);
  // Samples decode one sequence at a time: a B=1 model over the same weight buffers.
  const sampler = await InferenceGPT.create(gpu, r.model, model.params, { B: 1, T });
  let data: StageData | null = null, metrics: MetricsLog | null = null, world: DenoWorld | null = null, qat: FakeQuant | null = null;
  try {
    model.loadParams(ckpt ? ckpt.params : spec.initialParams());
    if (c.qat) {
      qat = await createFakeQuant(gpu, r.model, model.params);
      log(`qat ${c.qat}: forward and backward on ${qat.names.length} matrices rounded to MXFP4 (wte and lm_head as they are); the optimizer updates the float32 weights, which evaluations, samples and checkpoints hold`);
    }
    if (ckpt?.optimizer) opt.loadState(ckpt.optimizer, `${dir}/optim.safetensors`);
    data = await spec.data({ model, sampler, checkpoint: ckpt });
    if (c.world_size > 1) {
      // Ranks 1… start from rank 0's weights (a fresh init or the checkpoint), bit for bit.
      world = await DenoWorld.start(parsePlacements(spec.adapters ?? "", c.world_size), { cfg: r.model, B, T }, gpu.description, log);
      await world.broadcastWeights(flatten(r.model, await model.readParams()));
    }
    metrics = await MetricsLog.open(runDir);
    return await trainLoop(spec, runDir, log, progress, { model, opt, sampler, data, metrics, ckpt, dir, world, qat });
  } finally {
    qat?.destroy();
    await world?.close();
    metrics?.close();
    data?.close?.();
    sampler.destroy();
    model.destroy();
    opt.destroy();
  }
}

interface LoopParts {
  model: GPT;
  opt: ModelOptimizer;
  sampler: InferenceGPT;
  data: StageData;
  metrics: MetricsLog;
  ckpt: LoadedCheckpoint | null;
  dir: string | null;
  world: DenoWorld | null;
  qat: FakeQuant | null;
}

async function trainLoop(spec: StageSpec, runDir: string, log: (line: string) => void, progress: { stepped: boolean }, parts: LoopParts): Promise<StageResult> {
  const { resolved: r, gpu, tok, stage } = spec;
  const c = r.config;
  const B = c.device_batch_size, T = c.max_seq_len;
  const { model, opt, data, metrics, ckpt, dir, world, qat } = parts;
  const config = { ...c, ...(spec.source ? { source: spec.source } : {}) } as unknown as Record<string, unknown>;
  // A world's run.json names every rank's adapter: `adapter` in words, `adapters` one per rank.
  const adapter = world ? world.adapters.map((a, i) => `rank ${i}: ${a}`).join("; ") : gpu.description;
  await writeRunInfo(runDir, {
    name: c.run, stage, config, ...(spec.preset ? { preset: spec.preset } : {}), adapter, ...(world ? { adapters: world.adapters } : {}),
    started_at: new Date().toISOString(), status: "running", step: ckpt?.meta.step ?? 0,
  });
  if (world) await metrics.append({ type: "world", step: ckpt?.meta.step ?? 0, world: world.size, adapters: world.adapters, time: Date.now() / 1000 });
  const peak = await measurePeakFlops(gpu);
  log(`adapter: ${gpu.description} (measured matmul peak ${(peak / 1e9).toFixed(2)} GFLOP/s)`);
  log(
    `${stage}: model ${JSON.stringify(r.model)}, ${r.numParams.toLocaleString("en-US")} params, ${r.flopsPerToken.toExponential(3)} FLOPs/token; ` +
      `${r.numIterations} steps of ${c.total_batch_size} tokens (${c.world_size > 1 ? `${c.world_size} ranks × ` : ""}${r.gradAccumSteps} micro-batch${r.gradAccumSteps > 1 ? "es" : ""} of ${B}×${T}); run dir ${runDir}`,
  );
  if (spec.source && !ckpt) log(`starting from ${spec.source}`);
  if (ckpt) log(`resuming from ${dir} (step ${ckpt.meta.step})`);

  let stop = false;
  const onSigint = () => {
    if (stop) Deno.exit(130); // a second Ctrl-C: leave at once
    stop = true;
    log("\nCtrl-C: saving a checkpoint at the end of this step, then stopping (Ctrl-C again to quit at once)");
  };
  Deno.addSignalListener("SIGINT", onSigint);

  const { state: start, firstValBpb: firstBpb } = startOf(ckpt);
  let firstValBpb = firstBpb;
  try {
    const result = await runTrainingLoop(model, opt, loopConfigOf(r, peak, spec.fixedMomentum), {
      submitStep: world
        ? async (micro, lrm, momentum) => ({ result: Promise.resolve(await worldStep(world, model, opt, micro, lrm, momentum)) })
        : qat ? (micro, lrm, momentum) => submitTrainStep(model, opt, micro, lrm, momentum, { around: qat }) : undefined,
      nextBatch: () => data.nextBatch(),
      batchMetrics: data.batchMetrics && (() => data.batchMetrics!()),
      evaluate: data.evaluate && (async (step) => {
        const res = await data.evaluate!(step);
        if (firstValBpb === null && res.bpb !== undefined) firstValBpb = res.bpb;
        return res;
      }),
      sample: data.sample,
      saveCheckpoint: async (step, state) => {
        await metrics.sync();
        const loaderState = data.loaderState();
        await saveCheckpoint(runDir, step, await checkpointDataOf({ r, model, opt, tok, stage, config, state, loaderState, firstValBpb, source: spec.source }), { keepLast: c.keep_last > 0 ? c.keep_last : undefined });
        await updateRunStatus(runDir, "running", { step });
        log(`checkpoint: ${runDir}/checkpoints/step_${String(step).padStart(6, "0")}`);
      },
      log: (record) => {
        if (record.type === "train") progress.stepped = true;
        return metrics.append(record);
      },
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
  }
}
