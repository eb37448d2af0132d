// The training loop every stage shares (base, mid, SFT): gradient accumulation to the
// total batch, LR / momentum schedules, periodic validation bits-per-byte and samples,
// checkpoints on a cadence and at the end, a progress line and a metrics log.
//
// Steps run 0…N like the reference: evaluation and the final checkpoint happen at step N,
// and the update at step N is not taken. A step's loss is read back while the next step's
// batches are already being prepared and submitted, so the host never waits on the GPU
// inside a step.
import type { GPT } from "../model/gpt.ts";
import type { ModelOptimizer } from "../optim/optimizer.ts";
import { lrMultiplier, type LrSchedule, muonMomentum } from "../optim/schedule.ts";
import { type MicroBatch, type StepResult, submitTrainStep } from "./step.ts";
import { UserError } from "../util/errors.ts";

export interface LoopConfig {
  numIterations: number;
  /** Micro-batches per optimizer step, over all ranks of a data-parallel world. */
  gradAccumSteps: number;
  schedule: Omit<LrSchedule, "numIterations">;
  evalEvery: number;
  sampleEvery: number;
  checkpointEvery: number;
  /** Tokens per optimizer step (for tokens/s and MFU). */
  tokensPerStep: number;
  flopsPerToken: number;
  /** The adapter's measured peak FLOP/s (for MFU); 0 leaves MFU out. */
  peakFlops: number;
  /** Fixed Muon momentum (SFT) instead of the base warm-up, when set. */
  fixedMomentum?: number;
}

/**
 * What an evaluation found: validation bits per byte (base, mid, SFT), or other metrics
 * (RL's held-out reward and pass@k) with the line the progress shows for them.
 */
export interface EvalResult {
  bpb?: number;
  loss?: number;
  metrics?: Record<string, number>;
  line?: string;
}

export interface LoopHooks {
  nextBatch(): Promise<MicroBatch>;
  /**
   * Called once a step's micro-batches are made: figures about them (RL: rewards, sequence
   * lengths, sampling speed), logged in that step's train record and progress line.
   */
  batchMetrics?(): Record<string, number>;
  /** Validation bits per byte (or other metrics) of the current weights. */
  evaluate?(step: number): Promise<EvalResult>;
  sample?(step: number): Promise<string[]>;
  saveCheckpoint(step: number, state: LoopState): Promise<void>;
  log(record: Record<string, unknown>): Promise<void> | void;
  progress?(line: string): void;
  /** Polled between steps: true asks the loop to checkpoint and stop (Ctrl-C). */
  stopRequested?(): boolean;
  /** Runs a step instead of submitTrainStep (a data-parallel world: src/dist/step.ts). */
  submitStep?(micro: MicroBatch[], lrMultiplier: number, momentum: number): Promise<{ result: Promise<StepResult> }>;
}

/** What a checkpoint needs to continue the loop exactly. */
export interface LoopState {
  step: number;
  lossEma: number;
  trainSeconds: number;
  lastValBpb: number | null;
}

export class NonFiniteLossError extends UserError {
  override name = "NonFiniteLossError";
}

function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return h ? `${h}h${String(m).padStart(2, "0")}m` : m ? `${m}m${String(sec).padStart(2, "0")}s` : `${sec}s`;
}

