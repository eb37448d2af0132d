// Bounds: every kernel run on tensors that are views (prefixView) into larger buffers
// whose tails hold a sentinel. The kernels bind the whole buffer, so a guard that is off
// by one (i <= n for i < n, a row past the last) or a read past the end shows up: a write
// past the view changes the tail, a read past it brings the sentinel into the result.
// Sizes are chosen so the last workgroup has threads past the end. Results must still
// match the float64 references (same bounds as the other cases).
import type { Gpu } from "../../../src/gpu/device.ts";
import { type Op, runOps } from "../../../src/gpu/kernel.ts";
import { createTensor, NAN_BITS, prefixView, readF32, readTensor, type Tensor, writeTensor } from "../../../src/gpu/tensor.ts";
import { attentionBackwardOps, attentionForwardOp } from "../../../src/nn/attention.ts";
import { LmHeadLoss, softcapOp } from "../../../src/nn/cross_entropy.ts";
import { addOp, fillOp, relu2BackwardOp, relu2ForwardOp, scaleOp } from "../../../src/nn/elementwise.ts";
import { EmbeddingBackward, embeddingForwardOp } from "../../../src/nn/embedding.ts";
import { kvAppendOp, kvBroadcastOp } from "../../../src/nn/kv_write.ts";
import { matmulOp } from "../../../src/nn/matmul.ts";
import { axpbyOp, sumOfSquaresOps } from "../../../src/nn/reduce.ts";
import { rotaryBackwardOp, rotaryForwardOp } from "../../../src/nn/rotary.ts";
import { rotaryTables } from "../../../src/model/params.ts";
import { AdamW, NANOCHAT_ADAMW } from "../../../src/optim/adamw.ts";
import { Muon } from "../../../src/optim/muon.ts";
import { attentionBackward, attentionForward } from "../../reference/attention.ts";
import { lmHeadLossBackward, lmHeadLossForward, softcapForward } from "../../reference/loss.ts";
import { embeddingBackward, embeddingForward, relu2Backward, relu2Forward, residualAdd, rotaryBackward, rotaryForward } from "../../reference/ops.ts";
import { adamwRefStep, muonRefStep } from "../../reference/optim_ref.ts";
import { freshRng, type KernelCase, matmulRef, randomF32, relErr } from "../harness.ts";

/** Past the end of every view: more than one workgroup of 256 threads. */
const PAD = 300;
/** Finite values no kernel here produces, large enough to spoil any sum they leak into; one per buffer, so a tail copied into another tail still shows. */
const SENTINEL = 4096.5;
let nextSentinel = 0;

interface Slack {
  t: Tensor;
  full: Tensor;
  n: number;
  /** The tail's value (bits, for integer buffers). */
  tail: number;
}

/** A view of n elements (shape) over a buffer of n + PAD: body = data (or NaN poison), tail = SENTINEL. */
function slack(gpu: Gpu, shape: number[], data?: ArrayLike<number>, dtype: "f32" | "u32" | "i32" = "f32"): Slack {
  const n = shape.reduce((a, b) => a * b, 1);
  const full = createTensor(gpu, [n + PAD], dtype, "slack");
  const body = dtype === "f32" ? new Float32Array(n + PAD) : dtype === "u32" ? new Uint32Array(n + PAD) : new Int32Array(n + PAD);
  if (data) body.set(data);
  else if (dtype === "f32") new Uint32Array(body.buffer).fill(NAN_BITS, 0, n);
  const k = nextSentinel++ % 64;
  const tail = dtype === "f32" ? SENTINEL + k : 0x7eadbe00 + k;
  body.fill(tail, n);
  writeTensor(full, body);
  return { t: prefixView(full, shape), full, n, tail: dtype === "f32" ? new Uint32Array(new Float32Array([tail]).buffer)[0] : tail };
}

/** How many tail elements of these buffers changed. */
async function touchedTails(parts: Slack[]): Promise<number> {
  let touched = 0;
  for (const s of parts) {
    const bits = new Uint32Array((await readTensor(s.full)).buffer).subarray(s.n);
    touched += bits.filter((b) => b !== s.tail).length;
  }
  return touched;
}

async function body(s: Slack): Promise<Float32Array> {
  return (await readF32(s.full)).slice(0, s.n);
}

async function verdict(parts: Slack[], pairs: [Slack, ArrayLike<number>][], bound: number) {
  const touched = await touchedTails(parts);
  let err = 0;
  for (const [s, ref] of pairs) err = Math.max(err, relErr(await body(s), ref));
  for (const p of parts) p.full.destroy();
  return touched ? { relErr: Infinity, bound, detail: `${touched} values past the end of a view changed` } : { relErr: err, bound };
}

