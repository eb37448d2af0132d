// Cases for the layer kernels the GPT is built from: embedding, RMSNorm (also as QK-norm),
// rotary, ReLU², residual add, and the fused lm_head + softcap + cross-entropy. Each is
// compared with tests/reference (float64). Bounds: 1e-5 relative for forward outputs and
// for the element-wise/normalisation backwards (observed 1e-8…1e-7); 1e-5 for the fused
// loss and its gradients (observed ~1e-7).
import type { Gpu } from "../../../src/gpu/device.ts";
import { type Op, runOps } from "../../../src/gpu/kernel.ts";
import { createTensor, fillTensorBits, NAN_BITS, readF32, type Tensor, uploadTensor, writeTensor } from "../../../src/gpu/tensor.ts";
import { LmHeadLoss } from "../../../src/nn/cross_entropy.ts";
import { addOp, relu2BackwardOp, relu2ForwardOp } from "../../../src/nn/elementwise.ts";
import { EmbeddingBackward, embeddingForwardOp } from "../../../src/nn/embedding.ts";
import { rmsnormBackwardOp, rmsnormForwardOp } from "../../../src/nn/rmsnorm.ts";
import { kvAppendOp, kvBroadcastOp } from "../../../src/nn/kv_write.ts";
import { topKOp } from "../../../src/nn/topk.ts";
import { rotaryBackwardOp, rotaryForwardOp } from "../../../src/nn/rotary.ts";
import { rotaryTables } from "../../../src/model/params.ts";
import { lmHeadLossBackward, lmHeadLossForward } from "../../reference/loss.ts";
import {
  embeddingBackward, embeddingForward, relu2Backward, relu2Forward, residualAdd, rmsnormBackward, rmsnormForward,
  rotaryBackward, rotaryForward,
} from "../../reference/ops.ts";
import { freshRng, type KernelCase, randomF32, relErr } from "../harness.ts";

const BOUND = 1e-5;

function poisoned(gpu: Gpu, shape: number[], label: string, dtype: "f32" | "i32" | "u32" = "f32"): Tensor {
  const t = createTensor(gpu, shape, dtype, label);
  fillTensorBits(t, NAN_BITS);
  return t;
}

async function finish(gpu: Gpu, ops: Op[], pairs: [Tensor, ArrayLike<number>][], tensors: Tensor[]) {
  await runOps(gpu, ops);
  let err = 0;
  for (const [t, ref] of pairs) err = Math.max(err, relErr(await readF32(t), ref));
  for (const t of tensors) t.destroy();
  return { relErr: err, bound: BOUND };
}

/** slack: outputs get one more (poisoned) row than `rows`, which must stay untouched. */
async function rmsnormCase(gpu: Gpu, rows: number, D: number, scale = 3, slack = false) {
  const rng = freshRng();
  const x = randomF32(rng, rows * D, scale), dy = randomF32(rng, rows * D), dx0 = randomF32(rng, rows * D);
  const tx = uploadTensor(gpu, x), tdy = uploadTensor(gpu, dy), tdxAcc = uploadTensor(gpu, dx0);
  const out = slack ? rows + 1 : rows;
  const ty = poisoned(gpu, [out * D], "y"), trstd = poisoned(gpu, [out], "rstd"), tdx = poisoned(gpu, [out * D], "dx");
  // The extra row holds a finite sentinel (NaN could come back as NaN from a stray write).
  const SENTINEL = 7.25;
  if (slack) for (const [t, n] of [[ty, D], [trstd, 1], [tdx, D]] as const) writeTensor(t, new Float32Array(n).fill(SENTINEL), rows * n);
  const ops = [
    await rmsnormForwardOp(gpu, { x: tx, y: ty, rstd: trstd }, { rows, D }),
    await rmsnormBackwardOp(gpu, { x: tx, rstd: trstd, dy: tdy, dx: tdx }, { rows, D }),
    await rmsnormBackwardOp(gpu, { x: tx, rstd: trstd, dy: tdy, dx: tdxAcc }, { rows, D }, { accumulate: true }),
  ];
  const ref = rmsnormForward(x, rows, D);
  const dref = rmsnormBackward(dy, x, ref.rstd, rows, D);
  if (slack) {
    await runOps(gpu, ops);
    const [y, rstd, dx] = [await readF32(ty), await readF32(trstd), await readF32(tdx)];
    const tails = [y.subarray(rows * D), rstd.subarray(rows), dx.subarray(rows * D)];
    const touched = tails.reduce((n, t) => n + t.filter((v) => v !== SENTINEL).length, 0);
    const err = Math.max(relErr(y.subarray(0, rows * D), ref.y), relErr(rstd.subarray(0, rows), ref.rstd), relErr(dx.subarray(0, rows * D), dref));
    for (const t of [tx, tdy, tdxAcc, ty, trstd, tdx]) t.destroy();
    return { relErr: touched ? Infinity : err, bound: BOUND, detail: touched ? `${touched} values written past the last row` : undefined };
  }
  return finish(gpu, ops, [[ty, ref.y], [trstd, ref.rstd], [tdx, dref], [tdxAcc, dref.map((v, i) => v + dx0[i])]], [tx, tdy, tdxAcc, ty, trstd, tdx]);
}

