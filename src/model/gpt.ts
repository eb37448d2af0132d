// nanochat's GPT on WebGPU: parameters under nanochat's names, and a forward and a
// backward composed explicitly from the kernels' ops (as llm.c does; no autograd).
//
//   x = rmsnorm(wte[idx]);  per block: x += attn(rmsnorm(x)); x += mlp(rmsnorm(x))
//   logits = 15·tanh(lm_head(rmsnorm(x)) / 15);  loss = CE(logits, targets), −1 ignored
//   attn: q,k,v = linear; rotary on q,k; RMS-norm q,k over head_dim; causal GQA SDPA; c_proj
//   mlp:  c_proj(relu(c_fc(x))²)
//
// All ops are bound once for a fixed (B, T); a step records forward (+ backward) into
// one compute pass and one submit. The loss is read back separately, so callers can
// overlap it with the next step.
//
// With a KV cache (generation) the same forward writes each layer's new keys and values
// into the cache at the current position and attends over everything cached so far;
// setPosition() moves rotary, the cache writes and attention's key count together.
import type { Gpu } from "../gpu/device.ts";
import type { Op } from "../gpu/kernel.ts";
import { runOps } from "../gpu/kernel.ts";
import { createTensor, readF32, type Tensor, writeTensor } from "../gpu/tensor.ts";
import { attentionBackwardOps, attentionForwardOp, type AttentionForwardOp } from "../nn/attention.ts";
import { LmHeadLoss, softcapOp } from "../nn/cross_entropy.ts";
import { addOp, fillOp, relu2BackwardOp, relu2ForwardOp } from "../nn/elementwise.ts";
import { EmbeddingBackward, embeddingForwardOp } from "../nn/embedding.ts";
import { type MatmulOp, matmulOp } from "../nn/matmul.ts";
import { rmsnormBackwardOp, rmsnormForwardOp } from "../nn/norm.ts";
import { type KvAppendOp, kvAppendOp } from "../nn/kv_cache.ts";
import { rotaryOp, type RotaryOp } from "../nn/rotary.ts";
import { activationBytes, type Activations, allocateActivations } from "./activations.ts";
import { type GPTConfig, paramShapes } from "./config.ts";
import type { KVCache } from "./kv_cache.ts";
import { checkModelFits } from "./limits.ts";
import { rotaryTables } from "./params.ts";

export interface GPTOptions {
  B: number;
  T: number;
  /** Allocate gradients and build the backward. */
  training?: boolean;
  /** Rows of logits per lm_head chunk (memory vs dispatch count). */
  lossChunkRows?: number;
  /**
   * Use these parameter tensors instead of allocating new ones (e.g. a B=1 sampler that
   * reads the training model's weights as they train). They are not destroyed with this model.
   */
  sharedParams?: Map<string, Tensor>;
  /**
   * Generation: keys/values go to (and attention reads from) this cache, for its first B
   * rows, at the position set by setPosition(). Forward only.
   */
  kvCache?: KVCache;
}

const layerName = (l: number, rest: string) => `transformer.h.${l}.${rest}`;

/** Uploads parameters by nanochat name (float32, PyTorch (out, in) layout) into cfg's tensors. */
export function writeParams(params: Map<string, Tensor>, cfg: GPTConfig, values: Map<string, Float32Array>, where = "loadParams"): void {
  for (const { name, shape } of paramShapes(cfg)) {
    const v = values.get(name), t = params.get(name);
    if (!v) throw new Error(`${where}: missing ${name}`);
    if (!t) throw new Error(`${where}: no tensor for ${name}`);
    const n = shape.reduce((x, y) => x * y, 1);
    if (v.length !== n) throw new Error(`${where}: ${name} has ${v.length} values, expected ${n} (${shape.join("×")})`);
    writeTensor(t, v);
  }
}

