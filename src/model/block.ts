// The GPT's trunk, forward and backward side by side (as llm.c lays out its layers):
//
//   x0 = norm(wte[idx])
//   per block l:  x_mid = x + attn(norm1(x))          (self-attention sublayer)
//                 x_out = x_mid + mlp(norm2(x_mid))   (MLP sublayer)
//   xf = norm_f(x_out of the last block)
//
//   attn(x): q,k,v = c_q,c_k,c_v(x); rotary on q,k; RMS-norm q,k over head_dim;
//            causal GQA SDPA; c_proj
//   mlp(x):  c_proj(relu(c_fc(x))²)
//
// Each *BackwardOps mirrors its *ForwardOps line by line, last op first. The gradient of
// the residual stream lives in grads.dRes: a block's backward reads d x_out there and
// leaves d x (its input) there, adding each sublayer's branch into it (accumulate).
//
// The same forward serves generation: with `kv`, each layer writes its keys/values into
// the cache at the current position and attends over everything cached so far; the ops
// that depend on that position are collected so the caller can move them (inference.ts).
import type { Gpu } from "../gpu/device.ts";
import type { Op } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { attentionBackwardOps, attentionForwardOp, type AttentionForwardOp } from "../nn/attention.ts";
import { addOp, relu2BackwardOp, relu2ForwardOp } from "../nn/elementwise.ts";
import { EmbeddingBackward, embeddingForwardOp } from "../nn/embedding.ts";
import { type KvAppendOp, kvAppendOp } from "../nn/kv_write.ts";
import { type LinearWeight, linearBackwardOps, linearOp } from "../nn/linear.ts";
import type { Mxfp4Tensors } from "../nn/mxfp4.ts";
import { rmsnormBackwardOp, rmsnormForwardOp } from "../nn/rmsnorm.ts";
import { rotaryBackwardOp, rotaryForwardOp, type RotaryOp, type RotaryTables } from "../nn/rotary.ts";
import type { Activations } from "./activations.ts";
import type { GPTConfig } from "./config.ts";
import type { KVCache } from "./kv_cache.ts";

/** The ops of a generation forward that move with the position in the KV cache. */
export interface PositionalOps {
  rotary: RotaryOp[];
  append: KvAppendOp[];
  attention: AttentionForwardOp[];
}

/** What the trunk's ops are built over: one (config, B, T), its buffers and weights. */
export interface Trunk {
  gpu: Gpu;
  cfg: GPTConfig;
  B: number;
  T: number;
  acts: Activations;
  rope: RotaryTables;
  param(name: string): Tensor;
  /** A matrix kept in MXFP4 (an inference copy): the forward multiplies by it directly; param() is not asked for it. */
  quantized?(name: string): Mxfp4Tensors | undefined;
  /** Gradients (training only). */
  grad(name: string): Tensor;
  /** Generation: write keys/values into this cache and attend over it (forward only). */
  kv?: { cache: KVCache; positional: PositionalOps };
}

export const layerName = (l: number, rest: string) => `transformer.h.${l}.${rest}`;

/** The forward's view of a linear weight: its MXFP4 form where the trunk keeps one, else the float32 tensor. */
function forwardWeight(m: Trunk, name: string): LinearWeight {
  return m.quantized?.(name) ?? m.param(name);
}

function dims(m: Trunk) {
  const C = m.cfg.n_embd, H = m.cfg.n_head, Hkv = m.cfg.n_kv_head, hd = C / H;
  return { N: m.B * m.T, C, H, Hkv, hd, F: 4 * C, V: m.cfg.vocab_size, B: m.B, T: m.T };
}

// ---------------------------------------------------------------- trunk