async function rotaryCase(gpu: Gpu, B: number, T: number, heads: number, hd: number, posOffset: number) {
  const rng = freshRng();
  const tables = rotaryTables(posOffset + T + 3, hd);
  const x = randomF32(rng, B * T * heads * hd), dy = randomF32(rng, B * T * heads * hd);
  const cos = uploadTensor(gpu, tables.cos), sin = uploadTensor(gpu, tables.sin);
  const tx = uploadTensor(gpu, x), tdy = uploadTensor(gpu, dy);
  const s = { B, T, heads, hd, posOffset };
  const ops = [await rotaryForwardOp(gpu, { x: tx, cos, sin }, s), await rotaryBackwardOp(gpu, { dx: tdy, cos, sin }, s)];
  return finish(gpu, ops, [[tx, rotaryForward(x, tables.cos, tables.sin, s)], [tdy, rotaryBackward(dy, tables.cos, tables.sin, s)]], [cos, sin, tx, tdy]);
}

async function elementwiseCase(gpu: Gpu, n: number) {
  const rng = freshRng();
  const a = randomF32(rng, n), b = randomF32(rng, n), dy = randomF32(rng, n);
  const ta = uploadTensor(gpu, a), tb = uploadTensor(gpu, b), tdy = uploadTensor(gpu, dy);
  const sum = poisoned(gpu, [n], "sum"), act = poisoned(gpu, [n], "act"), dx = poisoned(gpu, [n], "dx");
  const ops = [
    await addOp(gpu, { a: ta, b: tb, out: sum }, { n }),
    await relu2ForwardOp(gpu, { x: ta, out: act }, { n }),
    await relu2BackwardOp(gpu, { x: ta, dy: tdy, dx }, { n }),
  ];
  return finish(gpu, ops, [[sum, residualAdd(a, b)], [act, relu2Forward(a)], [dx, relu2Backward(dy, a)]], [ta, tb, tdy, sum, act, dx]);
}

async function embeddingCase(gpu: Gpu, N: number, V: number, C: number) {
  const rng = freshRng();
  // Few distinct ids so many positions share a token (the accumulation path).
  const ids = Int32Array.from({ length: N }, () => rng.int(Math.min(V, 5)) * Math.floor(V / 5));
  const wte = randomF32(rng, V * C), dout = randomF32(rng, N * C);
  const dwte0 = randomF32(rng, V * C);
  const tidx = uploadTensor(gpu, Uint32Array.from(ids)), twte = uploadTensor(gpu, wte), tdout = uploadTensor(gpu, dout);
  const tdwte = uploadTensor(gpu, dwte0), out = poisoned(gpu, [N * C], "emb");
  const back = await EmbeddingBackward.create(gpu, { dout: tdout, dwte: tdwte }, { N, V, C });
  back.setTokens(ids);
  const ops = [await embeddingForwardOp(gpu, { idx: tidx, wte: twte, out }, { N, V, C }), back];
  const dref = embeddingBackward(dout, ids, N, V, C).map((v, i) => v + dwte0[i]);
  const r = await finish(gpu, ops, [[out, embeddingForward(wte, ids, N, V, C)], [tdwte, dref]], [tidx, twte, tdout, tdwte, out]);
  back.destroy();
  return r;
}

