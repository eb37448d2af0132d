// Float64 CPU reference of nanochat's whole GPT: forward (loss), backward (a gradient for
// every parameter) and inference logits, composed from the per-op references exactly as
// the GPU model composes its kernels (src/model/gpt.ts), so every intermediate can be
// compared one by one.
//
//   x0 = rmsnorm(wte[idx])
//   per block l:  xMid = x + c_proj(attn(rmsnorm(x)));  xOut = xMid + mlp(rmsnorm(xMid))
//   logits = 15·tanh(lm_head(rmsnorm(x)) / 15);  loss = mean CE over targets ≠ −1
//   attn: q = c_q(xn), k = c_k(xn), v = c_v(xn) viewed (B,T,heads,hd); rotary on q, k;
//         rmsnorm q, k over hd (QK-norm, after rotary); causal GQA SDPA; heads merged
//   mlp:  c_proj(relu(c_fc(xn))²)
//
// Every activation is (B·T, features) row-major, i.e. (B,T,C); q/k/v/y are (B,T,heads,hd),
// which is the same memory as (B·T, heads·hd). lse is (B,H,T).
import type { GPTConfig } from "../../src/model/config.ts";
import { headDim, numel, paramShapes, validateConfig } from "../../src/model/config.ts";
import { rotaryTables } from "../../src/model/params.ts";
import { attentionBackward, attentionForward } from "./attention.ts";
import { linearBackward, linearForward, type Vec } from "./linalg.ts";
import { lmHeadLossBackward, lmHeadLossForward, softcapForward } from "./loss.ts";
import {
  embeddingBackward, embeddingForward, relu2Backward, relu2Forward, residualAdd, rmsnormBackward, rmsnormForward,
  rotaryBackward, rotaryForward,
} from "./ops.ts";

export type RefParams = Map<string, Float64Array>;

/** Upcasts parameters (e.g. from initParams or a GPU readback) to float64, checking names and sizes. */
export function toFloat64Params(cfg: GPTConfig, params: Map<string, ArrayLike<number>>): RefParams {
  const out: RefParams = new Map();
  for (const { name, shape } of paramShapes(cfg)) {
    const p = params.get(name);
    if (!p) throw new Error(`toFloat64Params: missing ${name}`);
    if (p.length !== numel(shape)) throw new RangeError(`toFloat64Params: ${name} has ${p.length} values, expected ${numel(shape)} (${shape.join("×")})`);
    out.set(name, Float64Array.from(p));
  }
  return out;
}

export interface RefLayerCache {
  xIn: Float64Array;                       // block input (N,C)
  xn1: Float64Array; rstd1: Float64Array;  // rmsnorm before attention
  qLin: Float64Array; kLin: Float64Array;  // c_q / c_k outputs (B,T,H|Hkv,hd)
  v: Float64Array;                         // c_v output (B,T,Hkv,hd)
  qRot: Float64Array; kRot: Float64Array;  // after rotary
  q: Float64Array; k: Float64Array;        // after QK-norm: what attention reads
  rstdQ: Float64Array; rstdK: Float64Array; // (N·H), (N·Hkv)
  y: Float64Array; lse: Float64Array;      // attention output (B,T,H,hd), lse (B,H,T)
  attnProj: Float64Array;                  // attn.c_proj output (N,C)
  xMid: Float64Array;
  xn2: Float64Array; rstd2: Float64Array;
  hPre: Float64Array; hAct: Float64Array;  // c_fc output, relu² (N,4C)
  mlpProj: Float64Array;                   // mlp.c_proj output (N,C)
  xOut: Float64Array;
}

export interface RefCache {
  B: number;
  T: number;
  tokens: Int32Array;
  targets: Int32Array;
  rope: { cos: Vec; sin: Vec };
  emb: Float64Array;                       // wte rows (N,C)
  x0: Float64Array; rstd0: Float64Array;   // rmsnorm(emb)
  layers: RefLayerCache[];
  xf: Float64Array; rstdF: Float64Array;   // final rmsnorm (N,C)
  z: Float64Array;                         // lm_head output before the cap (N,V)
  logits: Float64Array;                    // softcapped (N,V)
  losses: Float64Array;                    // per row (N), 0 where target = −1
  count: number;                           // supervised rows
}

export interface RefOptions {
  /** Rotary tables (positions ≥ T, hd/2). Default: rotaryTables(sequence_len, hd), the model's float32 tables. */
  rope?: { cos: Vec; sin: Vec };
}