/** idx → acts.xf. */
export async function trunkForwardOps(m: Trunk): Promise<Op[]> {
  const { gpu, acts: a } = m, { N, C, V } = dims(m);
  const ops: Op[] = [
    await embeddingForwardOp(gpu, { idx: a.idx, wte: m.param("transformer.wte.weight"), out: a.emb }, { N, V, C }),
    await rmsnormForwardOp(gpu, { x: a.emb, y: a.x0, rstd: a.rstd0 }, { rows: N, D: C }, { label: "norm(emb)" }),
  ];
  let x = a.x0;
  for (let l = 0; l < m.cfg.n_layer; l++) {
    ops.push(...await selfAttentionForwardOps(m, l, x));
    ops.push(...await mlpForwardOps(m, l));
    x = a.layers[l].xOut;
  }
  ops.push(await rmsnormForwardOp(gpu, { x, y: a.xf, rstd: a.rstdF }, { rows: N, D: C }, { label: "norm_f" }));
  return ops;
}

/**
 * d xf (in grads.dXn, from the loss head) → every weight's gradient. The embedding's
 * backward is returned too: it regroups positions by token on the host (setTokens) each batch.
 */
export async function trunkBackwardOps(m: Trunk): Promise<{ ops: Op[]; embedding: EmbeddingBackward }> {
  const { gpu, acts: a } = m, { N, C, V } = dims(m), d = a.grads!;
  const xLast = m.cfg.n_layer ? a.layers[m.cfg.n_layer - 1].xOut : a.x0;
  const ops: Op[] = [await rmsnormBackwardOp(gpu, { x: xLast, rstd: a.rstdF, dy: d.dXn, dx: d.dRes }, { rows: N, D: C }, { label: "norm_f" })];
  for (let l = m.cfg.n_layer - 1; l >= 0; l--) {
    ops.push(...await mlpBackwardOps(m, l));
    ops.push(...await selfAttentionBackwardOps(m, l, l === 0 ? a.x0 : a.layers[l - 1].xOut));
  }
  // x0 = norm(wte[idx]): into the embedding's gradient rows.
  ops.push(await rmsnormBackwardOp(gpu, { x: a.emb, rstd: a.rstd0, dy: d.dRes, dx: d.dXn }, { rows: N, D: C }, { label: "norm(emb)" }));
  const embedding = await EmbeddingBackward.create(gpu, { dout: d.dXn, dwte: m.grad("transformer.wte.weight") }, { N, V, C });
  ops.push(embedding);
  return { ops, embedding };
}

// ---------------------------------------------------------------- self-attention

/** x_mid = x + c_proj(attn(norm1(x))). */
export async function selfAttentionForwardOps(m: Trunk, l: number, x: Tensor): Promise<Op[]> {
  const { gpu, acts: a } = m, L = a.layers[l], { N, C, H, Hkv, hd, B, T } = dims(m);
  const w = (n: string) => forwardWeight(m, layerName(l, `attn.${n}.weight`));
  const rope = { cos: m.rope.cos, sin: m.rope.sin };
  const rotQ = await rotaryForwardOp(gpu, { x: L.qRot, ...rope }, { B, T, heads: H, hd }, { label: `h${l}.rotary_q` });
  const rotK = await rotaryForwardOp(gpu, { x: L.kRot, ...rope }, { B, T, heads: Hkv, hd }, { label: `h${l}.rotary_k` });
  m.kv?.positional.rotary.push(rotQ, rotK);
  return [
    await rmsnormForwardOp(gpu, { x, y: L.xn1, rstd: L.rstd1 }, { rows: N, D: C }, { label: `h${l}.norm1` }),
    await linearOp(gpu, { x: L.xn1, w: w("c_q"), y: L.qRot }, { N, inF: C, outF: H * hd }, { label: `h${l}.c_q` }),
    await linearOp(gpu, { x: L.xn1, w: w("c_k"), y: L.kRot }, { N, inF: C, outF: Hkv * hd }, { label: `h${l}.c_k` }),
    await linearOp(gpu, { x: L.xn1, w: w("c_v"), y: L.v }, { N, inF: C, outF: Hkv * hd }, { label: `h${l}.c_v` }),
    rotQ,
    rotK,
    await rmsnormForwardOp(gpu, { x: L.qRot, y: L.q, rstd: L.rstdQ }, { rows: N * H, D: hd }, { label: `h${l}.qk_norm_q` }),
    await rmsnormForwardOp(gpu, { x: L.kRot, y: L.k, rstd: L.rstdK }, { rows: N * Hkv, D: hd }, { label: `h${l}.qk_norm_k` }),
    ...await attendOps(m, l),
    await linearOp(gpu, { x: L.y, w: w("c_proj"), y: a.proj }, { N, inF: C, outF: C }, { label: `h${l}.attn.c_proj` }),
    await addOp(gpu, { a: x, b: a.proj, out: L.xMid }, { n: N * C }, { label: `h${l}.residual_attn` }),
  ];
}