/**
 * An id at or past V (a corrupt batch) must read row V−1, never memory past the table:
 * with a V+1 clamp, robust buffer access would return some other in-bounds value instead.
 */
async function embeddingClampCase(gpu: Gpu) {
  const N = 4, V = 6, C = 5, rng = freshRng();
  const ids = [V, V + 1, 0xffffffff, 2];
  const wte = randomF32(rng, V * C);
  const tidx = uploadTensor(gpu, Uint32Array.from(ids)), twte = uploadTensor(gpu, wte), out = poisoned(gpu, [N * C], "emb");
  const ref = embeddingForward(wte, ids.map((id) => Math.min(id, V - 1)), N, V, C);
  return finish(gpu, [await embeddingForwardOp(gpu, { idx: tidx, wte: twte, out }, { N, V, C })], [[out, ref]], [tidx, twte, out]);
}

/** Two runs of the embedding backward on the same inputs give bitwise-identical gradients. */
async function embeddingDeterminismCase(gpu: Gpu) {
  const rng = freshRng();
  const N = 96, V = 50, C = 24;
  const ids = Int32Array.from({ length: N }, () => rng.int(7));
  const dout = uploadTensor(gpu, randomF32(rng, N * C));
  const results: Uint32Array[] = [];
  for (let run = 0; run < 2; run++) {
    const dwte = uploadTensor(gpu, new Float32Array(V * C));
    const back = await EmbeddingBackward.create(gpu, { dout, dwte }, { N, V, C });
    back.setTokens(ids);
    await runOps(gpu, [back]);
    results.push(new Uint32Array((await readF32(dwte)).buffer));
    back.destroy();
    dwte.destroy();
  }
  dout.destroy();
  const same = results[0].every((w, i) => w === results[1][i]);
  return { relErr: same ? 0 : Infinity, bound: BOUND, detail: same ? "bitwise identical" : "runs differ" };
}

/** weighted: per-row weights in [−1.5, 1.5) (RL's advantages: negative, zero, positive), read at each chunk's offset. */
async function lmHeadCase(gpu: Gpu, N: number, C: number, V: number, chunkRows: number, ignoreEvery: number, edgeTargets = false, weighted = false, cap?: number) {
  const rng = freshRng();
  const x = randomF32(rng, N * C), w = randomF32(rng, V * C, 2); // large logits exercise the softcap
  // edgeTargets: ids 0 and V−1 on alternate rows, where an off-by-one in the target's bounds would show.
  const pick = (i: number) => (edgeTargets ? (i % 2 ? V - 1 : 0) : rng.int(V));
  const targets = Int32Array.from({ length: N }, (_, i) => (ignoreEvery && i % ignoreEvery === 1 ? -1 : pick(i)));
  const dw0 = randomF32(rng, V * C);
  const weights = weighted ? Float32Array.from({ length: N }, (_, i) => (i % 5 === 2 ? 0 : 3 * rng.uniform() - 1.5)) : undefined;
  const tx = uploadTensor(gpu, x), tw = uploadTensor(gpu, w), tt = uploadTensor(gpu, targets), tdw = uploadTensor(gpu, dw0);
  const tweights = weights ? uploadTensor(gpu, weights) : undefined;
  const losses = poisoned(gpu, [N], "losses"), loss = poisoned(gpu, [1], "loss"), tdx = poisoned(gpu, [N * C], "dx");
  const head = await LmHeadLoss.create(gpu, { x: tx, w: tw, targets: tt, weights: tweights, losses, loss, dx: tdx, dw: tdw }, { N, C, V }, { chunkRows, cap });
  const count = targets.filter((t) => t >= 0).length;
  head.setSupervisedCount(count, 0.5);
  const ref = lmHeadLossForward(x, w, targets, N, C, V, cap, weights);
  const dref = lmHeadLossBackward(x, w, targets, N, C, V, { gradScale: 0.5, weights, cap });
  const r = await finish(gpu, head.trainOps, [[loss, [ref.loss]], [losses, ref.losses], [tdx, dref.dx], [tdw, dref.dw.map((v, i) => v + dw0[i])]], [tx, tw, tt, tdw, losses, loss, tdx, ...(tweights ? [tweights] : [])]);
  head.destroy();
  return r;
}

