// The Train tab's worker: `deno task train base` in the browser. It owns its own WebGPU
// device and runs the same code as the CLI — GPT, ModelOptimizer, the packing loader over
// the lab server's shards (GET /api/data/shards/…, each checked against its manifest
// SHA-256), the base stage's data and src/train/loop.ts — so its batches, schedule and
// checkpoints are those a Deno run with the same config would have. Checkpoints, metrics
// and run.json go to IndexedDB (train_store.ts); records and progress lines are posted to
// the page as they are logged. The page's Stop asks the loop to checkpoint and stop at the
// end of the step, as Ctrl-C does under Deno.
import type { LoadedCheckpoint } from "../../src/formats/checkpoint.ts";
import type { MetricsRecord, RunInfo } from "../../src/formats/metrics.ts";
import { createLoader, splitShards } from "../../src/data/loader.ts";
import { acquireGpu, type Gpu } from "../../src/gpu/device.ts";
import { GPT } from "../../src/model/gpt.ts";
import { InferenceGPT } from "../../src/model/inference.ts";
import { checkModelFits } from "../../src/model/limits.ts";
import { initParams } from "../../src/model/params.ts";
import { measurePeakFlops } from "../../src/nn/peak.ts";
import { ModelOptimizer } from "../../src/optim/optimizer.ts";
import { loadTokenizer, saveTokenizer } from "../../src/tokenizer/store.ts";
import type { Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import { runTrainingLoop } from "../../src/train/loop.ts";
import { type ResolvedRunConfig, resolveRunConfig, type RunConfig } from "../../src/train/run_config.ts";
import { baseStageData, checkpointDataOf, loopConfigOf, startOf } from "../../src/train/stage.ts";
import { errorMessage, UserError } from "../../src/util/errors.ts";
import { type FromWorker, TAB_PRESETS, type ToWorker, TRAIN_LOCK_PREFIX } from "./train_protocol.ts";
import { dataInfo, serverTokenizer, shardOpener } from "./train_data.ts";
import { checkpointSteps, IdbFileStore, readLocalCheckpoint, readLocalRun, recordsBefore, runDirOf, runInfoBytes, saveLocalCheckpoint } from "./train_store.ts";

const scope = globalThis as unknown as { postMessage(m: FromWorker): void; onmessage: ((e: MessageEvent<ToWorker>) => void) | null };
const post = (m: FromWorker) => scope.postMessage(m);
const say = (line: string) => post({ type: "line", line });

let busy = false;
let stop = false;

scope.onmessage = (e) => {
  const msg = e.data;
  if (msg.type === "stop") {
    if (busy && !stop) say("stopping: saving a checkpoint at the end of this step");
    stop = true;
    return;
  }
  if (busy) return post({ type: "error", message: "a run is already training in this tab; stop it first" });
  busy = true;
  stop = false;
  train(msg).catch((err) => post({ type: "error", message: errorMessage(err) })).finally(() => (busy = false));
};

interface Prepared {
  r: ResolvedRunConfig;
  tok: Tokenizer;
  ckpt: LoadedCheckpoint | null;
  records: MetricsRecord[];
  info: RunInfo;
  fresh: boolean;
}

/** A new run from a preset: config resolved, tokenizer fetched and kept beside the run, run.json written. */
async function prepareNew(store: IdbFileStore, gpu: Gpu, msg: Extract<ToWorker, { type: "start" }>): Promise<Prepared> {
  const preset = TAB_PRESETS[msg.preset];
  if (!preset) throw new UserError(`unknown preset ${JSON.stringify(msg.preset)}; the page offers ${Object.keys(TAB_PRESETS).join(", ")}`);
  if (await store.exists(`${runDirOf(msg.run)}/run.json`)) throw new UserError(`this browser already has a run named '${msg.run}': resume it, delete it, or choose another name`);
  const r = resolveRunConfig(preset, { ...msg.overrides, run: msg.run });
  const tok = await loadTokenizer(serverTokenizer, "tokenizer");
  if (tok.vocabSize !== r.model.vocab_size) {
    throw new UserError(`the lab server's tokenizer has ${tok.vocabSize} tokens but vocab_size is ${r.model.vocab_size}: add vocab_size=${tok.vocabSize} to the settings, or train a tokenizer with 'deno task tok train --vocab ${r.model.vocab_size}'`);
  }
  const now = new Date().toISOString();
  const info: RunInfo = {
    name: msg.run, stage: "base", config: r.config as unknown as Record<string, unknown>, preset: msg.preset,
    adapter: gpu.description, started_at: now, updated_at: now, status: "running", step: 0,
  };
  await saveTokenizer(store, `${runDirOf(msg.run)}/tokenizer`, tok);
  await store.writeAtomic(`${runDirOf(msg.run)}/run.json`, runInfoBytes(info));
  return { r, tok, ckpt: null, records: [], info, fresh: true };
}

/** A run of this browser from its latest checkpoint, with the config and tokenizer it was trained with. */
async function prepareResume(store: IdbFileStore, gpu: Gpu, run: string): Promise<Prepared> {
  const local = await readLocalRun(store, run);
  if (!local) throw new UserError(`this browser has no run named '${run}'`);
  const last = (await checkpointSteps(store, run)).at(-1);
  if (last === undefined) throw new UserError(`run '${run}' has no checkpoint to resume from; delete it and start again`);
  const ckpt = await readLocalCheckpoint(store, run, last);
  const r = resolveRunConfig(local.info.config as Partial<RunConfig>);
  if (JSON.stringify(ckpt.cfg) !== JSON.stringify(r.model)) {
    throw new UserError(`run '${run}': its checkpoint holds a model ${JSON.stringify(ckpt.cfg)} but run.json describes ${JSON.stringify(r.model)}`);
  }
  const tok = await loadTokenizer(store, `${runDirOf(run)}/tokenizer`);
  if (ckpt.meta.tokenizer && ckpt.meta.tokenizer.hash !== tok.hash) throw new UserError(`run '${run}': its checkpoint was trained with another tokenizer than the one kept beside it`);
  const info: RunInfo = { ...local.info, adapter: gpu.description, status: "running", error: undefined };
  return { r, tok, ckpt, records: recordsBefore(local.records, ckpt.meta.step), info, fresh: false };
}

async function train(msg: Extract<ToWorker, { type: "start" | "resume" }>): Promise<void> {
  // One writer per run, as the CLI's owner lock: another tab of this browser training the
  // same run would interleave its checkpoints with ours. The lock ends with the training
  // (or the tab), so a closed tab never leaves it held.
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (!locks) return await trainLocked(msg);
  await locks.request(`${TRAIN_LOCK_PREFIX}${msg.run}`, { ifAvailable: true }, async (lock) => {
    if (!lock) throw new UserError(`run '${msg.run}' is training in another tab of this browser; stop it there first`);
    await trainLocked(msg);
  });
}

async function trainLocked(msg: Extract<ToWorker, { type: "start" | "resume" }>): Promise<void> {
  const gpu = await acquireGpu();
  say(`adapter: ${gpu.description}`);
  try {
    await trainOn(gpu, new IdbFileStore(), msg);
  } finally {
    gpu.device.destroy();
  }
}

async function trainOn(gpu: Gpu, store: IdbFileStore, msg: Extract<ToWorker, { type: "start" | "resume" }>): Promise<void> {
  const data = await dataInfo();
  const p = msg.type === "start" ? await prepareNew(store, gpu, msg) : await prepareResume(store, gpu, msg.run);
  const { r, tok, ckpt, info } = p;
  const records = p.records;
  const c = r.config, B = c.device_batch_size, T = c.max_seq_len, run = c.run;
  let stepped = false;
  const setStatus = async (status: RunInfo["status"], extra: Partial<RunInfo> = {}) => {
    Object.assign(info, { ...extra, status, updated_at: new Date().toISOString() });
    await store.writeAtomic(`${runDirOf(run)}/run.json`, runInfoBytes(info));
  };
  let model: GPT | null = null, opt: ModelOptimizer | null = null, sampler: InferenceGPT | null = null;
  let close: (() => void) | undefined;
  try {
    checkModelFits(gpu, r.model, { B, T });
    model = await GPT.create(gpu, r.model, { B, T, training: true });
    opt = await ModelOptimizer.create(gpu, r.model.n_embd, model.params, model.grads, r.optimizer);
    sampler = await InferenceGPT.create(gpu, r.model, model.params, { B: 1, T });
    model.loadParams(ckpt ? ckpt.params : initParams(r.model, c.seed));
    if (ckpt?.optimizer) opt.loadState(ckpt.optimizer, `${runDirOf(run)}/checkpoints (optim.safetensors)`);
    const names = splitShards(data.shards.map((s) => s.name));
    const open = shardOpener(data, location.href);
    const stage = await baseStageData({
      r, tok, model, sampler, checkpoint: ckpt, dataName: "the lab server's data directory",
      open: (split, state) => createLoader({ tokenizer: tok, B, T, shards: names[split], open }, state),
    });
    close = () => stage.close?.();
    const peak = await measurePeakFlops(gpu);
    say(`measured matmul peak ${(peak / 1e9).toFixed(2)} GFLOP/s`);
    say(`base: model ${JSON.stringify(r.model)}, ${r.numParams.toLocaleString("en-US")} params; ${r.numIterations} steps of ${c.total_batch_size} tokens (${r.gradAccumSteps} micro-batch${r.gradAccumSteps > 1 ? "es" : ""} of ${B}×${T})`);
    if (ckpt) say(`resuming from step ${ckpt.meta.step}`);
    post({ type: "records", records: [...records] });
    post({ type: "started", run, numIterations: r.numIterations, config: c });
    const { state: start, firstValBpb: firstBpb } = startOf(ckpt);
    let firstValBpb = firstBpb;
    const m = model, o = opt;
    const result = await runTrainingLoop(m, o, loopConfigOf(r, peak), {
      nextBatch: () => stage.nextBatch(),
      evaluate: async (step) => {
        const res = await stage.evaluate!(step);
        if (firstValBpb === null && res.bpb !== undefined) firstValBpb = res.bpb;
        return res;
      },
      sample: stage.sample,
      saveCheckpoint: async (step, state) => {
        const ckptData = await checkpointDataOf({ r, model: m, opt: o, tok, stage: "base", config: c as unknown as Record<string, unknown>, state, loaderState: stage.loaderState(), firstValBpb });
        Object.assign(info, { step, updated_at: new Date().toISOString() });
        await saveLocalCheckpoint(store, run, step, ckptData, records, info, c.keep_last);
        post({ type: "checkpoint", step });
        say(`checkpoint: step ${step} (kept in this browser)`);
      },
      log: (record) => {
        if (record.type === "train") stepped = true;
        records.push(record);
        post({ type: "record", record });
      },
      progress: say,
      stopRequested: () => stop,
    }, start);
    await setStatus(result.stopped ? "stopped" : "finished", { step: result.step });
    post({ type: "done", step: result.step, stopped: result.stopped });
  } catch (err) {
    // A new run that failed before its first step leaves nothing behind, as under Deno.
    if (p.fresh && !stepped && (await checkpointSteps(store, run)).length === 0) await store.removeTree(runDirOf(run)).catch(() => {});
    else await setStatus("failed", { error: errorMessage(err) }).catch(() => {});
    throw err;
  } finally {
    close?.();
    sampler?.destroy();
    model?.destroy();
    opt?.destroy();
  }
}