/** Causal SDPA of this step's q over its own k, v (training) or over the KV cache (generation). */
async function attendOps(m: Trunk, l: number): Promise<Op[]> {
  const { gpu } = m, L = m.acts.layers[l], { H, Hkv, hd, B, T } = dims(m);
  if (!m.kv) return [await attentionForwardOp(gpu, { q: L.q, k: L.k, v: L.v, o: L.y, lse: L.lse }, { B, T, H, Hkv, hd })];
  const { cache, positional } = m.kv, kv = cache.layer(l, B), layout = { B, T, width: cache.width, capacity: cache.capacity };
  const append = [
    await kvAppendOp(gpu, { src: L.k, cache: kv.k }, layout, { label: `h${l}.kv_append_k` }),
    await kvAppendOp(gpu, { src: L.v, cache: kv.v }, layout, { label: `h${l}.kv_append_v` }),
  ];
  const attn = await attentionForwardOp(gpu, { q: L.q, k: kv.k, v: kv.v, o: L.y, lse: L.lse }, { B, T, H, Hkv, hd, Tk: T, kvRows: cache.capacity });
  positional.append.push(...append);
  positional.attention.push(attn);
  return [...append, attn];
}

/** d x_mid (grads.dRes) → d x added into grads.dRes, and the sublayer's weight gradients. */
export async function selfAttentionBackwardOps(m: Trunk, l: number, x: Tensor): Promise<Op[]> {
  const { gpu, acts: a } = m, L = a.layers[l], d = a.grads!, { N, C, H, Hkv, hd, B, T } = dims(m);
  const w = (n: string) => m.param(layerName(l, `attn.${n}.weight`));
  const g = (n: string) => m.grad(layerName(l, `attn.${n}.weight`));
  const rope = { cos: m.rope.cos, sin: m.rope.sin };
  return [
    // (the residual add passes d x_mid through to x unchanged: dRes already holds it)
    ...await linearBackwardOps(gpu, { x: L.y, w: w("c_proj"), dy: d.dRes, dx: d.dY, dw: g("c_proj") }, { N, inF: C, outF: C }, { label: `h${l}.attn.c_proj` }),
    ...await attentionBackwardOps(
      gpu,
      { q: L.q, k: L.k, v: L.v, o: L.y, lse: L.lse, dO: d.dY, dq: d.dQ, dk: d.dK, dv: d.dV, delta: d.delta },
      { B, T, H, Hkv, hd },
    ),
    await rmsnormBackwardOp(gpu, { x: L.kRot, rstd: L.rstdK, dy: d.dK, dx: d.dKRot }, { rows: N * Hkv, D: hd }, { label: `h${l}.qk_norm_k` }),
    await rmsnormBackwardOp(gpu, { x: L.qRot, rstd: L.rstdQ, dy: d.dQ, dx: d.dQRot }, { rows: N * H, D: hd }, { label: `h${l}.qk_norm_q` }),
    await rotaryBackwardOp(gpu, { dx: d.dKRot, ...rope }, { B, T, heads: Hkv, hd }, { label: `h${l}.rotary_k` }),
    await rotaryBackwardOp(gpu, { dx: d.dQRot, ...rope }, { B, T, heads: H, hd }, { label: `h${l}.rotary_q` }),
    // q, k, v in the forward's order: c_q writes dXn, c_k and c_v add into it.
    ...await linearBackwardOps(gpu, { x: L.xn1, w: w("c_q"), dy: d.dQRot, dx: d.dXn, dw: g("c_q") }, { N, inF: C, outF: H * hd }, { label: `h${l}.c_q` }),
    ...await linearBackwardOps(gpu, { x: L.xn1, w: w("c_k"), dy: d.dKRot, dx: d.dXn, dw: g("c_k") }, { N, inF: C, outF: Hkv * hd }, { accumulateDx: true, label: `h${l}.c_k` }),
    ...await linearBackwardOps(gpu, { x: L.xn1, w: w("c_v"), dy: d.dV, dx: d.dXn, dw: g("c_v") }, { N, inF: C, outF: Hkv * hd }, { accumulateDx: true, label: `h${l}.c_v` }),
    await rmsnormBackwardOp(gpu, { x, rstd: L.rstd1, dy: d.dXn, dx: d.dRes }, { rows: N, D: C }, { accumulate: true, label: `h${l}.norm1` }),
  ];
}