/**
 * KV-cache writes are copies, so they must be exact: a prefill of T rows into sequence 0 at
 * position 0, shared with the other rows (broadcast), then a decode step of one row per
 * sequence at position T; every other cache entry keeps its old value.
 */
async function kvCacheCase(gpu: Gpu, rows: number, capacity: number, width: number, T: number) {
  const rng = freshRng();
  const cache0 = randomF32(rng, rows * capacity * width), prefill = randomF32(rng, T * width), step = randomF32(rng, rows * width);
  const tc = uploadTensor(gpu, cache0), tp = uploadTensor(gpu, prefill), ts = uploadTensor(gpu, step);
  const layout = { width, capacity };
  const append1 = await kvAppendOp(gpu, { src: tp, cache: tc }, { ...layout, B: 1, T });
  const appendN = await kvAppendOp(gpu, { src: ts, cache: tc }, { ...layout, B: rows, T: 1 });
  appendN.setPos(T);
  const share = await kvBroadcastOp(gpu, { cache: tc }, { ...layout, B: rows }, { length: T });
  const ops = [append1, share, appendN];
  const want = Float32Array.from(cache0);
  for (let b = 0; b < rows; b++) {
    want.set(prefill, b * capacity * width);
    want.set(step.subarray(b * width, (b + 1) * width), (b * capacity + T) * width);
  }
  await runOps(gpu, ops);
  const got = await readF32(tc);
  let mismatches = 0;
  for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) mismatches++;
  for (const t of [tc, tp, ts]) t.destroy();
  share.destroy();
  return { relErr: mismatches, bound: 0.5, detail: `${mismatches} of ${got.length} cache entries differ` };
}

/**
 * GPU top-k against a plain sort (value descending, then id ascending): exact, ids and
 * values. `levels` > 0 quantises the logits to that many values, so ties are everywhere.
 */
async function topKCase(gpu: Gpu, rows: number, V: number, k: number, levels = 0) {
  const rng = freshRng();
  const logits = randomF32(rng, rows * V, 15);
  if (levels > 0) for (let i = 0; i < logits.length; i++) logits[i] = Math.round(logits[i] * levels / 15) * 15 / levels;
  const t = uploadTensor(gpu, logits);
  const op = await topKOp(gpu, { logits: t }, { rows, V, k });
  await runOps(gpu, [op]);
  const got = await op.read();
  let mismatches = 0;
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * V, (r + 1) * V);
    const want = Array.from({ length: V }, (_, i) => i).sort((a, b) => row[b] - row[a] || a - b).slice(0, k);
    for (let j = 0; j < k; j++) if (got[r].ids[j] !== want[j] || got[r].values[j] !== row[want[j]]) mismatches++;
  }
  t.destroy();
  op.destroy();
  return { relErr: mismatches, bound: 0.5, detail: `${mismatches} of ${rows * k} candidates differ` };
}

