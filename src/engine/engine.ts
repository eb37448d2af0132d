// Generation with a KV cache: one prefill over the prompt, then one decode step per new
// token for n sequences at once — the reference engine's generate().
//
//   prefill   the prompt (padded up to a bucket length, so a few prefill graphs serve every
//             prompt) runs once for sequence 0; its keys/values are then copied to rows
//             1 … n−1 of the cache, so n samples share one prefill.
//   decode    each step feeds the last token of every row (T = 1, batch n), writes its
//             key/value at the current position and attends over the cache (the decode
//             attention entry); logits come back to the host for sampling.
// Padding the prefill is safe: the padded positions' cache rows are overwritten by the
// decode step at that position before anything reads them.
//
// Runtime-agnostic: the browser lab imports this unchanged.
import type { Gpu } from "../gpu/device.ts";
import { throwIfUncaptured } from "../gpu/errors.ts";
import { runOps } from "../gpu/kernel.ts";
import { readF32, type Tensor } from "../gpu/tensor.ts";
import { uploadParams } from "../model/tensors.ts";
import { type GPTConfig, paramShapes } from "../model/config.ts";
import { InferenceGPT } from "../model/inference.ts";
import { KVCache } from "../model/kv_cache.ts";
import { decodeMxfp4, type Mxfp4Matrix } from "../formats/mxfp4.ts";
import { destroyMxfp4, type Mxfp4Tensors, uploadMxfp4 } from "../nn/mxfp4.ts";
import { Rng } from "../util/rng.ts";
import { type SamplingOptions, sampleToken, sampleTopK } from "./sampling.ts";
import { MAX_TOPK, type TopKOp, topKOp } from "../nn/topk.ts";
import { RowState, type ToolCall, type ToolTokenizer, toolTokens } from "./tools.ts";
import { UserError } from "../util/errors.ts";

export interface EngineOptions {
  /** Most sequences decoded together (numSamples ≤ this). Default 8. */
  maxBatch?: number;
  /** Positions per sequence (prompt + generated), ≤ sequence_len. Default sequence_len. */
  capacity?: number;
  /**
   * Matrices to keep in MXFP4 on the GPU (an MXFP4 checkpoint's, as stored): the forward
   * multiplies by their 4-bit blocks directly, and `weights` need not hold them. The
   * embedding is a lookup, so a quantised wte is decoded to float32 once here.
   */
  mxfp4?: Map<string, Mxfp4Matrix>;
}

export interface GenerateOptions extends SamplingOptions {
  /** New tokens per sequence at most (forced tool-output tokens count). */
  maxTokens: number;
  /** Sequences sampled from the one prompt (default 1). */
  numSamples?: number;
  /** Seed of the sampling RNG (default 42, as the reference). */
  seed?: number;
  /** Stops generation after the current step. */
  signal?: AbortSignal;
  /**
   * Chooses a row's next token from its logits instead of temperature/top-k sampling
   * (constrained decoding, scripted tests). Forced tool tokens still take precedence.
   */
  pick?: (logits: Float32Array, row: number, step: number) => number;
}

/** One generated position of every sequence. */
export interface GeneratedColumn {
  tokens: number[];
  /** true where the token was forced (a tool output), not sampled. */
  forced: boolean[];
  /** true where the sequence has ended (at this token or before; ended rows repeat their last token). */
  done: boolean[];
  /** A calculator call that completed at this column, per row (null when none). */
  calls: (ToolCall | null)[];
  /** false where the row is still reading its prompt (generateRows) or has used its maxTokens. */
  active: boolean[];
}

async function collectRows(columns: AsyncGenerator<GeneratedColumn>, n: number): Promise<{ sequences: number[][]; masks: number[][] }> {
  const sequences = Array.from({ length: n }, () => [] as number[]);
  const masks = Array.from({ length: n }, () => [] as number[]);
  const ended = new Array(n).fill(false);
  for await (const col of columns) {
    for (let r = 0; r < n; r++) {
      if (ended[r] || !col.active[r]) continue;
      if (col.done[r]) {
        ended[r] = true;
        continue;
      }
      sequences[r].push(col.tokens[r]);
      masks[r].push(col.forced[r] ? 0 : 1);
    }
  }
  return { sequences, masks };
}

export class EngineError extends UserError {
  override name = "EngineError";
}

const MIN_PREFILL = 16;

