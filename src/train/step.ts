// One optimizer step recorded as few submits as possible: zero grads, then for each
// micro-batch forward + backward (gradients accumulate), then gradient norm/clip and
// the optimizer updates. Losses are read back after the last submit, so the host never
// waits on the GPU between micro-batches.
import { throwIfUncaptured } from "../gpu/errors.ts";
import { type Op, runOps } from "../gpu/kernel.ts";
import { readBuffer } from "../gpu/tensor.ts";
import type { GPT } from "../model/gpt.ts";
import type { ModelOptimizer } from "../optim/optimizer.ts";

export interface MicroBatch {
  inputs: Int32Array;
  targets: Int32Array;
  /** Each target's weight in the loss (RL: its sample's advantage); default 1. */
  weights?: Float32Array;
}

export interface StepResult {
  /** Mean loss over the micro-batches. */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
}

export interface StepOptions {
  /**
   * Ops around the micro-batches (quantisation-aware training, src/train/qat.ts): `before`
   * ahead of the first forward, `after` behind the last backward, ahead of the optimizer.
   * Not recorded when no micro-batch carries loss.
   */
  around?: { before: Op[]; after: Op[] };
}

/** Whether any target of the micro-batch carries loss (a target ≥ 0 whose weight is not 0). */
function carriesLoss(m: MicroBatch): boolean {
  for (let i = 0; i < m.targets.length; i++) if (m.targets[i] >= 0 && (!m.weights || m.weights[i] !== 0)) return true;
  return false;
}

/**
 * Submits one step — each micro-batch needs its own submit, since its tokens are
 * uploaded with queue writes that must land between them — and resolves once everything
 * is submitted (not computed). The returned promise resolves to the loss and gradient
 * norm when the GPU is done; the copies that read them are queued right behind the
 * step, so the next step can be submitted before anyone awaits it.
 *
 * A micro-batch where no target carries loss (RL: a problem whose samples all scored the
 * same, so every advantage is 0) adds exactly zero to the gradient and the loss, so its
 * forward and backward are not run; the others keep the 1/micro-batches scale, and the
 * optimizer still steps when every micro-batch is skipped, as it would on a zero gradient.
 */
export async function submitTrainStep(
  model: GPT, opt: ModelOptimizer, micro: MicroBatch[], lrMultiplier: number, momentum: number, opts: StepOptions = {},
): Promise<{ result: Promise<StepResult> }> {
  const gpu = model.gpu;
  const losses: Promise<ArrayBuffer>[] = [];
  const live = micro.map(carriesLoss);
  const lastLive = live.lastIndexOf(true);
  // The first step runs checked (error scopes name the failing op); later ones are not,
  // so the host can prepare the next step while this one computes.
  const checked = opt.adamw.step <= 1;
  let pending: Op[] = [...model.zeroGradOps, ...(lastLive >= 0 ? opts.around?.before ?? [] : [])];
  for (let i = 0; i < micro.length; i++) {
    if (!live[i]) continue;
    model.setBatch(micro[i].inputs, micro[i].targets, { gradScale: 1 / micro.length, weights: micro[i].weights });
    const ops = [...pending, ...model.forwardOps, ...model.backwardOps];
    pending = [];
    if (i === lastLive) {
      opt.prepareStep(lrMultiplier, momentum);
      ops.push(...(opts.around?.after ?? []), ...opt.ops);
    }
    await runOps(gpu, ops, `train step (micro-batch ${i + 1}/${micro.length})`, { checked });
    // Queue the copy of the loss right behind its submit, before the next micro-batch overwrites it.
    losses.push(readBuffer(gpu, model.acts.loss.buffer, 0, 4));
  }
  if (lastLive < 0) {
    opt.prepareStep(lrMultiplier, momentum);
    await runOps(gpu, [...pending, ...opt.ops], "train step (no micro-batch carries loss)", { checked });
  }
  const norm = opt.gradNorm.readNorm();
  // Wrapped in an object: a promise returned from an async function would be flattened.
  return {
    result: (async () => {
      const values = await Promise.all(losses);
      throwIfUncaptured(gpu, "train step");
      const loss = values.reduce((s, b) => s + new Float32Array(b)[0], 0) / micro.length;
      return { loss, gradNorm: await norm };
    })(),
  };
}

/** Submits one step and waits for its loss. */
export async function trainStep(
  model: GPT, opt: ModelOptimizer, micro: MicroBatch[], lrMultiplier: number, momentum: number, opts: StepOptions = {},
): Promise<StepResult> {
  return await (await submitTrainStep(model, opt, micro, lrMultiplier, momentum, opts)).result;
}