async function run(gpu: Gpu, ops: Op[]) {
  await runOps(gpu, ops);
}

async function elementwiseBounds(gpu: Gpu) {
  const rng = freshRng(), n = 1000;
  const a = randomF32(rng, n), b = randomF32(rng, n), dy = randomF32(rng, n);
  const A = slack(gpu, [n], a), Bv = slack(gpu, [n], b), DY = slack(gpu, [n], dy);
  const sum = slack(gpu, [n]), act = slack(gpu, [n]), dx = slack(gpu, [n]), S = slack(gpu, [n], a), F = slack(gpu, [n]);
  await run(gpu, [
    await addOp(gpu, { a: A.t, b: Bv.t, out: sum.t }, { n }),
    await relu2ForwardOp(gpu, { x: A.t, out: act.t }, { n }),
    await relu2BackwardOp(gpu, { x: A.t, dy: DY.t, dx: dx.t }, { n }),
    await scaleOp(gpu, { x: S.t }, { n }, { alpha: -2 }),
    await fillOp(gpu, { out: F.t }, { n }, { value: 0.25 }),
  ]);
  return verdict([A, Bv, DY, sum, act, dx, S, F], [[sum, residualAdd(a, b)], [act, relu2Forward(a)], [dx, relu2Backward(dy, a)], [S, a.map((x) => -2 * x)], [F, new Float32Array(n).fill(0.25)]], 1e-6);
}

async function reduceBounds(gpu: Gpu) {
  const rng = freshRng(), n = 5000, m = 1000;
  const x = randomF32(rng, n), ax = randomF32(rng, m), ay = randomF32(rng, m);
  const X = slack(gpu, [n], x), partials = slack(gpu, [8]), out = slack(gpu, [4]), AX = slack(gpu, [m], ax), AY = slack(gpu, [m], ay);
  await run(gpu, [
    ...await sumOfSquaresOps(gpu, { x: X.t, partials: partials.t, out: out.t }, { n }),
    await axpbyOp(gpu, { x: AX.t, y: AY.t }, { n: m }, { alpha: 3, beta: -1 }),
  ]);
  const sq = x.reduce((s, v) => s + v * v, 0);
  const got = (await body(out))[0];
  const r = await verdict([X, partials, out, AX, AY], [[AY, ay.map((y, i) => 3 * ax[i] - y)]], 1e-5);
  return { ...r, relErr: Math.max(r.relErr, Math.abs(got - sq) / sq) };
}

async function adamwBounds(gpu: Gpu) {
  const rng = freshRng(), n = 777;
  const p0 = randomF32(rng, n), g = randomF32(rng, n);
  const P = slack(gpu, [n], p0), G = slack(gpu, [n], g), scale = slack(gpu, [4], [0, 0, 0.5, 0]);
  const hyper = { ...NANOCHAT_ADAMW, weightDecay: 0.1 };
  const opt = await AdamW.create(gpu, [{ name: "p", param: P.t, grad: G.t, lr: 0.01 }], hyper, scale.t);
  opt.prepareStep(1);
  await run(gpu, opt.ops);
  const ref = Float64Array.from(p0);
  adamwRefStep(ref, g.map((x) => x * 0.5), { m: new Float64Array(n), v: new Float64Array(n), t: 0 }, { ...hyper, lr: 0.01 });
  opt.destroy();
  return verdict([P, G, scale], [[P, ref]], 1e-5);
}

async function muonBounds(gpu: Gpu) {
  // Two matrices: the scratch is sized for the larger, so a stray read past the smaller
  // one's end finds real numbers (the larger one's iterate), not a discarded access.
  const rng = freshRng();
  const shapes: [number, number][] = [[32, 48], [24, 40]];
  const p0 = shapes.map(([r, c]) => randomF32(rng, r * c, 0.1)), g = shapes.map(([r, c]) => randomF32(rng, r * c));
  const P = shapes.map((s, i) => slack(gpu, s, p0[i])), G = shapes.map((s, i) => slack(gpu, s, g[i])), scale = slack(gpu, [4], [0, 0, 1, 0]);
  const opt = await Muon.create(gpu, shapes.map((_, i) => ({ name: `w${i}`, param: P[i].t, grad: G[i].t, lr: 0.02 })), scale.t);
  opt.prepareStep(1, 0.9);
  await run(gpu, opt.ops);
  let err = 0;
  for (const [i, [rows, cols]] of shapes.entries()) {
    const ref = Float64Array.from(p0[i]);
    muonRefStep(ref, g[i], { buf: new Float64Array(rows * cols) }, rows, cols, 0.02, 0.9);
    err = Math.max(err, relErr((await body(P[i])).map((x, j) => x - p0[i][j]), ref.map((x, j) => x - p0[i][j])));
  }
  const touched = await touchedTails([...P, ...G, scale]);
  opt.destroy();
  for (const s of [...P, ...G, scale]) s.full.destroy();
  return touched ? { relErr: Infinity, bound: 1e-3, detail: `${touched} values past the end changed` } : { relErr: err, bound: 1e-3 };
}

