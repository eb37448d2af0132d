// The GPT's forward for generation: the same trunk as training (block.ts) over weights
// owned elsewhere (the engine's, or a training model's as they train), ending in the
// softcapped logits of chosen rows instead of a loss.
//
// With a KV cache, each layer writes its new keys and values into the cache at the
// current position and attends over everything cached so far; setPosition() moves
// rotary, the cache writes and attention's key count together. Without one, logitsAt()
// recomputes the whole sequence (the training loop's greedy samples; tests).
import type { Gpu } from "../gpu/device.ts";
import type { Op } from "../gpu/kernel.ts";
import { runOps } from "../gpu/kernel.ts";
import { createTensor, readF32, type Tensor, writeTensor } from "../gpu/tensor.ts";
import { softcapOp } from "../nn/cross_entropy.ts";
import { type MatmulOp, matmulOp } from "../nn/matmul.ts";
import { mxfp4MatmulOp, type Mxfp4MatmulOp, type Mxfp4Tensors } from "../nn/mxfp4.ts";
import { type Activations, allocateActivations } from "./activations.ts";
import { type PositionalOps, trunkForwardOps } from "./block.ts";
import { type GPTConfig, paramShapes } from "./config.ts";
import { checkTokenIds } from "./gpt.ts";
import type { KVCache } from "./kv_cache.ts";
import { checkModelFits } from "./limits.ts";
import { createRope } from "./tensors.ts";

export interface InferenceOptions {
  B: number;
  T: number;
  /** Keys/values go to (and attention reads from) this cache, for its first B rows, at the position set by setPosition(). */
  kvCache?: KVCache;
  /**
   * Matrices kept in MXFP4 (an MXFP4 inference copy): the linear layers and the logits
   * multiply by them directly, and `params` need not hold them. The embedding is a lookup
   * and stays float32.
   */
  quantized?: Map<string, Mxfp4Tensors>;
}

export class InferenceGPT {
  readonly forwardOps: Op[] = [];
  readonly acts: Activations;
  readonly kvCache: KVCache | null;
  private readonly positional: PositionalOps = { rotary: [], append: [], attention: [] };
  private rope: ReturnType<typeof createRope>;
  /** Softcapped logits of chosen rows (one per sequence): (B, V). */
  private logitsHead: { out: Tensor; matmul: MatmulOp | Mxfp4MatmulOp; softcap: Op } | null = null;

  private constructor(
    readonly gpu: Gpu, readonly cfg: GPTConfig, readonly params: Map<string, Tensor>, readonly B: number, readonly T: number,
    kvCache?: KVCache, private readonly quantized = new Map<string, Mxfp4Tensors>(),
  ) {
    this.kvCache = kvCache ?? null;
    this.acts = allocateActivations(gpu, cfg, B, T, false);
    this.rope = createRope(gpu, cfg);
  }

  /** A forward over `params` (nanochat names; not destroyed with this model). */
  static async create(gpu: Gpu, cfg: GPTConfig, params: Map<string, Tensor>, opts: InferenceOptions): Promise<InferenceGPT> {
    checkModelFits(gpu, cfg, opts);
    const cache = opts.kvCache;
    if (cache && (cache.rows < opts.B || cache.capacity < opts.T)) {
      throw new RangeError(`InferenceGPT: a KV cache of ${cache.rows} rows × ${cache.capacity} positions cannot hold B=${opts.B} T=${opts.T}`);
    }
    const quantized = opts.quantized ?? new Map<string, Mxfp4Tensors>();
    if (quantized.has("transformer.wte.weight")) throw new Error("InferenceGPT: the embedding is a lookup and must be float32, not MXFP4");
    for (const { name, shape } of paramShapes(cfg)) {
      if (quantized.has(name)) continue; // its shape was checked when it was uploaded (uploadMxfp4)
      const t = params.get(name);
      if (!t || t.size !== shape.reduce((a, b) => a * b, 1)) throw new Error(`InferenceGPT: parameter ${name} is missing or has the wrong size`);
    }
    const m = new InferenceGPT(gpu, cfg, params, opts.B, opts.T, cache, quantized);
    m.forwardOps.push(...await trunkForwardOps({
      gpu, cfg, B: m.B, T: m.T, acts: m.acts, rope: m.rope,
      param: (name) => params.get(name)!,
      quantized: (name) => quantized.get(name),
      grad: (name) => {
        throw new Error(`InferenceGPT has no gradients (asked for ${name})`);
      },
      kv: cache ? { cache, positional: m.positional } : undefined,
    }));
    return m;
  }

