// Kernels over more elements than one grid dimension of workgroups holds: 65,535 × 256
// threads is 16.8 M elements, and real models pass it (the d20 embedding has 84 M), so
// these dispatches use 2-D grids and rebuild the index as y·(x·workgroup) + x. Each kernel
// runs once just past that size and every element is checked against a plain loop.
// (Deno only: the buffers are 67 MB each.)
import assert from "node:assert/strict";
import type { Gpu } from "../../src/gpu/device.ts";
import { type Op, runOps } from "../../src/gpu/kernel.ts";
import { readF32, type Tensor, uploadTensor } from "../../src/gpu/tensor.ts";
import { softcapOp } from "../../src/nn/cross_entropy.ts";
import { addOp, fillOp, relu2BackwardOp, relu2ForwardOp, scaleOp } from "../../src/nn/elementwise.ts";
import { embeddingForwardOp } from "../../src/nn/embedding.ts";
import { kvAppendOp } from "../../src/nn/kv_write.ts";
import { axpbyOp } from "../../src/nn/reduce.ts";
import { rotaryForwardOp } from "../../src/nn/rotary.ts";
import { rotaryTables } from "../../src/model/params.ts";
import { AdamW, NANOCHAT_ADAMW } from "../../src/optim/adamw.ts";
import { testGpu } from "./gpu.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
/** Just past one grid dimension of 256-thread workgroups. */
const BIG = 65535 * 256 + 4097;

/** Values that differ at every index (so a wrong index is a wrong value), cheap to recompute. */
function pattern(n: number, k: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = ((i * 7 + k * 13) % 1009) / 1009 - 0.5;
  return a;
}

/** The first index where got differs from want(i) by more than tol, or −1. */
function firstMismatch(got: Float32Array, want: (i: number) => number, tol = 1e-6): number {
  for (let i = 0; i < got.length; i++) if (!(Math.abs(got[i] - want(i)) <= tol * Math.max(1, Math.abs(want(i))))) return i;
  return -1;
}

async function check(gpu: Gpu, name: string, ops: Op[], out: Tensor, want: (i: number) => number, tol?: number) {
  await runOps(gpu, ops);
  const got = await readF32(out);
  const bad = firstMismatch(got, want, tol);
  assert.equal(bad, -1, `${name}: element ${bad} of ${got.length} is ${got[bad]}, expected ${want(bad)}`);
}

Deno.test({
  ...opts,
  name: "large grids: add, relu² fwd/bwd, scale, fill, axpby and softcap reach every one of 16.8 M elements",
  fn: async () => {
    const gpu = await testGpu();
    const a = pattern(BIG, 1), b = pattern(BIG, 2);
    const ta = uploadTensor(gpu, a), tb = uploadTensor(gpu, b), out = uploadTensor(gpu, new Float32Array(BIG));
    const n = BIG;
    await check(gpu, "add", [await addOp(gpu, { a: ta, b: tb, out }, { n })], out, (i) => a[i] + b[i]);
    await check(gpu, "relu²", [await relu2ForwardOp(gpu, { x: ta, out }, { n })], out, (i) => Math.max(a[i], 0) ** 2);
    await check(gpu, "relu² backward", [await relu2BackwardOp(gpu, { x: ta, dy: tb, dx: out }, { n })], out, (i) => b[i] * 2 * Math.max(a[i], 0));
    await check(gpu, "fill", [await fillOp(gpu, { out }, { n }, { value: 0.5 })], out, () => 0.5);
    await check(gpu, "scale", [await scaleOp(gpu, { x: out }, { n }, { alpha: -3 })], out, () => -1.5);
    await check(gpu, "axpby", [await axpbyOp(gpu, { x: ta, y: out }, { n }, { alpha: 2, beta: 1 })], out, (i) => 2 * a[i] - 1.5);
    await check(gpu, "softcap", [await softcapOp(gpu, { logits: tb }, { rows: 1, V: n }, { cap: 0.25 })], tb, (i) => 0.25 * Math.tanh(b[i] / 0.25));
    for (const t of [ta, tb, out]) t.destroy();
  },
});

Deno.test({
  ...opts,
  name: "large grids: an AdamW step over 16.8 M parameters updates every one",
  fn: async () => {
    const gpu = await testGpu();
    const p0 = pattern(BIG, 3), g = pattern(BIG, 4);
    const p = uploadTensor(gpu, p0), grad = uploadTensor(gpu, g), scale = uploadTensor(gpu, new Float32Array([0, 0, 1, 0]));
    const opt = await AdamW.create(gpu, [{ name: "big", param: p, grad, lr: 0.01 }], NANOCHAT_ADAMW, scale);
    opt.prepareStep(1);
    // Step 1 of Adam moves each weight by lr·g/(|g| + eps/sqrt(1−β2)) = ±lr (g ≠ 0 here).
    await check(gpu, "adamw", opt.ops, p, (i) => p0[i] - 0.01 * Math.sign(g[i]), 1e-5);
    opt.destroy();
    for (const t of [p, grad, scale]) t.destroy();
  },
});

Deno.test({
  ...opts,
  name: "large grids: embedding lookup, KV-cache append and rotary over more than one grid dimension",
  fn: async () => {
    const gpu = await testGpu();
    // Embedding: 65,537 positions × 257 channels.
    const N = 65537, C = 257, V = 11;
    const wte = pattern(V * C, 5), ids = Uint32Array.from({ length: N }, (_, i) => (i * 5) % V);
    const tw = uploadTensor(gpu, wte), ti = uploadTensor(gpu, ids), out = uploadTensor(gpu, new Float32Array(N * C));
    await check(gpu, "embedding", [await embeddingForwardOp(gpu, { idx: ti, wte: tw, out }, { N, V, C })], out, (i) => wte[ids[Math.floor(i / C)] * C + (i % C)]);
    for (const t of [tw, ti, out]) t.destroy();
    // KV append: one sequence of 4,100 rows × 4,096 floats into a cache of 4,101 positions at position 1.
    const T = 4100, width = 4096, capacity = T + 1;
    const src = pattern(T * width, 6);
    const ts = uploadTensor(gpu, src), cache = uploadTensor(gpu, new Float32Array(capacity * width).fill(9));
    const append = await kvAppendOp(gpu, { src: ts, cache }, { B: 1, T, width, capacity });
    append.setPos(1);
    await check(gpu, "kv append", [append], cache, (i) => (i < width ? 9 : src[i - width]));
    for (const t of [ts, cache]) t.destroy();
    // Rotary: 64-thread workgroups, so 4.2 M pairs already need two dimensions.
    const s = { B: 1, T: 4097, heads: 32, hd: 64 };
    const tables = rotaryTables(s.T, s.hd), x = pattern(s.T * s.heads * s.hd, 7);
    const tx = uploadTensor(gpu, x), cos = uploadTensor(gpu, tables.cos), sin = uploadTensor(gpu, tables.sin);
    const half = s.hd / 2;
    const want = (i: number) => {
      const d = i % s.hd, row = Math.floor(i / (s.heads * s.hd)), j = d % half, base = i - d;
      const c = tables.cos[row * half + j], sn = tables.sin[row * half + j];
      const x1 = x[base + j], x2 = x[base + half + j];
      return d < half ? x1 * c + x2 * sn : -x1 * sn + x2 * c;
    };
    await check(gpu, "rotary", [await rotaryForwardOp(gpu, { x: tx, cos, sin }, s)], tx, want, 1e-5);
    for (const t of [tx, cos, sin]) t.destroy();
  },
});