function param(params: RefParams, name: string): Float64Array {
  const p = params.get(name);
  if (!p) throw new Error(`reference GPT: no parameter ${name}`);
  return p;
}

type Trunk = Omit<RefCache, "targets" | "z" | "logits" | "losses" | "count">;

/** Everything up to and including the final rmsnorm. */
function forwardTrunk(cfg: GPTConfig, params: RefParams, tokens: Int32Array, B: number, T: number, opts: RefOptions): Trunk {
  validateConfig(cfg);
  const N = B * T, C = cfg.n_embd, V = cfg.vocab_size, H = cfg.n_head, Hkv = cfg.n_kv_head, hd = headDim(cfg), F = 4 * C;
  if (tokens.length !== N) throw new RangeError(`reference GPT: expected B·T = ${N} tokens, got ${tokens.length}`);
  if (T > cfg.sequence_len && !opts.rope) throw new RangeError(`reference GPT: T ${T} is over sequence_len ${cfg.sequence_len}`);
  const rope = opts.rope ?? rotaryTables(cfg.sequence_len, hd);
  const emb = embeddingForward(param(params, "transformer.wte.weight"), tokens, N, V, C);
  const { y: x0, rstd: rstd0 } = rmsnormForward(emb, N, C);
  const layers: RefLayerCache[] = [];
  let x = x0;
  for (let l = 0; l < cfg.n_layer; l++) {
    const w = (n: string) => param(params, `transformer.h.${l}.${n}`);
    const xIn = x;
    const { y: xn1, rstd: rstd1 } = rmsnormForward(xIn, N, C);
    const qLin = linearForward(xn1, w("attn.c_q.weight"), N, C, H * hd);
    const kLin = linearForward(xn1, w("attn.c_k.weight"), N, C, Hkv * hd);
    const v = linearForward(xn1, w("attn.c_v.weight"), N, C, Hkv * hd);
    const qRot = rotaryForward(qLin, rope.cos, rope.sin, { B, T, heads: H, hd });
    const kRot = rotaryForward(kLin, rope.cos, rope.sin, { B, T, heads: Hkv, hd });
    const { y: q, rstd: rstdQ } = rmsnormForward(qRot, N * H, hd);
    const { y: k, rstd: rstdK } = rmsnormForward(kRot, N * Hkv, hd);
    const { o: y, lse } = attentionForward(q, k, v, { B, T, H, Hkv, hd });
    const attnProj = linearForward(y, w("attn.c_proj.weight"), N, C, C);
    const xMid = residualAdd(xIn, attnProj);
    const { y: xn2, rstd: rstd2 } = rmsnormForward(xMid, N, C);
    const hPre = linearForward(xn2, w("mlp.c_fc.weight"), N, C, F);
    const hAct = relu2Forward(hPre);
    const mlpProj = linearForward(hAct, w("mlp.c_proj.weight"), N, F, C);
    const xOut = residualAdd(xMid, mlpProj);
    layers.push({ xIn, xn1, rstd1, qLin, kLin, v, qRot, kRot, q, k, rstdQ, rstdK, y, lse, attnProj, xMid, xn2, rstd2, hPre, hAct, mlpProj, xOut });
    x = xOut;
  }
  const { y: xf, rstd: rstdF } = rmsnormForward(x, N, C);
  return { B, T, tokens, rope, emb, x0, rstd0, layers, xf, rstdF };
}

/** Mean loss over supervised targets (−1 ignored) and the cache refBackward needs. */
export function refForward(
  cfg: GPTConfig, params: RefParams, tokens: Int32Array, targets: Int32Array, B: number, T: number, opts: RefOptions = {},
): { loss: number; cache: RefCache } {
  const trunk = forwardTrunk(cfg, params, tokens, B, T, opts);
  const N = B * T, C = cfg.n_embd, V = cfg.vocab_size;
  const head = lmHeadLossForward(trunk.xf, param(params, "lm_head.weight"), targets, N, C, V);
  const cache: RefCache = { ...trunk, targets, z: head.z, logits: head.logits, losses: head.losses, count: head.count };
  return { loss: head.loss, cache };
}

/**
 * Gradients of refForward's loss (× gradScale) for every parameter, keyed by nanochat name,
 * in paramShapes order; same layout as the parameter.
 */
