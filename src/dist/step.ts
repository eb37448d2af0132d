// One data-parallel optimizer step, seen from rank 0 (the coordinator). The step's
// micro-batches are the ones a world-1 run with W× the accumulation would take, in the same
// order; rank r computes the r-th contiguous share of them, each scaled by 1/(all
// micro-batches), so every rank's gradient is its part of the one mean. Rank 0 then sums
// the ranks' gradients in rank order (fixed, so a run is reproducible), runs the gradient
// norm, clip and optimizer on the sum, and sends the new weights to every rank.
//
// Why the update runs once, on rank 0, instead of on every rank (or sharded as the
// reference's DistAdamW/DistMuon): the ranks then hold no optimizer state, a checkpoint is
// rank 0's alone and resumes at any world size, and the bytes moved are the same as an
// all-reduce's (one gradient up, one set of weights down per rank). Sharding the optimizer
// would split Muon's work too; at the sizes a software adapter trains, the exchange, not
// the optimizer, is what grows with W (docs/distributed.md has the measured costs).
import { runOps } from "../gpu/kernel.ts";
import { writeTensor } from "../gpu/tensor.ts";
import { type GPTConfig, paramShapes } from "../model/config.ts";
import type { GPT } from "../model/gpt.ts";
import type { ModelOptimizer } from "../optim/optimizer.ts";
import { readBuffer } from "../gpu/tensor.ts";

export interface WorldMicroBatch {
  inputs: Int32Array;
  targets: Int32Array;
  weights?: Float32Array;
}

/** The other ranks, as rank 0 reaches them (child processes under Deno; fakes in tests). */
export interface RemoteRanks {
  /** Ranks in the world, rank 0 included. */
  readonly size: number;
  /** Rank r (≥ 1) computes these micro-batches' gradients at `scale`; resolves to its flat gradient and losses. */
  gradients(rank: number, micro: WorldMicroBatch[], scale: number): Promise<{ grads: Float32Array; losses: number[] }>;
  /** Every rank ≥ 1 loads these weights (flat, paramShapes order). */
  broadcastWeights(flat: Float32Array): Promise<void>;
}

/**
 * Where rank 0's step time went (seconds), for `bench dist`: its own compute (forward,
 * backward, optimizer), waiting for the other ranks' gradients beyond that, and the
 * exchange proper (gradients read back, summed and uploaded; the new weights read back and sent).
 */
export interface ExchangeTiming {
  compute: number;
  wait: number;
  exchange: number;
}

/** Tensors of a model by nanochat name, flattened in paramShapes order. */
export function flatten(cfg: GPTConfig, values: Map<string, Float32Array>): Float32Array {
  const shapes = paramShapes(cfg);
  const out = new Float32Array(shapes.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0));
  let off = 0;
  for (const { name } of shapes) {
    const v = values.get(name);
    if (!v) throw new Error(`flatten: no tensor ${name}`);
    out.set(v, off);
    off += v.length;
  }
  return out;
}

export function unflatten(cfg: GPTConfig, flat: Float32Array): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  let off = 0;
  for (const { name, shape } of paramShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    out.set(name, flat.subarray(off, off + n));
    off += n;
  }
  if (off !== flat.length) throw new RangeError(`unflatten: ${flat.length} values for a model of ${off}`);
  return out;
}

/** Which contiguous share of a step's micro-batches rank r computes. */
export function shareOf(count: number, world: number, rank: number): [number, number] {
  if (count % world !== 0) throw new RangeError(`${count} micro-batches do not split evenly over ${world} ranks`);
  const k = count / world;
  return [rank * k, (rank + 1) * k];
}

/** Rank 0's gradients of its share: zeroed, then each micro-batch's forward + backward at `scale`. */
async function localGradients(model: GPT, micro: WorldMicroBatch[], scale: number): Promise<number[]> {
  const losses: Promise<ArrayBuffer>[] = [];
  for (let i = 0; i < micro.length; i++) {
    model.setBatch(micro[i].inputs, micro[i].targets, { gradScale: scale, weights: micro[i].weights });
    await runOps(model.gpu, [...(i === 0 ? model.zeroGradOps : []), ...model.forwardOps, ...model.backwardOps], `rank 0: micro-batch ${i + 1}/${micro.length}`);
    losses.push(readBuffer(model.gpu, model.acts.loss.buffer, 0, 4));
  }
  return (await Promise.all(losses)).map((b) => new Float32Array(b)[0]);
}

/**
 * The whole step (see the header); resolves when every rank holds the new weights. The loss
 * is the mean over all micro-batches, in world-1 order.
 */
export async function worldStep(
  ranks: RemoteRanks, model: GPT, opt: ModelOptimizer, micro: WorldMicroBatch[], lrMultiplier: number, momentum: number, timing?: ExchangeTiming,
): Promise<{ loss: number; gradNorm: number }> {
  const W = ranks.size, scale = 1 / micro.length;
  const t0 = performance.now();
  const remote = [];
  for (let r = 1; r < W; r++) {
    const [a, b] = shareOf(micro.length, W, r);
    remote.push(ranks.gradients(r, micro.slice(a, b), scale));
  }
  remote.forEach((p) => p.catch(() => {})); // awaited below; a failure is reported once, there
  const [a0, b0] = shareOf(micro.length, W, 0);
  const losses = await localGradients(model, micro.slice(a0, b0), scale);
  const t1 = performance.now();
  const sum = flatten(model.cfg, await model.readGrads());
  const t1a = performance.now();
  const results = await Promise.all(remote);
  const t2 = performance.now();
  // Rank order, one float32 add at a time (a Float32Array stores each sum rounded).
  for (const { grads } of results) {
    if (grads.length !== sum.length) throw new RangeError(`a rank sent ${grads.length} gradient values, expected ${sum.length}`);
    for (let i = 0; i < sum.length; i++) sum[i] += grads[i];
  }
  for (const [name, g] of unflatten(model.cfg, sum)) writeTensor(model.grads.get(name)!, g);
  const t3 = performance.now();
  opt.prepareStep(lrMultiplier, momentum);
  await runOps(model.gpu, opt.ops, "optimizer step (rank 0)");
  const gradNorm = await opt.gradNorm.readNorm();
  const t4 = performance.now();
  await ranks.broadcastWeights(flatten(model.cfg, await model.readParams()));
  const t5 = performance.now();
  if (timing) {
    timing.compute += (t1 - t0 + t4 - t3) / 1000;
    timing.wait += (t2 - t1a) / 1000;
    timing.exchange += (t1a - t1 + t3 - t2 + t5 - t4) / 1000;
  }
  const all = [...losses, ...results.flatMap((r) => r.losses)];
  return { loss: all.reduce((s, l) => s + l, 0) / all.length, gradNorm };
}