// ---------------------------------------------------------------- MLP

/** x_out = x_mid + c_proj(relu(c_fc(norm2(x_mid)))²). */
export async function mlpForwardOps(m: Trunk, l: number): Promise<Op[]> {
  const { gpu, acts: a } = m, L = a.layers[l], { N, C, F } = dims(m);
  const w = (n: string) => forwardWeight(m, layerName(l, `mlp.${n}.weight`));
  return [
    await rmsnormForwardOp(gpu, { x: L.xMid, y: L.xn2, rstd: L.rstd2 }, { rows: N, D: C }, { label: `h${l}.norm2` }),
    await linearOp(gpu, { x: L.xn2, w: w("c_fc"), y: L.hPre }, { N, inF: C, outF: F }, { label: `h${l}.c_fc` }),
    await relu2ForwardOp(gpu, { x: L.hPre, out: L.hAct }, { n: N * F }, { label: `h${l}.relu2` }),
    await linearOp(gpu, { x: L.hAct, w: w("c_proj"), y: a.proj }, { N, inF: F, outF: C }, { label: `h${l}.mlp.c_proj` }),
    await addOp(gpu, { a: L.xMid, b: a.proj, out: L.xOut }, { n: N * C }, { label: `h${l}.residual_mlp` }),
  ];
}

/** d x_out (grads.dRes) → d x_mid left in grads.dRes, and the sublayer's weight gradients. */
export async function mlpBackwardOps(m: Trunk, l: number): Promise<Op[]> {
  const { gpu, acts: a } = m, L = a.layers[l], d = a.grads!, { N, C, F } = dims(m);
  const w = (n: string) => m.param(layerName(l, `mlp.${n}.weight`));
  const g = (n: string) => m.grad(layerName(l, `mlp.${n}.weight`));
  return [
    ...await linearBackwardOps(gpu, { x: L.hAct, w: w("c_proj"), dy: d.dRes, dx: d.dH, dw: g("c_proj") }, { N, inF: F, outF: C }, { label: `h${l}.mlp.c_proj` }),
    await relu2BackwardOp(gpu, { x: L.hPre, dy: d.dH, dx: d.dHPre }, { n: N * F }, { label: `h${l}.relu2` }),
    ...await linearBackwardOps(gpu, { x: L.xn2, w: w("c_fc"), dy: d.dHPre, dx: d.dXn, dw: g("c_fc") }, { N, inF: C, outF: F }, { label: `h${l}.c_fc` }),
    await rmsnormBackwardOp(gpu, { x: L.xMid, rstd: L.rstd2, dy: d.dXn, dx: d.dRes }, { rows: N, D: C }, { accumulate: true, label: `h${l}.norm2` }),
  ];
}