export function refBackward(cfg: GPTConfig, params: RefParams, cache: RefCache, opts: { gradScale?: number } = {}): Map<string, Float64Array> {
  const { B, T, rope } = cache;
  const N = B * T, C = cfg.n_embd, V = cfg.vocab_size, H = cfg.n_head, Hkv = cfg.n_kv_head, hd = headDim(cfg), F = 4 * C;
  const grads = new Map<string, Float64Array>();
  for (const { name, shape } of paramShapes(cfg)) grads.set(name, new Float64Array(numel(shape)));
  const set = (name: string, g: Float64Array) => grads.set(name, g);

  const head = lmHeadLossBackward(cache.xf, param(params, "lm_head.weight"), cache.targets, N, C, V, opts);
  set("lm_head.weight", head.dw);
  const xLast = cfg.n_layer > 0 ? cache.layers[cfg.n_layer - 1].xOut : cache.x0;
  // dRes: gradient of the residual stream, flowing down through the blocks.
  let dRes = rmsnormBackward(head.dx, xLast, cache.rstdF, N, C);
  for (let l = cfg.n_layer - 1; l >= 0; l--) {
    const L = cache.layers[l];
    const name = (n: string) => `transformer.h.${l}.${n}`;
    const w = (n: string) => param(params, name(n));
    // MLP branch: xOut = xMid + c_proj(relu²(c_fc(norm(xMid)))).
    const proj2 = linearBackward(dRes, L.hAct, w("mlp.c_proj.weight"), N, F, C);
    set(name("mlp.c_proj.weight"), proj2.dw);
    const dhPre = relu2Backward(proj2.dx, L.hPre);
    const fc = linearBackward(dhPre, L.xn2, w("mlp.c_fc.weight"), N, C, F);
    set(name("mlp.c_fc.weight"), fc.dw);
    const dxMid = residualAdd(dRes, rmsnormBackward(fc.dx, L.xMid, L.rstd2, N, C));
    // Attention branch: xMid = xIn + c_proj(attn(norm(xIn))).
    const proj1 = linearBackward(dxMid, L.y, w("attn.c_proj.weight"), N, C, C);
    set(name("attn.c_proj.weight"), proj1.dw);
    const { dq, dk, dv } = attentionBackward(proj1.dx, L.q, L.k, L.v, L.y, L.lse, { B, T, H, Hkv, hd });
    const dqRot = rmsnormBackward(dq, L.qRot, L.rstdQ, N * H, hd);
    const dkRot = rmsnormBackward(dk, L.kRot, L.rstdK, N * Hkv, hd);
    const dqLin = rotaryBackward(dqRot, rope.cos, rope.sin, { B, T, heads: H, hd });
    const dkLin = rotaryBackward(dkRot, rope.cos, rope.sin, { B, T, heads: Hkv, hd });
    const cq = linearBackward(dqLin, L.xn1, w("attn.c_q.weight"), N, C, H * hd);
    const ck = linearBackward(dkLin, L.xn1, w("attn.c_k.weight"), N, C, Hkv * hd);
    const cv = linearBackward(dv, L.xn1, w("attn.c_v.weight"), N, C, Hkv * hd);
    set(name("attn.c_q.weight"), cq.dw);
    set(name("attn.c_k.weight"), ck.dw);
    set(name("attn.c_v.weight"), cv.dw);
    const dxn1 = residualAdd(residualAdd(cq.dx, ck.dx), cv.dx); // xn1 feeds three matmuls
    dRes = residualAdd(dxMid, rmsnormBackward(dxn1, L.xIn, L.rstd1, N, C));
  }
  const dEmb = rmsnormBackward(dRes, cache.emb, cache.rstd0, N, C);
  set("transformer.wte.weight", embeddingBackward(dEmb, cache.tokens, N, V, C));
  return grads;
}

/**
 * Softcapped logits (B, lastN, V) of each sequence's last `lastN` positions, from a full
 * forward over the B·T tokens (no KV cache): what prefill/decode must reproduce.
 */
export function refLogits(
  cfg: GPTConfig, params: RefParams, tokens: Int32Array, B: number, T: number, lastN = 1, opts: RefOptions = {},
): Float64Array {
  if (!Number.isInteger(lastN) || lastN < 1 || lastN > T) throw new RangeError(`refLogits: lastN ${lastN} must be in [1, T = ${T}]`);
  const { xf } = forwardTrunk(cfg, params, tokens, B, T, opts);
  const C = cfg.n_embd, V = cfg.vocab_size;
  const rows = new Float64Array(B * lastN * C);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < lastN; i++) {
      const src = (b * T + T - lastN + i) * C;
      rows.set(xf.subarray(src, src + C), (b * lastN + i) * C);
    }
  }
  return softcapForward(linearForward(rows, param(params, "lm_head.weight"), B * lastN, C, V));
}