async function rotaryBounds(gpu: Gpu) {
  const rng = freshRng(), s = { B: 2, T: 5, heads: 3, hd: 8, posOffset: 2 };
  const n = s.B * s.T * s.heads * s.hd, tables = rotaryTables(s.posOffset + s.T, s.hd);
  const x = randomF32(rng, n), dy = randomF32(rng, n);
  const X = slack(gpu, [n], x), DY = slack(gpu, [n], dy), cos = slack(gpu, [tables.cos.length], tables.cos), sin = slack(gpu, [tables.sin.length], tables.sin);
  await run(gpu, [await rotaryForwardOp(gpu, { x: X.t, cos: cos.t, sin: sin.t }, s), await rotaryBackwardOp(gpu, { dx: DY.t, cos: cos.t, sin: sin.t }, s)]);
  return verdict([X, DY, cos, sin], [[X, rotaryForward(x, tables.cos, tables.sin, s)], [DY, rotaryBackward(dy, tables.cos, tables.sin, s)]], 1e-5);
}

async function embeddingBounds(gpu: Gpu) {
  const rng = freshRng(), N = 37, V = 19, C = 7;
  const ids = Int32Array.from({ length: N }, (_, i) => (i % 3 === 0 ? V - 1 : rng.int(V)));
  const wte = randomF32(rng, V * C), dout = randomF32(rng, N * C), dwte0 = randomF32(rng, V * C);
  const IDX = slack(gpu, [N], Uint32Array.from(ids), "u32"), W = slack(gpu, [V * C], wte), OUT = slack(gpu, [N * C]);
  const DOUT = slack(gpu, [N * C], dout), DW = slack(gpu, [V * C], dwte0);
  const back = await EmbeddingBackward.create(gpu, { dout: DOUT.t, dwte: DW.t }, { N, V, C });
  back.setTokens(ids);
  await run(gpu, [await embeddingForwardOp(gpu, { idx: IDX.t, wte: W.t, out: OUT.t }, { N, V, C }), back]);
  back.destroy();
  const dref = embeddingBackward(dout, ids, N, V, C).map((v, i) => v + dwte0[i]);
  return verdict([IDX, W, OUT, DOUT, DW], [[OUT, embeddingForward(wte, ids, N, V, C)], [DW, dref]], 1e-5);
}

async function lossBounds(gpu: Gpu) {
  const rng = freshRng(), N = 13, C = 8, V = 37;
  const x = randomF32(rng, N * C), w = randomF32(rng, V * C, 2), dw0 = randomF32(rng, V * C);
  const targets = Int32Array.from({ length: N }, (_, i) => (i === 4 ? -1 : i % 2 ? V - 1 : rng.int(V)));
  const X = slack(gpu, [N * C], x), Wt = slack(gpu, [V * C], w), T = slack(gpu, [N], targets, "i32");
  const L = slack(gpu, [N]), LOSS = slack(gpu, [1]), DX = slack(gpu, [N * C]), DW = slack(gpu, [V * C], dw0);
  const head = await LmHeadLoss.create(gpu, { x: X.t, w: Wt.t, targets: T.t, losses: L.t, loss: LOSS.t, dx: DX.t, dw: DW.t }, { N, C, V }, { chunkRows: 5 });
  head.setSupervisedCount(N - 1);
  await run(gpu, head.trainOps);
  head.destroy();
  const ref = lmHeadLossForward(x, w, targets, N, C, V), dref = lmHeadLossBackward(x, w, targets, N, C, V);
  // softcap alone, on a view of rows × V logits
  const z = randomF32(rng, 3 * V, 30), Z = slack(gpu, [3 * V], z);
  await run(gpu, [await softcapOp(gpu, { logits: Z.t }, { rows: 3, V })]);
  return verdict([X, Wt, T, L, LOSS, DX, DW, Z], [[L, ref.losses], [LOSS, [ref.loss]], [DX, dref.dx], [DW, dref.dw.map((v, i) => v + dw0[i])], [Z, softcapForward(z)]], 1e-5);
}