  /**
   * The position (in the KV cache) of this step's first row. The step writes positions
   * pos … pos+T−1 of every sequence and attends over positions 0 … pos+T−1.
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

  /** Uploads token ids (B·T of them). */
  setInputs(inputs: ArrayLike<number>): void {
    const N = this.B * this.T;
    if (inputs.length !== N) throw new RangeError(`setInputs: expected ${N} ids (B=${this.B} T=${this.T}), got ${inputs.length}`);
    checkTokenIds(inputs, this.cfg.vocab_size, "setInputs");
    writeTensor(this.acts.idx, Uint32Array.from(inputs));
  }

  /**
   * Ops computing the softcapped logits (B, V) of row t of every sequence (after
   * forwardOps), and the tensor they land in. Re-aiming (another t) keeps the same ops.
   */
  logitsOps(t: number): Promise<{ ops: Op[]; out: Tensor }> {
    return this.aimHead({ M: this.B, lda: this.T * this.cfg.n_embd, offA: t * this.cfg.n_embd }, `row ${t}`);
  }

  /**
   * Ops computing the softcapped logits of `count` (≤ B) consecutive flat rows from `row`
   * (= b·T + t) after forwardOps, into the first `count` rows of the tensor returned: a
   * sequence's logits at several positions from one forward (CORE's greedy check).
   */
  rowLogitsOps(row: number, count: number): Promise<{ ops: Op[]; out: Tensor }> {
    if (!(Number.isInteger(count) && count >= 1 && count <= this.B)) throw new RangeError(`rowLogitsOps: count ${count} must be 1 … B = ${this.B}`);
    return this.aimHead({ M: count, lda: this.cfg.n_embd, offA: row * this.cfg.n_embd }, `rows ${row}..${row + count - 1}`);
  }

  private async aimHead(a: { M: number; lda: number; offA: number }, what: string): Promise<{ ops: Op[]; out: Tensor }> {
    const { gpu, cfg, B, T } = this;
    const C = cfg.n_embd, V = cfg.vocab_size;
    if (!this.logitsHead) {
      const out = createTensor(gpu, [B, V], "f32", "logits"), q = this.quantized.get("lm_head.weight"), label = "lm_head(logits)";
      const matmul = q
        ? await mxfp4MatmulOp(gpu, { x: this.acts.xf, w: q, y: out }, { M: B, N: V, K: C }, { label })
        : await matmulOp(gpu, { a: this.acts.xf, b: this.params.get("lm_head.weight")!, c: out }, { M: B, N: V, K: C }, { transB: true, label });
      this.logitsHead = { out, matmul, softcap: await softcapOp(gpu, { logits: out }, { rows: B, V }) };
    }
    if (!(a.offA >= 0 && a.offA + (a.M - 1) * a.lda + C <= B * T * C)) throw new RangeError(`logits of ${what}: outside B·T = ${B * T} rows`);
    const h = this.logitsHead;
    h.matmul.update({ M: a.M, N: V, K: C }, { transB: true, lda: a.lda, offA: a.offA });
    return { ops: [h.matmul, h.softcap], out: h.out };
  }

  /**
   * Softcapped logits (V) at flat position `row` (= b·T + t) after a forward over `inputs`.
   * Attention is causal, so positions after t do not change them: a prompt shorter than T
   * can be padded with any id.
   */
  async logitsAt(inputs: ArrayLike<number>, row: number): Promise<Float32Array> {
    if (this.kvCache) throw new Error("logitsAt recomputes the whole sequence; a model with a KV cache uses setPosition + logitsOps");
    if (!(row >= 0 && row < this.B * this.T)) throw new RangeError(`logitsAt: row ${row} is outside B·T = ${this.B * this.T}`);
    const head = await this.aimHead({ M: 1, lda: this.cfg.n_embd, offA: row * this.cfg.n_embd }, `row ${row}`);
    this.setInputs(inputs);
    await runOps(this.gpu, [...this.forwardOps, ...head.ops], "GPT logits");
    return (await readF32(head.out)).slice(0, this.cfg.vocab_size);
  }

  destroy(): void {
    this.rope.destroy();
    this.acts.destroy();
    this.logitsHead?.out.destroy();
  }
}
