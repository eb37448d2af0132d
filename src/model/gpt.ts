// nanochat's GPT on WebGPU for training and evaluation: parameters under nanochat's names,
// the trunk's forward and backward (block.ts) and the loss head
//   logits = 15·tanh(lm_head(xf) / 15);  loss = CE(logits, targets), −1 ignored
// composed explicitly from the kernels' ops (as llm.c does; no autograd).
//
// All ops are bound once for a fixed (B, T); a step records forward (+ backward) into
// one compute pass and one submit. The loss is read back separately, so callers can
// overlap it with the next step. Generation (logits at a position, the KV cache) is the
// same trunk without a loss: inference.ts.
import type { Gpu } from "../gpu/device.ts";
import type { Op } from "../gpu/kernel.ts";
import { runOps } from "../gpu/kernel.ts";
import { createTensor, readF32, type Tensor, writeTensor } from "../gpu/tensor.ts";
import { LmHeadLoss } from "../nn/cross_entropy.ts";
import { fillOp } from "../nn/elementwise.ts";
import type { EmbeddingBackward } from "../nn/embedding.ts";
import { activationBytes, type Activations, allocateActivations } from "./activations.ts";
import { type Trunk, trunkBackwardOps, trunkForwardOps } from "./block.ts";
import { type GPTConfig, paramShapes } from "./config.ts";
import { checkModelFits } from "./limits.ts";
import { createParamTensors, createRope, readTensors, writeParams } from "./tensors.ts";

export interface GPTOptions {
  B: number;
  T: number;
  /** Allocate gradients and build the backward. */
  training?: boolean;
  /** Rows of logits per lm_head chunk (memory vs dispatch count). */
  lossChunkRows?: number;
}

/** Checks that ids are in the vocabulary (nothing is written when one is not). */
export function checkTokenIds(ids: ArrayLike<number>, V: number, where: string): void {
  for (let i = 0; i < ids.length; i++) {
    if (!(ids[i] >= 0 && ids[i] < V)) throw new RangeError(`${where}: input id ${ids[i]} at ${i} is outside the vocabulary (${V})`);
  }
}

export class GPT {
  readonly params: Map<string, Tensor>;
  readonly grads = new Map<string, Tensor>();
  readonly forwardOps: Op[] = [];
  readonly backwardOps: Op[] = [];
  readonly zeroGradOps: Op[] = [];
  readonly acts: Activations;
  private embBackward: EmbeddingBackward | null = null;
  /** lm_head + loss: lossOps after the forward; trainOps (with gradients) head the backward. */
  private head!: LmHeadLoss;
  private rope: ReturnType<typeof createRope>;
  /** Whether acts.lossWeights holds anything but ones (the last batch had weights). */
  private weighted = true;

  private constructor(readonly gpu: Gpu, readonly cfg: GPTConfig, readonly B: number, readonly T: number, readonly training: boolean) {
    this.params = createParamTensors(gpu, cfg);
    if (training) for (const { name, shape } of paramShapes(cfg)) this.grads.set(name, createTensor(gpu, shape, "f32", `grad:${name}`));
    this.acts = allocateActivations(gpu, cfg, B, T, training);
    this.rope = createRope(gpu, cfg);
  }

  static async create(gpu: Gpu, cfg: GPTConfig, opts: GPTOptions): Promise<GPT> {
    checkModelFits(gpu, cfg, opts);
    const model = new GPT(gpu, cfg, opts.B, opts.T, !!opts.training);
    const trunk: Trunk = {
      gpu, cfg, B: model.B, T: model.T, acts: model.acts, rope: model.rope,
      param: (name) => model.params.get(name) ?? missing("parameter", name),
      grad: (name) => model.grads.get(name) ?? missing("gradient", name),
    };
    const a = model.acts, N = model.B * model.T, C = cfg.n_embd, V = cfg.vocab_size;
    model.forwardOps.push(...await trunkForwardOps(trunk));
    const head = { x: a.xf, w: trunk.param("lm_head.weight"), targets: a.targets, weights: a.lossWeights, losses: a.losses, loss: a.loss };
    const grads = model.training ? { dx: a.grads!.dXn, dw: trunk.grad("lm_head.weight") } : {};
    model.head = await LmHeadLoss.create(gpu, { ...head, ...grads }, { N, C, V }, { chunkRows: opts.lossChunkRows });
    if (model.training) {
      for (const [name, g] of model.grads) model.zeroGradOps.push(await fillOp(gpu, { out: g }, { n: g.size }, { value: 0, label: `zero_grad ${name}` }));
      const back = await trunkBackwardOps(trunk);
      model.backwardOps.push(...model.head.trainOps, ...back.ops); // loss, d xf → d.dXn, dlm_head; then the trunk
      model.embBackward = back.embedding;
    }
    return model;
  }