async function kvBounds(gpu: Gpu) {
  const rng = freshRng(), rows = 2, capacity = 9, width = 6, T = 4;
  const cache0 = randomF32(rng, rows * capacity * width), src = randomF32(rng, rows * T * width);
  const CACHE = slack(gpu, [rows, capacity, width], cache0), SRC = slack(gpu, [rows * T * width], src);
  const append = await kvAppendOp(gpu, { src: SRC.t, cache: CACHE.t }, { B: rows, T, width, capacity });
  append.setPos(capacity - T); // the last positions: one more row would run past the cache
  // Then row 0's first 5 positions to row 1: 30 elements, so most of the 256 threads of the
  // one workgroup are past the end, and a thread one past the last must not write.
  const broadcast = await kvBroadcastOp(gpu, { cache: CACHE.t }, { B: rows, width, capacity }, { length: 5 });
  await run(gpu, [append, broadcast]);
  const want = Float32Array.from(cache0);
  for (let b = 0; b < rows; b++) want.set(src.subarray(b * T * width, (b + 1) * T * width), (b * capacity + capacity - T) * width);
  want.copyWithin(capacity * width, 0, 5 * width);
  return verdict([CACHE, SRC], [[CACHE, want]], 1e-7);
}

async function matmulBounds(gpu: Gpu) {
  const rng = freshRng(), M = 67, N = 33, K = 21;
  const a = randomF32(rng, M * K), b = randomF32(rng, N * K), c0 = randomF32(rng, M * N);
  const A = slack(gpu, [M * K], a), Bm = slack(gpu, [N * K], b), Cm = slack(gpu, [M * N], c0), S = slack(gpu, [3 * N], c0.subarray(0, 3 * N));
  await run(gpu, [
    await matmulOp(gpu, { a: A.t, b: Bm.t, c: Cm.t }, { M, N, K }, { transB: true, accumulate: true }),
    await matmulOp(gpu, { a: A.t, b: Bm.t, c: S.t }, { M: 3, N, K }, { transB: true, skinny: true }),
  ]);
  const full = matmulRef(a, b, M, N, K, { transB: true });
  return verdict([A, Bm, Cm, S], [[Cm, full.map((v, i) => v + c0[i])], [S, full.subarray(0, 3 * N)]], 1e-5);
}

async function attentionBounds(gpu: Gpu) {
  const rng = freshRng(), s = { B: 2, T: 11, H: 4, Hkv: 2, hd: 8 };
  const nq = s.B * s.T * s.H * s.hd, nk = s.B * s.T * s.Hkv * s.hd, nl = s.B * s.H * s.T;
  const q = randomF32(rng, nq), k = randomF32(rng, nk), v = randomF32(rng, nk), dO = randomF32(rng, nq);
  const Q = slack(gpu, [nq], q), Kt = slack(gpu, [nk], k), Vt = slack(gpu, [nk], v), O = slack(gpu, [nq]), LSE = slack(gpu, [nl]);
  const DO = slack(gpu, [nq], dO), DQ = slack(gpu, [nq]), DK = slack(gpu, [nk]), DV = slack(gpu, [nk]), DELTA = slack(gpu, [nl]);
  await run(gpu, [await attentionForwardOp(gpu, { q: Q.t, k: Kt.t, v: Vt.t, o: O.t, lse: LSE.t }, s)]);
  const back = await attentionBackwardOps(gpu, { q: Q.t, k: Kt.t, v: Vt.t, o: O.t, lse: LSE.t, dO: DO.t, dq: DQ.t, dk: DK.t, dv: DV.t, delta: DELTA.t }, s);
  await run(gpu, back);
  const ref = attentionForward(q, k, v, s);
  const dref = attentionBackward(dO, q, k, v, ref.o, ref.lse, s);
  return verdict([Q, Kt, Vt, O, LSE, DO, DQ, DK, DV, DELTA], [[O, ref.o], [LSE, ref.lse], [DQ, dref.dq], [DK, dref.dk], [DV, dref.dv]], 1e-4);
}

export const boundsCases: KernelCase[] = [
  { name: "bounds: add, relu² fwd/bwd, scale, fill on views (n=1000) write nothing past n", run: elementwiseBounds },
  { name: "bounds: sum of squares and axpby read and write only their n", run: reduceBounds },
  { name: "bounds: adamw on a view (n=777)", run: adamwBounds },
  { name: "bounds: muon on 32×48 and 24×40 views", run: muonBounds },
  { name: "bounds: rotary fwd/bwd on views", run: rotaryBounds },
  { name: "bounds: embedding fwd/bwd on views (id V−1 included)", run: embeddingBounds },
  { name: "bounds: lm_head+CE (chunks of 5) and softcap on views", run: lossBounds },
  { name: "bounds: kv append into the last positions of a view, and a broadcast one thread past its end", run: kvBounds },
  { name: "bounds: tiled and skinny matmul on views", run: matmulBounds },
  { name: "bounds: attention fwd/bwd on views", run: attentionBounds },
];