function engineShape(cfg: GPTConfig, opts: EngineOptions): { maxBatch: number; capacity: number } {
  const maxBatch = opts.maxBatch ?? 8;
  const capacity = opts.capacity ?? cfg.sequence_len;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new EngineError(`maxBatch must be a positive integer, got ${maxBatch}`);
  if (!Number.isInteger(capacity) || capacity < 2 || capacity > cfg.sequence_len) {
    throw new EngineError(`capacity must be 2 … sequence_len (${cfg.sequence_len}), got ${capacity}`);
  }
  return { maxBatch, capacity };
}

export class Engine {
  private readonly prefills = new Map<number, InferenceGPT>();
  private readonly decoders = new Map<number, InferenceGPT>();
  /** GPU top-k ops per logits tensor, rows and k: made once, re-run every step. */
  private readonly topks = new Map<Tensor, Map<string, TopKOp>>();
  private busy = false;

  private constructor(
    readonly gpu: Gpu,
    readonly cfg: GPTConfig,
    private readonly params: Map<string, Tensor>,
    readonly cache: KVCache,
    private readonly tok: ToolTokenizer,
    private readonly ownsParams: boolean,
    private readonly quantized = new Map<string, Mxfp4Tensors>(),
  ) {}

  /** Uploads the weights (nanochat names, float32; MXFP4 where opts.mxfp4 has them) and allocates the cache. */
  static create(gpu: Gpu, cfg: GPTConfig, weights: Map<string, Float32Array>, tok: ToolTokenizer, opts: EngineOptions = {}): Promise<Engine> {
    const { maxBatch, capacity } = engineShape(cfg, opts);
    const quantized = new Map<string, Mxfp4Tensors>();
    const values = new Map(weights);
    try {
      for (const { name, shape } of paramShapes(cfg)) {
        const q = opts.mxfp4?.get(name);
        if (!q) continue;
        if (q.rows !== shape[0] || q.cols !== shape[1]) throw new EngineError(`Engine weights: the MXFP4 ${name} is ${q.rows}×${q.cols}, expected ${shape.join("×")}`);
        // The embedding is a row lookup, not a matmul: it stays float32 (its decoded values).
        if (name === "transformer.wte.weight") values.set(name, weights.get(name) ?? decodeMxfp4(q));
        else quantized.set(name, uploadMxfp4(gpu, q, { rows: q.rows, K: q.cols }, name));
      }
      const params = uploadParams(gpu, cfg, values, "Engine weights", new Set(quantized.keys()));
      return Promise.resolve(new Engine(gpu, cfg, params, new KVCache(gpu, cfg, maxBatch, capacity), tok, true, quantized));
    } catch (err) {
      for (const q of quantized.values()) destroyMxfp4(q);
      return Promise.reject(err);
    }
  }

  /** Names of the matrices this engine multiplies by in MXFP4. */
  get quantizedWeights(): string[] {
    return [...this.quantized.keys()];
  }

  /**
   * An engine reading another model's parameter tensors in place (RL samples from the
   * weights it is training: every generation sees the latest update, with no copy). The
   * tensors stay the owner's: destroy() leaves them.
   */
  static sharing(gpu: Gpu, cfg: GPTConfig, params: Map<string, Tensor>, tok: ToolTokenizer, opts: EngineOptions = {}): Engine {
    const { maxBatch, capacity } = engineShape(cfg, opts);
    return new Engine(gpu, cfg, params, new KVCache(gpu, cfg, maxBatch, capacity), tok, false);
  }

  get maxBatch(): number {
    return this.cache.rows;
  }

  get capacity(): number {
    return this.cache.capacity;
  }

  private async model(kind: "prefill" | "decode", B: number, T: number): Promise<InferenceGPT> {
    const map = kind === "prefill" ? this.prefills : this.decoders;
    const key = kind === "prefill" ? B * 1_000_000 + T : B;
    let m = map.get(key);
    if (!m) {
      m = await InferenceGPT.create(this.gpu, this.cfg, this.params, { B, T, kvCache: this.cache, quantized: this.quantized });
      map.set(key, m);
    }
    return m;
  }

  /** The prefill length for a prompt: the next power of two ≥ its length (≥ 16), capped by the capacity. */
  prefillLength(promptLength: number): number {
    let T = MIN_PREFILL;
    while (T < promptLength) T *= 2;
    return Math.min(T, this.capacity);
  }