/** Runs steps state.step…N; resolves to the final state. */
export async function runTrainingLoop(
  model: GPT, opt: ModelOptimizer, cfg: LoopConfig, hooks: LoopHooks, start: LoopState,
): Promise<LoopState & { stopped: boolean }> {
  const N = cfg.numIterations;
  const state: LoopState = { ...start };
  const schedule: LrSchedule = { ...cfg.schedule, numIterations: N };
  let pending: { step: number; result: Promise<StepResult>; lrm: number; extra: Record<string, number> } | null = null;
  // Steps overlap (one is submitted before the previous one's loss is read), and Deno
  // resolves readbacks only when the queue drains, so single steps cannot be timed
  // apart: dt is the mean step time since the last evaluation/sample/checkpoint.
  let windowStart = performance.now();
  let windowSteps = 0;
  const resetWindow = () => {
    windowStart = performance.now();
    windowSteps = 0;
  };

  // Reads the previous step's loss (already computing on the GPU) and logs it.
  const settle = async () => {
    if (!pending) return;
    const { step, result, lrm, extra } = pending;
    pending = null;
    const r = await result;
    windowSteps += 1;
    const dt = (performance.now() - windowStart) / 1000 / windowSteps;
    if (!Number.isFinite(r.loss)) {
      throw new NonFiniteLossError(`the loss became ${r.loss} at step ${step}; the run stopped and its last good checkpoint is kept. Lower the learning rates or check the data.`);
    }
    // The reference's smoothed loss: EMA with β 0.9, debiased by 1 − 0.9^(n+1).
    state.lossEma = 0.9 * state.lossEma + 0.1 * r.loss;
    const debiased = state.lossEma / (1 - 0.9 ** (step + 1));
    if (step > 0) state.trainSeconds += dt; // step 0 includes pipeline compilation
    const tokPerSec = cfg.tokensPerStep / dt;
    const mfu = cfg.peakFlops > 0 ? (100 * cfg.flopsPerToken * tokPerSec) / cfg.peakFlops : null;
    const eta = (N - step - 1) * (state.trainSeconds / Math.max(1, step));
    await hooks.log({ type: "train", step, loss: r.loss, loss_ema: debiased, lrm, grad_norm: r.gradNorm, dt, tok_per_sec: tokPerSec, mfu, ...extra, time: Date.now() / 1000 });
    const extras = Object.entries(extra).map(([k, v]) => ` | ${k} ${Number.isInteger(v) ? v : v.toFixed(3)}`).join("");
    hooks.progress?.(
      `step ${String(step + 1).padStart(String(N).length)}/${N} | loss ${debiased.toFixed(4)} | lrm ${lrm.toFixed(2)} | ` +
        `${dt.toFixed(2)}s | ${tokPerSec.toFixed(0)} tok/s` + (mfu !== null ? ` | mfu ${mfu.toFixed(1)}%` : "") +
        ` | grad ${r.gradNorm.toFixed(3)}${extras} | eta ${step > 0 ? formatDuration(eta) : "—"}`,
    );
  };

  for (let step = state.step; step <= N; step++) {
    state.step = step;
    const last = step === N;
    if (hooks.evaluate && (last || step % cfg.evalEvery === 0)) {
      await settle();
      const ev = await hooks.evaluate(step);
      resetWindow();
      if (ev.bpb !== undefined) state.lastValBpb = ev.bpb;
      const bpb = ev.bpb !== undefined ? { val_bpb: ev.bpb, val_loss: ev.loss ?? null } : {};
      await hooks.log({ type: "eval", step, ...bpb, ...ev.metrics, time: Date.now() / 1000 });
      hooks.progress?.(`step ${step}: ${ev.line ?? `validation bits per byte ${ev.bpb?.toFixed(4)}`}`);
    }
    if (hooks.sample && cfg.sampleEvery > 0 && (last || (step > 0 && step % cfg.sampleEvery === 0))) {
      await settle();
      const samples = await hooks.sample(step);
      resetWindow();
      await hooks.log({ type: "sample", step, samples, time: Date.now() / 1000 });
      for (const s of samples) hooks.progress?.(`  sample: ${JSON.stringify(s)}`);
    }
    const stop = hooks.stopRequested?.() ?? false;
    if (last || stop || (step > start.step && cfg.checkpointEvery > 0 && step % cfg.checkpointEvery === 0)) {
      await settle();
      await hooks.saveCheckpoint(step, { ...state });
      resetWindow();
    }
    if (last || stop) return { ...state, stopped: stop && !last };

    const micro: MicroBatch[] = [];
    for (let i = 0; i < cfg.gradAccumSteps; i++) micro.push(await hooks.nextBatch());
    const extra = hooks.batchMetrics?.() ?? {};
    const lrm = lrMultiplier(step, schedule);
    const momentum = cfg.fixedMomentum ?? muonMomentum(step);
    const { result } = hooks.submitStep ? await hooks.submitStep(micro, lrm, momentum) : await submitTrainStep(model, opt, micro, lrm, momentum);
    result.catch(() => {}); // surfaced by settle()
    await settle(); // the previous step's loss, read while this one computes
    pending = { step, result, lrm, extra };
  }
  await settle();
  return { ...state, stopped: false };
}