  /**
   * Uploads a batch: ids and targets (N = B·T each; targets −1 are not supervised), and
   * optionally each target's weight in the loss (RL's advantages; default 1).
   */
  setBatch(inputs: Int32Array | Uint32Array, targets: Int32Array, opts: { gradScale?: number; weights?: Float32Array } = {}): void {
    const N = this.B * this.T;
    if (inputs.length !== N || targets.length !== N) {
      throw new RangeError(`setBatch: expected ${N} inputs and targets (B=${this.B} T=${this.T}), got ${inputs.length} and ${targets.length}`);
    }
    if (opts.weights) {
      if (opts.weights.length !== N) throw new RangeError(`setBatch: expected ${N} loss weights, got ${opts.weights.length}`);
      const bad = opts.weights.findIndex((w) => !Number.isFinite(w));
      if (bad >= 0) throw new RangeError(`setBatch: loss weight ${opts.weights[bad]} at ${bad} is not finite`);
    }
    const V = this.cfg.vocab_size;
    let supervised = 0;
    for (let i = 0; i < N; i++) {
      if (targets[i] >= V || targets[i] < -1) throw new RangeError(`setBatch: target ${targets[i]} at ${i} is outside the vocabulary (${V})`);
      if (targets[i] >= 0) supervised++;
    }
    checkTokenIds(inputs, V, "setBatch");
    writeTensor(this.acts.idx, Uint32Array.from(inputs));
    writeTensor(this.acts.targets, targets);
    if (opts.weights) writeTensor(this.acts.lossWeights, opts.weights);
    else if (this.weighted) writeTensor(this.acts.lossWeights, new Float32Array(N).fill(1));
    this.weighted = !!opts.weights;
    this.head.setSupervisedCount(supervised, opts.gradScale ?? 1);
    this.embBackward?.setTokens(inputs);
  }

  /** Forward only (no gradients touched); resolves to the mean loss. Per-row losses stay in acts.losses. */
  async forward(inputs: Int32Array, targets: Int32Array): Promise<number> {
    this.setBatch(inputs, targets);
    await runOps(this.gpu, [...this.forwardOps, ...this.head.lossOps], "GPT forward");
    return (await readF32(this.acts.loss))[0];
  }

  /** Per-row losses (nats; 0 where the target is −1) of the last forward(). */
  async readRowLosses(): Promise<Float32Array> {
    return await readF32(this.acts.losses);
  }

  /** Zeroes the gradients, runs forward + backward, and resolves to the loss. */
  async forwardBackward(inputs: Int32Array, targets: Int32Array): Promise<number> {
    if (!this.training) throw new Error("forwardBackward needs a model created with training: true");
    this.setBatch(inputs, targets);
    await runOps(this.gpu, [...this.zeroGradOps, ...this.forwardOps, ...this.backwardOps], "GPT forward+backward");
    return (await readF32(this.acts.loss))[0];
  }

  /** Uploads parameters by nanochat name (float32, PyTorch (out, in) layout). */
  loadParams(values: Map<string, Float32Array>): void {
    writeParams(this.params, this.cfg, values);
  }

  readParams(): Promise<Map<string, Float32Array>> {
    return readTensors(this.params);
  }

  readGrads(): Promise<Map<string, Float32Array>> {
    return readTensors(this.grads);
  }

  get dispatchCount(): { forward: number; backward: number } {
    return { forward: this.forwardOps.length, backward: this.backwardOps.length + this.zeroGradOps.length };
  }

  /** Bytes held on the GPU by parameters, gradients, activations and the logits chunk. */
  get bufferBytes(): { params: number; grads: number; activations: number } {
    const sum = (m: Map<string, Tensor>) => [...m.values()].reduce((s, t) => s + t.buffer.size, 0);
    return { params: sum(this.params), grads: sum(this.grads), activations: activationBytes(this.acts) + this.head.logits.buffer.size };
  }

  destroy(): void {
    for (const t of [...this.params.values(), ...this.grads.values()]) t.destroy();
    this.rope.destroy();
    this.acts.destroy();
    this.head.destroy();
    this.embBackward?.destroy();
  }
}

function missing(what: string, name: string): never {
  throw new Error(`no ${what} ${name}`);
}