  /**
   * Streams generated columns for `prompt` (token ids). Rows end at <|assistant_end|> or
   * <|bos|> (that token is yielded, with done set); generation stops when every row has
   * ended, after maxTokens columns, when the cache is full, or when `signal` aborts.
   */
  async *generate(prompt: readonly number[], opts: GenerateOptions): AsyncGenerator<GeneratedColumn> {
    const n = opts.numSamples ?? 1;
    if (!Number.isInteger(n) || n < 1 || n > this.maxBatch) throw new EngineError(`numSamples must be 1 … ${this.maxBatch}, got ${n}`);
    yield* this.decodeRows(new Array(n).fill(prompt), opts, true);
  }

  /**
   * Streams generated columns for several prompts at once, one row each (repeat a prompt
   * for several samples of it). All rows share one position: the batch is prefilled up
   * to the shortest prompt, and a longer prompt's remaining tokens are fed one per decode
   * step, as forced tool output is; its column entries are inactive until its reply
   * starts. Each row gets up to maxTokens new tokens (fewer where the cache fills).
   */
  async *generateRows(prompts: readonly (readonly number[])[], opts: GenerateOptions): AsyncGenerator<GeneratedColumn> {
    if (opts.numSamples !== undefined && opts.numSamples !== 1) throw new EngineError("generateRows samples each prompt once: repeat a prompt for several samples");
    if (prompts.length < 1 || prompts.length > this.maxBatch) throw new EngineError(`generateRows takes 1 … ${this.maxBatch} prompts, got ${prompts.length}`);
    yield* this.decodeRows(prompts, opts, prompts.every((p) => p === prompts[0]));
  }

  private async *decodeRows(prompts: readonly (readonly number[])[], opts: GenerateOptions, samePrompt: boolean): AsyncGenerator<GeneratedColumn> {
    const n = prompts.length;
    const V = this.cfg.vocab_size;
    if (!Number.isInteger(opts.maxTokens) || opts.maxTokens < 0) throw new EngineError(`maxTokens must be a non-negative integer, got ${opts.maxTokens}`);
    for (const prompt of samePrompt ? prompts.slice(0, 1) : prompts) {
      if (prompt.length === 0) throw new EngineError("the prompt is empty: start it with <|bos|>");
      for (const id of prompt) if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new EngineError(`prompt token ${id} is outside the vocabulary (${V})`);
      if (prompt.length >= this.capacity) {
        throw new EngineError(`the prompt has ${prompt.length} tokens; this model's context holds ${this.capacity} (prompt + reply): shorten it or start a new conversation`);
      }
    }
    if (this.busy) throw new EngineError("the engine is already generating; wait for it or stop it first");
    this.busy = true;
    try {
      const rng = new Rng(opts.seed ?? 42);
      const ids = toolTokens(this.tok);
      const rows = Array.from({ length: n }, () => new RowState(this.tok, ids));
      const lengths = prompts.map((p) => p.length);
      const L = Math.min(...lengths);

      // Prefill up to the shortest prompt: one sequence shared by every row when they all
      // read the same prompt, else every row its own.
      const B = samePrompt ? 1 : n;
      const pre = await this.model("prefill", B, this.prefillLength(L));
      const padded = new Uint32Array(B * pre.T);
      for (let r = 0; r < B; r++) padded.set(prompts[r].slice(0, pre.T), r * pre.T);
      pre.setInputs(padded);
      pre.setPosition(0);
      const head = await pre.logitsOps(L - 1);
      const share = samePrompt && n > 1 ? await this.cache.shareRow0Ops(n, L) : [];
      // Sampling with top-k (or greedy) reads back only each row's k candidates, chosen on the GPU.
      const preTopK = await this.topKFor(head.out, B, opts);
      await runOps(this.gpu, [...pre.forwardOps, ...head.ops, ...share, ...(preTopK ? [preTopK] : [])], "prefill");
      let logits: Float32Array[] = [], candidates: { values: Float32Array; ids: Uint32Array }[] = [];
      const rowOf = (r: number) => (samePrompt ? 0 : r);
      if (preTopK) {
        const c = await preTopK.read();
        candidates = Array.from({ length: n }, (_, r) => c[rowOf(r)]);
      } else {
        const first = await readF32(head.out);
        logits = Array.from({ length: n }, (_, r) => first.subarray(rowOf(r) * V, (rowOf(r) + 1) * V));
      }

      const dec = await this.model("decode", n, 1);
      const decHead = await dec.logitsOps(0);
      const decTopK = await this.topKFor(decHead.out, n, opts);
      const last = new Uint32Array(n);
      const replyLength = (r: number, pos: number) => pos - lengths[r];
      const finished = (r: number, pos: number) => rows[r].done || replyLength(r, pos) >= opts.maxTokens;
      for (let pos = L; opts.maxTokens > 0; pos++) {
        const column: GeneratedColumn = { tokens: [], forced: [], done: [], calls: [], active: [] };
        for (let r = 0; r < n; r++) {
          const row = rows[r];
          const step = replyLength(r, pos);
          const active = step >= 0 && step < opts.maxTokens;
          let token = last[r], forced = false, call: ToolCall | null = null;
          if (step < 0) {
            token = prompts[r][pos];
          } else if (active && !row.done) {
            const f = row.nextForced();
            forced = f !== null;
            token = f ?? (opts.pick ? opts.pick(logits[r], r, step)
              : candidates.length ? sampleTopK(candidates[r].values, candidates[r].ids, opts.temperature, rng)
              : sampleToken(logits[r], opts, rng));
            if (!(Number.isInteger(token) && token >= 0 && token < V)) throw new EngineError(`picked token ${token} is outside the vocabulary (${V})`);
            row.push(token);
            call = row.lastCall;
            row.lastCall = null;
          }
          last[r] = token;
          column.tokens.push(token);
          column.forced.push(forced);
          column.done.push(row.done);
          column.calls.push(call);
          column.active.push(active);
        }
        yield column;
        if (rows.every((_, r) => finished(r, pos + 1)) || opts.signal?.aborted) break;
        if (pos + 1 > this.capacity) break; // the cache is full: nowhere to write this token
        dec.setInputs(last);
        dec.setPosition(pos);
        await runOps(this.gpu, [...dec.forwardOps, ...decHead.ops, ...(decTopK ? [decTopK] : [])], "decode", { checked: false });
        if (decTopK) candidates = await decTopK.read();
        else {
          const all = await readF32(decHead.out);
          logits = Array.from({ length: n }, (_, r) => all.subarray(r * V, (r + 1) * V));
        }
        throwIfUncaptured(this.gpu, "decode step");
      }
    } finally {
      this.busy = false;
    }
  }