export const layerCases: KernelCase[] = [
  { name: "topk rows=3 V=4096 k=50 (the tiny vocabulary, the default top-k)", run: (gpu) => topKCase(gpu, 3, 4096, 50) },
  { name: "topk rows=5 V=1000 k=64 with ties everywhere (12 levels)", run: (gpu) => topKCase(gpu, 5, 1000, 64, 12) },
  { name: "topk rows=70 V=300 k=1 (argmax, ties by the lower id)", run: (gpu) => topKCase(gpu, 70, 300, 1, 4) },
  { name: "topk rows=2 V=7 k=7 (fewer ids than threads)", run: (gpu) => topKCase(gpu, 2, 7, 7) },
  { name: "topk rows=1 V=65536 k=17", run: (gpu) => topKCase(gpu, 1, 65536, 17) },
  { name: "rmsnorm fwd/bwd rows=1 D=5", run: (gpu) => rmsnormCase(gpu, 1, 5) },
  { name: "rmsnorm fwd/bwd rows=37 D=65", run: (gpu) => rmsnormCase(gpu, 37, 65) },
  { name: "rmsnorm (QK-norm) rows=96 D=16", run: (gpu) => rmsnormCase(gpu, 96, 16) },
  { name: "rmsnorm rows=8 D=384", run: (gpu) => rmsnormCase(gpu, 8, 384) },
  // |x| ~ 1e-4: mean(x²) is near eps, so the eps (and its sign) changes the output.
  { name: "rmsnorm tiny activations rows=5 D=64 (eps matters)", run: (gpu) => rmsnormCase(gpu, 5, 64, 1e-4) },
  // More rows than one grid dimension holds: a 2-D grid with one workgroup past the last row.
  { name: "rmsnorm rows=65537 D=2 (2-D dispatch grid; nothing written past the last row)", run: (gpu) => rmsnormCase(gpu, 65537, 2, 3, true) },
  { name: "rotary fwd/bwd B=2 T=7 heads=3 hd=16", run: (gpu) => rotaryCase(gpu, 2, 7, 3, 16, 0) },
  { name: "rotary fwd/bwd pos offset 5, hd=2", run: (gpu) => rotaryCase(gpu, 1, 4, 2, 2, 5) },
  { name: "add, relu² fwd/bwd n=1", run: (gpu) => elementwiseCase(gpu, 1) },
  { name: "add, relu² fwd/bwd n=1027", run: (gpu) => elementwiseCase(gpu, 1027) },
  { name: "embedding fwd/bwd N=33 V=40 C=17", run: (gpu) => embeddingCase(gpu, 33, 40, 17) },
  { name: "embedding backward is bitwise deterministic", run: (gpu) => embeddingDeterminismCase(gpu) },
  { name: "embedding forward reads row V−1 for ids ≥ V", run: (gpu) => embeddingClampCase(gpu) },
  { name: "lm_head+softcap+CE N=13 C=24 V=37, 1 chunk", run: (gpu) => lmHeadCase(gpu, 13, 24, 37, 13, 0) },
  { name: "lm_head+softcap+CE N=23 C=16 V=300, chunks of 5, ignore −1", run: (gpu) => lmHeadCase(gpu, 23, 16, 300, 5, 4) },
  { name: "lm_head+softcap+CE targets 0 and V−1 (N=12 C=8 V=37)", run: (gpu) => lmHeadCase(gpu, 12, 8, 37, 12, 5, true) },
  { name: "lm_head+softcap+CE with row weights (RL advantages), chunks of 4, ignore −1", run: (gpu) => lmHeadCase(gpu, 19, 8, 37, 4, 6, false, true) },
  // cap 0 turns the softcap off: the logits and their gradient pass through unscaled.
  { name: "lm_head+CE without softcap (cap 0) N=13 C=24 V=37", run: (gpu) => lmHeadCase(gpu, 13, 24, 37, 13, 0, false, false, 0) },
  // More rows than one workgroup's threads (the mean's sum loops) and than one grid dimension (2-D grid).
  { name: "lm_head+softcap+CE N=300 (the mean loops over rows)", run: (gpu) => lmHeadCase(gpu, 300, 4, 7, 300, 9) },
  { name: "lm_head+softcap+CE N=65537 C=2 V=3, one chunk (2-D grid)", run: (gpu) => lmHeadCase(gpu, 65537, 2, 3, 65537, 7) },
  { name: "kv cache append + broadcast + decode append, exact (rows=3 capacity=20 width=24 T=7)", run: (gpu) => kvCacheCase(gpu, 3, 20, 24, 7) },
  { name: "kv cache, one row (rows=1 capacity=9 width=8 T=8)", run: (gpu) => kvCacheCase(gpu, 1, 9, 8, 8) },
];