export class GPT {
  readonly params = new Map<string, Tensor>();
  readonly grads = new Map<string, Tensor>();
  readonly forwardOps: Op[] = [];
  readonly backwardOps: Op[] = [];
  readonly zeroGradOps: Op[] = [];
  private embBackward: EmbeddingBackward | null = null;
  /** lm_head + loss with gradients (training) — runs at the head of the backward. */
  private lmLoss!: LmHeadLoss;
  /** lm_head + loss without gradients, for evaluation (the same object when not training). */
  private evalLoss!: LmHeadLoss;
  /** Softcapped logits of chosen rows (one per sequence): (B, V). */
  private logitsHead: { out: Tensor; matmul: MatmulOp; softcap: Op } | null = null;
  /** The ops that depend on the position in a KV cache (empty without one). */
  private positional: { rotary: RotaryOp[]; append: KvAppendOp[]; attention: AttentionForwardOp[] } = { rotary: [], append: [], attention: [] };
  readonly kvCache: KVCache | null;
  private rope!: { cos: Tensor; sin: Tensor };
  readonly acts: Activations;
  private ownsParams = true;

  private constructor(
    readonly gpu: Gpu, readonly cfg: GPTConfig, readonly B: number, readonly T: number, readonly training: boolean, kvCache?: KVCache,
  ) {
    this.kvCache = kvCache ?? null;
    this.acts = allocateActivations(gpu, cfg, B, T, training);
  }

  static async create(gpu: Gpu, cfg: GPTConfig, opts: GPTOptions): Promise<GPT> {
    checkModelFits(gpu, cfg, opts);
    if (opts.kvCache && opts.training) throw new Error("GPT.create: a KV cache is for generation; it cannot be combined with training");
    if (opts.kvCache && (opts.kvCache.rows < opts.B || opts.kvCache.capacity < opts.T)) {
      throw new RangeError(`GPT.create: a KV cache of ${opts.kvCache.rows} rows × ${opts.kvCache.capacity} positions cannot hold B=${opts.B} T=${opts.T}`);
    }
    const model = new GPT(gpu, cfg, opts.B, opts.T, !!opts.training, opts.kvCache);
    model.ownsParams = !opts.sharedParams;
    for (const { name, shape } of paramShapes(cfg)) {
      const shared = opts.sharedParams?.get(name);
      if (opts.sharedParams && (!shared || shared.size !== shape.reduce((a, b) => a * b, 1))) {
        throw new Error(`sharedParams: ${name} is missing or has the wrong size`);
      }
      model.params.set(name, shared ?? createTensor(gpu, shape, "f32", name));
      if (model.training) model.grads.set(name, createTensor(gpu, shape, "f32", `grad:${name}`));
    }
    const hd = cfg.n_embd / cfg.n_head;
    const tables = rotaryTables(cfg.sequence_len, hd);
    model.rope = {
      cos: createTensor(gpu, [cfg.sequence_len, hd / 2], "f32", "rope.cos"),
      sin: createTensor(gpu, [cfg.sequence_len, hd / 2], "f32", "rope.sin"),
    };
    writeTensor(model.rope.cos, tables.cos);
    writeTensor(model.rope.sin, tables.sin);
    await model.buildForward(opts.lossChunkRows);
    if (model.training) await model.buildBackward();
    return model;
  }