  /** All columns at once: each row's tokens up to (not including) its terminal token, and 1/0 masks (sampled/forced). */
  generateBatch(prompt: readonly number[], opts: GenerateOptions): Promise<{ sequences: number[][]; masks: number[][] }> {
    return collectRows(this.generate(prompt, opts), opts.numSamples ?? 1);
  }

  /** generateRows, collected: per prompt, the reply's tokens (no terminal token) and 1/0 masks (sampled/forced). */
  generateEach(prompts: readonly (readonly number[])[], opts: GenerateOptions): Promise<{ sequences: number[][]; masks: number[][] }> {
    return collectRows(this.generateRows(prompts, opts), prompts.length);
  }

  /** GPU bytes: weights and the KV cache. */
  get bufferBytes(): { params: number; kvCache: number } {
    const quantized = [...this.quantized.values()].reduce((s, q) => s + q.blocks.buffer.size + q.scales.buffer.size, 0);
    return { params: [...this.params.values()].reduce((s, t) => s + t.buffer.size, 0) + quantized, kvCache: this.cache.bytes };
  }

  /**
   * The top-k op over `logits` (rows × V) for this generation, or null when the host needs
   * the whole row: a custom pick, or sampling without top-k (or with k past the kernel's).
   */
  private async topKFor(logits: Tensor, rows: number, opts: GenerateOptions): Promise<TopKOp | null> {
    const V = this.cfg.vocab_size;
    if (opts.pick) return null;
    const k = opts.temperature === 0 ? 1 : opts.topK && opts.topK > 0 ? Math.min(opts.topK, V) : V;
    if (k > MAX_TOPK || k >= V) return null;
    let byShape = this.topks.get(logits);
    if (!byShape) this.topks.set(logits, byShape = new Map());
    const key = `${rows}:${k}`;
    let op = byShape.get(key);
    if (!op) byShape.set(key, op = await topKOp(this.gpu, { logits }, { rows, V, k }, { label: "engine.topk" }));
    return op;
  }

  destroy(): void {
    for (const m of [...this.prefills.values(), ...this.decoders.values()]) m.destroy();
    for (const byShape of this.topks.values()) for (const op of byShape.values()) op.destroy();
    this.cache.destroy();
    if (this.ownsParams) for (const t of this.params.values()) t.destroy();
    for (const q of this.quantized.values()) destroyMxfp4(q);
  }
}