  private p(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) throw new Error(`no parameter ${name}`);
    return t;
  }

  private g(name: string): Tensor {
    const t = this.grads.get(name);
    if (!t) throw new Error(`no gradient for ${name}`);
    return t;
  }

  private async buildForward(lossChunkRows?: number): Promise<void> {
    const { gpu, cfg, B, T, acts: a } = this;
    const N = B * T, C = cfg.n_embd, H = cfg.n_head, Hkv = cfg.n_kv_head, hd = C / H, F = 4 * C, V = cfg.vocab_size;
    const ops = this.forwardOps;
    ops.push(await embeddingForwardOp(gpu, { idx: a.idx, wte: this.p("transformer.wte.weight"), out: a.emb }, N, V, C));
    ops.push(await rmsnormForwardOp(gpu, { x: a.emb, y: a.x0, rstd: a.rstd0 }, N, C, "norm(emb)"));
    let x = a.x0;
    for (let l = 0; l < cfg.n_layer; l++) {
      const L = a.layers[l];
      const w = (n: string) => this.p(layerName(l, n));
      ops.push(await rmsnormForwardOp(gpu, { x, y: L.xn1, rstd: L.rstd1 }, N, C, `h${l}.norm1`));
      ops.push(await matmulOp(gpu, L.xn1, w("attn.c_q.weight"), L.qRot, { M: N, N: H * hd, K: C }, { transB: true, label: `h${l}.c_q` }));
      ops.push(await matmulOp(gpu, L.xn1, w("attn.c_k.weight"), L.kRot, { M: N, N: Hkv * hd, K: C }, { transB: true, label: `h${l}.c_k` }));
      ops.push(await matmulOp(gpu, L.xn1, w("attn.c_v.weight"), L.v, { M: N, N: Hkv * hd, K: C }, { transB: true, label: `h${l}.c_v` }));
      const rotQ = await rotaryOp(gpu, L.qRot, this.rope, { B, T, heads: H, hd }, false, `h${l}.rotary_q`);
      const rotK = await rotaryOp(gpu, L.kRot, this.rope, { B, T, heads: Hkv, hd }, false, `h${l}.rotary_k`);
      ops.push(rotQ, rotK);
      ops.push(await rmsnormForwardOp(gpu, { x: L.qRot, y: L.q, rstd: L.rstdQ }, N * H, hd, `h${l}.qk_norm_q`));
      ops.push(await rmsnormForwardOp(gpu, { x: L.kRot, y: L.k, rstd: L.rstdK }, N * Hkv, hd, `h${l}.qk_norm_k`));
      if (this.kvCache) {
        const cache = this.kvCache, kv = cache.layer(l, B), layout = { B, T, width: cache.width, capacity: cache.capacity };
        const appends = [await kvAppendOp(gpu, L.k, kv.k, layout, `h${l}.kv_append_k`), await kvAppendOp(gpu, L.v, kv.v, layout, `h${l}.kv_append_v`)];
        const attn = await attentionForwardOp(gpu, { q: L.q, k: kv.k, v: kv.v, o: L.y, lse: L.lse }, { B, T, H, Hkv, hd, Tk: T, kvRows: cache.capacity });
        ops.push(...appends, attn);
        this.positional.rotary.push(rotQ, rotK);
        this.positional.append.push(...appends);
        this.positional.attention.push(attn);
      } else {
        ops.push(await attentionForwardOp(gpu, { q: L.q, k: L.k, v: L.v, o: L.y, lse: L.lse }, { B, T, H, Hkv, hd }));
      }
      ops.push(await matmulOp(gpu, L.y, w("attn.c_proj.weight"), a.proj, { M: N, N: C, K: C }, { transB: true, label: `h${l}.attn.c_proj` }));
      ops.push(await addOp(gpu, x, a.proj, L.xMid, N * C, `h${l}.residual_attn`));
      ops.push(await rmsnormForwardOp(gpu, { x: L.xMid, y: L.xn2, rstd: L.rstd2 }, N, C, `h${l}.norm2`));
      ops.push(await matmulOp(gpu, L.xn2, w("mlp.c_fc.weight"), L.hPre, { M: N, N: F, K: C }, { transB: true, label: `h${l}.c_fc` }));
      ops.push(await relu2ForwardOp(gpu, L.hPre, L.hAct, N * F, `h${l}.relu2`));
      ops.push(await matmulOp(gpu, L.hAct, w("mlp.c_proj.weight"), a.proj, { M: N, N: C, K: F }, { transB: true, label: `h${l}.mlp.c_proj` }));
      ops.push(await addOp(gpu, L.xMid, a.proj, L.xOut, N * C, `h${l}.residual_mlp`));
      x = L.xOut;
    }
    ops.push(await rmsnormForwardOp(gpu, { x, y: a.xf, rstd: a.rstdF }, N, C, "norm_f"));
    const head = { x: a.xf, w: this.p("lm_head.weight"), targets: a.targets, losses: a.losses, loss: a.loss };
    this.evalLoss = await LmHeadLoss.create(gpu, head, { N, C, V }, { chunkRows: lossChunkRows });
    this.lmLoss = this.training
      ? await LmHeadLoss.create(gpu, { ...head, dx: a.grads!.dXn, dw: this.g("lm_head.weight") }, { N, C, V }, { chunkRows: lossChunkRows })
      : this.evalLoss;
  }

  private async buildBackward(): Promise<void> {
    const { gpu, cfg, B, T, acts: a } = this;
    const N = B * T, C = cfg.n_embd, H = cfg.n_head, Hkv = cfg.n_kv_head, hd = C / H, F = 4 * C, V = cfg.vocab_size;
    const d = a.grads!;
    const ops = this.backwardOps;
    for (const [name, g] of this.grads) this.zeroGradOps.push(await fillOp(gpu, g, 0, g.size, `zero_grad ${name}`));
    ops.push(...this.lmLoss.ops); // loss, dxf → d.dXn, dlm_head
    const xLast = cfg.n_layer ? a.layers[cfg.n_layer - 1].xOut : a.x0;
    ops.push(await rmsnormBackwardOp(gpu, { x: xLast, rstd: a.rstdF, dy: d.dXn, dx: d.dRes }, N, C, { label: "norm_f" }));
    for (let l = cfg.n_layer - 1; l >= 0; l--) {
      const L = a.layers[l];
      const xIn = l === 0 ? a.x0 : a.layers[l - 1].xOut;
      const w = (n: string) => this.p(layerName(l, n));
      const g = (n: string) => this.g(layerName(l, n));
      // MLP: xOut = xMid + c_proj(relu²(c_fc(norm(xMid))))
      ops.push(await matmulOp(gpu, d.dRes, w("mlp.c_proj.weight"), d.dH, { M: N, N: F, K: C }, { label: `h${l}.mlp.c_proj.dx` }));
      ops.push(await matmulOp(gpu, d.dRes, L.hAct, g("mlp.c_proj.weight"), { M: C, N: F, K: N }, { transA: true, accumulate: true, label: `h${l}.mlp.c_proj.dW` }));
      ops.push(await relu2BackwardOp(gpu, L.hPre, d.dH, d.dHPre, N * F, `h${l}.relu2.backward`));
      ops.push(await matmulOp(gpu, d.dHPre, w("mlp.c_fc.weight"), d.dXn, { M: N, N: C, K: F }, { label: `h${l}.c_fc.dx` }));
      ops.push(await matmulOp(gpu, d.dHPre, L.xn2, g("mlp.c_fc.weight"), { M: F, N: C, K: N }, { transA: true, accumulate: true, label: `h${l}.c_fc.dW` }));
      ops.push(await rmsnormBackwardOp(gpu, { x: L.xMid, rstd: L.rstd2, dy: d.dXn, dx: d.dRes }, N, C, { accumulate: true, label: `h${l}.norm2` }));
      // Attention: xMid = xIn + c_proj(attn(...norm(xIn)))
      ops.push(await matmulOp(gpu, d.dRes, w("attn.c_proj.weight"), d.dY, { M: N, N: C, K: C }, { label: `h${l}.attn.c_proj.dx` }));
      ops.push(await matmulOp(gpu, d.dRes, L.y, g("attn.c_proj.weight"), { M: C, N: C, K: N }, { transA: true, accumulate: true, label: `h${l}.attn.c_proj.dW` }));
      ops.push(
        ...await attentionBackwardOps(
          gpu,
          { q: L.q, k: L.k, v: L.v, o: L.y, lse: L.lse, dO: d.dY, dq: d.dQ, dk: d.dK, dv: d.dV, delta: d.delta },
          { B, T, H, Hkv, hd },
        ),
      );
      ops.push(await rmsnormBackwardOp(gpu, { x: L.qRot, rstd: L.rstdQ, dy: d.dQ, dx: d.dQRot }, N * H, hd, { label: `h${l}.qk_norm_q` }));
      ops.push(await rmsnormBackwardOp(gpu, { x: L.kRot, rstd: L.rstdK, dy: d.dK, dx: d.dKRot }, N * Hkv, hd, { label: `h${l}.qk_norm_k` }));
      ops.push(await rotaryOp(gpu, d.dQRot, this.rope, { B, T, heads: H, hd }, true, `h${l}.rotary_q`));
      ops.push(await rotaryOp(gpu, d.dKRot, this.rope, { B, T, heads: Hkv, hd }, true, `h${l}.rotary_k`));
      ops.push(await matmulOp(gpu, d.dQRot, w("attn.c_q.weight"), d.dXn, { M: N, N: C, K: H * hd }, { label: `h${l}.c_q.dx` }));
      ops.push(await matmulOp(gpu, d.dKRot, w("attn.c_k.weight"), d.dXn, { M: N, N: C, K: Hkv * hd }, { accumulate: true, label: `h${l}.c_k.dx` }));
      ops.push(await matmulOp(gpu, d.dV, w("attn.c_v.weight"), d.dXn, { M: N, N: C, K: Hkv * hd }, { accumulate: true, label: `h${l}.c_v.dx` }));
      ops.push(await matmulOp(gpu, d.dQRot, L.xn1, g("attn.c_q.weight"), { M: H * hd, N: C, K: N }, { transA: true, accumulate: true, label: `h${l}.c_q.dW` }));
      ops.push(await matmulOp(gpu, d.dKRot, L.xn1, g("attn.c_k.weight"), { M: Hkv * hd, N: C, K: N }, { transA: true, accumulate: true, label: `h${l}.c_k.dW` }));
      ops.push(await matmulOp(gpu, d.dV, L.xn1, g("attn.c_v.weight"), { M: Hkv * hd, N: C, K: N }, { transA: true, accumulate: true, label: `h${l}.c_v.dW` }));
      ops.push(await rmsnormBackwardOp(gpu, { x: xIn, rstd: L.rstd1, dy: d.dXn, dx: d.dRes }, N, C, { accumulate: true, label: `h${l}.norm1` }));
    }
    // x0 = norm(wte[idx]): into the embedding's gradient rows.
    ops.push(await rmsnormBackwardOp(gpu, { x: a.emb, rstd: a.rstd0, dy: d.dRes, dx: d.dXn }, N, C, { label: "norm(emb)" }));
    this.embBackward = await EmbeddingBackward.create(gpu, { dout: d.dXn, dwte: this.g("transformer.wte.weight") }, N, V, C);
    ops.push(this.embBackward);
  }

  /**
   * Generation: the position (in the KV cache) of this step's first row. The step writes
   * positions pos … pos+T−1 of every sequence and attends over positions 0 … pos+T−1.
   */
  setPosition(pos: number): void {
    if (!this.kvCache) throw new Error("setPosition needs a model created with a kvCache");
    if (!Number.isInteger(pos) || pos < 0 || pos + this.T > this.kvCache.capacity) {
      throw new RangeError(`setPosition: positions ${pos} … ${pos + this.T - 1} do not fit the KV cache's ${this.kvCache.capacity}`);
    }
    for (const r of this.positional.rotary) r.setPosOffset(pos);
    for (const a of this.positional.append) a.setPos(pos);
    for (const a of this.positional.attention) a.setKeyLength(pos + this.T);
  }

  /** Uploads token ids only (B·T of them), for forwards whose loss is not needed. */
  setInputs(inputs: ArrayLike<number>): void {
    const N = this.B * this.T;
    if (inputs.length !== N) throw new RangeError(`setInputs: expected ${N} ids (B=${this.B} T=${this.T}), got ${inputs.length}`);
    this.writeInputs(inputs, "setInputs");
  }

  /** Checks every id against the vocabulary, then uploads them (nothing is written when one is bad). */
  private writeInputs(inputs: ArrayLike<number>, where: string): void {
    const V = this.cfg.vocab_size;
    for (let i = 0; i < inputs.length; i++) {
      if (!(inputs[i] >= 0 && inputs[i] < V)) throw new RangeError(`${where}: input id ${inputs[i]} at ${i} is outside the vocabulary (${V})`);
    }
    writeTensor(this.acts.idx, Uint32Array.from(inputs));
  }

  /**
   * Ops computing the softcapped logits (B, V) of row t of every sequence (after
   * forwardOps), and the tensor they land in. Re-aiming (another t) keeps the same ops.
   */
  async logitsOps(t: number): Promise<{ ops: Op[]; out: Tensor }> {
    return await this.aimHead({ M: this.B, lda: this.T * this.cfg.n_embd, offA: t * this.cfg.n_embd }, `row ${t}`);
  }

  private async aimHead(a: { M: number; lda: number; offA: number }, what: string): Promise<{ ops: Op[]; out: Tensor }> {
    const { gpu, cfg, B, T } = this;
    const C = cfg.n_embd, V = cfg.vocab_size;
    if (!this.logitsHead) {
      const out = createTensor(gpu, [B, V], "f32", "logits");
      const matmul = await matmulOp(gpu, this.acts.xf, this.p("lm_head.weight"), out, { M: B, N: V, K: C }, { transB: true, label: "lm_head(logits)" });
      this.logitsHead = { out, matmul, softcap: await softcapOp(gpu, out, B, V) };
    }
    if (!(a.offA >= 0 && a.offA + (a.M - 1) * a.lda + C <= B * T * C)) throw new RangeError(`logits of ${what}: outside B·T = ${B * T} rows`);
    const h = this.logitsHead;
    h.matmul.update({ M: a.M, N: V, K: C }, { transB: true, lda: a.lda, offA: a.offA });
    return { ops: [h.matmul, h.softcap], out: h.out };
  }

  /** Uploads a batch: ids and targets (N = B·T each; targets −1 are not supervised). */
  setBatch(inputs: Int32Array | Uint32Array, targets: Int32Array, opts: { gradScale?: number } = {}): void {
    const N = this.B * this.T;
    if (inputs.length !== N || targets.length !== N) {
      throw new RangeError(`setBatch: expected ${N} inputs and targets (B=${this.B} T=${this.T}), got ${inputs.length} and ${targets.length}`);
    }
    const V = this.cfg.vocab_size;
    let supervised = 0;
    for (let i = 0; i < N; i++) {
      if (targets[i] >= V || targets[i] < -1) throw new RangeError(`setBatch: target ${targets[i]} at ${i} is outside the vocabulary (${V})`);
      if (targets[i] >= 0) supervised++;
    }
    this.writeInputs(inputs, "setBatch");
    writeTensor(this.acts.targets, targets);
    this.lmLoss.setSupervisedCount(supervised, opts.gradScale ?? 1);
    this.embBackward?.setTokens(inputs);
  }

  /** Forward only (no gradients touched); resolves to the mean loss. Per-row losses stay in acts.losses. */
  async forward(inputs: Int32Array, targets: Int32Array): Promise<number> {
    this.setBatch(inputs, targets);
    this.evalLoss.setSupervisedCount(targets.reduce((n, t) => n + (t >= 0 ? 1 : 0), 0));
    await runOps(this.gpu, [...this.forwardOps, ...this.evalLoss.ops], "GPT forward");
    return (await readF32(this.acts.loss))[0];
  }

  /** Per-row losses (nats; 0 where the target is −1) of the last forward(). */
  async readRowLosses(): Promise<Float32Array> {
    return await readF32(this.acts.losses);
  }

  /**
   * Softcapped logits (V) at flat position `row` (= b·T + t) after a forward over `inputs`.
   * Attention is causal, so positions after t do not change them: a prompt shorter than T
   * can be padded with any id.
   */
  async logitsAt(inputs: Int32Array, row: number): Promise<Float32Array> {
    if (this.kvCache) throw new Error("logitsAt recomputes the whole sequence; a model with a KV cache uses setPosition + logitsOps");
    if (!(row >= 0 && row < this.B * this.T)) throw new RangeError(`logitsAt: row ${row} is outside B·T = ${this.B * this.T}`);
    const head = await this.aimHead({ M: 1, lda: this.cfg.n_embd, offA: row * this.cfg.n_embd }, `row ${row}`);
    this.setInputs(inputs);
    await runOps(this.gpu, [...this.forwardOps, ...head.ops], "GPT logits");
    return (await readF32(head.out)).slice(0, this.cfg.vocab_size);
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

  async readParams(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [name, t] of this.params) out.set(name, await readF32(t));
    return out;
  }

  async readGrads(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [name, t] of this.grads) out.set(name, await readF32(t));
    return out;
  }

  get dispatchCount(): { forward: number; backward: number } {
    return { forward: this.forwardOps.length, backward: this.backwardOps.length + this.zeroGradOps.length };
  }

  /** Bytes held on the GPU by parameters, gradients, activations and scratch. */
  get bufferBytes(): { params: number; grads: number; activations: number } {
    const sum = (m: Map<string, Tensor>) => [...m.values()].reduce((s, t) => s + t.buffer.size, 0);
    return { params: sum(this.params), grads: sum(this.grads), activations: activationBytes(this.acts) + this.lmLoss.logits.buffer.size };
  }

  destroy(): void {
    for (const t of [...(this.ownsParams ? this.params.values() : []), ...this.grads.values(), this.rope.cos, this.rope.sin]) t.destroy();
    this.acts.destroy();
    this.lmLoss.destroy();
    if (this.evalLoss !== this.lmLoss) this.evalLoss.destroy();
    this.logitsHead?.out.destroy();
    this.embBackward?.destroy();
  }
}
