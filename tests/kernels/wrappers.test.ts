// Every host wrapper checks each tensor it binds against the shape it is given, before any
// kernel runs: one element short, and the op is refused naming that tensor. (The kernels
// trust the sizes, so a missing or wrong check would read or write past a buffer.)
import assert from "node:assert/strict";
import type { Gpu } from "../../src/gpu/device.ts";
import { createTensor, type Tensor } from "../../src/gpu/tensor.ts";
import { attentionForwardOp } from "../../src/nn/attention.ts";
import { LmHeadLoss, softcapOp } from "../../src/nn/cross_entropy.ts";
import { addOp, fillOp, relu2BackwardOp, relu2ForwardOp, scaleOp } from "../../src/nn/elementwise.ts";
import { EmbeddingBackward, embeddingForwardOp } from "../../src/nn/embedding.ts";
import { kvAppendOp, kvBroadcastOp } from "../../src/nn/kv_write.ts";
import { linearBackwardOps, linearOp } from "../../src/nn/linear.ts";
import { matmulOp } from "../../src/nn/matmul.ts";
import { mxfp4DequantizeOp, mxfp4MatmulOp, mxfp4QuantizeOp } from "../../src/nn/mxfp4.ts";
import { axpbyOp, clipFactorOp, sumOfSquaresOps, sumPartialsOp, sumsqPartialOp } from "../../src/nn/reduce.ts";
import { rmsnormBackwardOp, rmsnormForwardOp } from "../../src/nn/rmsnorm.ts";
import { rotaryBackwardOp, rotaryForwardOp } from "../../src/nn/rotary.ts";
import { MAX_TOPK, topKOp } from "../../src/nn/topk.ts";
import { testGpu } from "./gpu.ts";

type Dtype = "f32" | "u32" | "i32";
interface Spec {
  name: string;
  /** Each tensor's element count (and type, when not f32). */
  sizes: Record<string, number | [number, Dtype]>;
  build: (gpu: Gpu, t: Record<string, Tensor>) => Promise<unknown>;
}

const N = 6, C = 3, V = 5, rows = 5, D = 7, n = 10;
const rot = { B: 1, T: 3, heads: 2, hd: 4 };
const att = { B: 1, T: 4, H: 2, Hkv: 1, hd: 4 };
const SPECS: Spec[] = [
  { name: "rmsnorm forward", sizes: { x: rows * D, y: rows * D, rstd: rows }, build: (g, t) => rmsnormForwardOp(g, { x: t.x, y: t.y, rstd: t.rstd }, { rows, D }) },
  { name: "rmsnorm backward", sizes: { x: rows * D, rstd: rows, dy: rows * D, dx: rows * D }, build: (g, t) => rmsnormBackwardOp(g, { x: t.x, rstd: t.rstd, dy: t.dy, dx: t.dx }, { rows, D }) },
  { name: "add", sizes: { a: n, b: n, out: n }, build: (g, t) => addOp(g, { a: t.a, b: t.b, out: t.out }, { n }) },
  { name: "relu² forward", sizes: { x: n, out: n }, build: (g, t) => relu2ForwardOp(g, { x: t.x, out: t.out }, { n }) },
  // The elementwise kernels name their buffers a, b, out: x is bound as a, dy as b.
  { name: "relu² backward", sizes: { a: n, b: n, out: n }, build: (g, t) => relu2BackwardOp(g, { x: t.a, dy: t.b, dx: t.out }, { n }) },
  { name: "scale", sizes: { out: n }, build: (g, t) => scaleOp(g, { x: t.out }, { n }, { alpha: 2 }) },
  { name: "fill", sizes: { out: n }, build: (g, t) => fillOp(g, { out: t.out }, { n }, { value: 1 }) },
  { name: "embedding forward", sizes: { idx: [N, "u32"], wte: V * C, out: N * C }, build: (g, t) => embeddingForwardOp(g, { idx: t.idx, wte: t.wte, out: t.out }, { N, V, C }) },
  { name: "embedding backward", sizes: { dout: N * C, dwte: V * C }, build: (g, t) => EmbeddingBackward.create(g, { dout: t.dout, dwte: t.dwte }, { N, V, C }) },
  { name: "rotary forward", sizes: { x: 24, cos: 6, sin: 6 }, build: (g, t) => rotaryForwardOp(g, { x: t.x, cos: t.cos, sin: t.sin }, rot) },
  { name: "rotary backward at position 2", sizes: { x: 24, cos: 10, sin: 10 }, build: (g, t) => rotaryBackwardOp(g, { dx: t.x, cos: t.cos, sin: t.sin }, { ...rot, posOffset: 2 }) },
  { name: "kv append", sizes: { src: 2 * 3 * 4, cache: 2 * 7 * 4 }, build: (g, t) => kvAppendOp(g, { src: t.src, cache: t.cache }, { B: 2, T: 3, width: 4, capacity: 7 }) },
  { name: "topk", sizes: { logits: 3 * 100 }, build: (g, t) => topKOp(g, { logits: t.logits }, { rows: 3, V: 100, k: 8 }) },
  { name: "kv broadcast", sizes: { cache: 3 * 7 * 4 }, build: (g, t) => kvBroadcastOp(g, { cache: t.cache }, { B: 3, width: 4, capacity: 7 }, { length: 5 }) },
  { name: "sum of squares", sizes: { x: 5000, partials: 2, out: 1 }, build: (g, t) => sumOfSquaresOps(g, { x: t.x, partials: t.partials, out: t.out }, { n: 5000 }) },
  { name: "sum of squares, partials at an offset", sizes: { x: 100, partials: 4 }, build: (g, t) => sumsqPartialOp(g, { x: t.x, partials: t.partials }, { n: 100, offset: 3 }) },
  { name: "sum of partials", sizes: { partials: 9, out: 1 }, build: (g, t) => sumPartialsOp(g, { partials: t.partials, out: t.out }, { n: 9 }) },
  { name: "clip factor", sizes: { state: 3 }, build: (g, t) => clipFactorOp(g, { state: t.state }, { maxNorm: 1 }) },
  { name: "axpby", sizes: { x: n, y: n }, build: (g, t) => axpbyOp(g, { x: t.x, y: t.y }, { n }, { alpha: 1, beta: 1 }) },
  {
    name: "lm_head loss", sizes: { x: N * C, w: V * C, targets: [N, "i32"], losses: N, loss: 1, dx: N * C, dw: V * C },
    build: (g, t) => LmHeadLoss.create(g, { x: t.x, w: t.w, targets: t.targets, losses: t.losses, loss: t.loss, dx: t.dx, dw: t.dw }, { N, C, V }),
  },
  { name: "softcap", sizes: { logits: rows * V }, build: (g, t) => softcapOp(g, { logits: t.logits }, { rows, V }) },
  { name: "matmul Aᵀ·B", sizes: { A: 4 * 3, B: 4 * 5, C: 3 * 5 }, build: (g, t) => matmulOp(g, { a: t.A, b: t.B, c: t.C }, { M: 3, N: 5, K: 4 }, { transA: true }) },
  { name: "linear", sizes: { A: N * C, B: 4 * C, C: N * 4 }, build: (g, t) => linearOp(g, { x: t.A, w: t.B, y: t.C }, { N, inF: C, outF: 4 }) },
  {
    name: "linear backward", sizes: { x: N * C, w: 4 * C, dy: N * 4, dx: N * C, dw: 4 * C },
    build: (g, t) => linearBackwardOps(g, { x: t.x, w: t.w, dy: t.dy, dx: t.dx, dw: t.dw }, { N, inF: C, outF: 4 }),
  },
  // MXFP4 of 3 × 40: two blocks a row, 24 block words, 6 scale bytes in 2 words.
  { name: "mxfp4 quantize", sizes: { x: 120, blocks: [24, "u32"], scales: [2, "u32"] }, build: (g, t) => mxfp4QuantizeOp(g, { x: t.x, blocks: t.blocks, scales: t.scales }, { rows: 3, K: 40 }) },
  { name: "mxfp4 dequantize", sizes: { blocks: [24, "u32"], scales: [2, "u32"], out: 120 }, build: (g, t) => mxfp4DequantizeOp(g, { blocks: t.blocks, scales: t.scales, out: t.out }, { rows: 3, K: 40 }) },
  {
    name: "mxfp4 matmul", sizes: { x: 2 * 40, blocks: [24, "u32"], scales: [2, "u32"], y: 2 * 3 },
    build: (g, t) => mxfp4MatmulOp(g, { x: t.x, w: { blocks: t.blocks, scales: t.scales }, y: t.y }, { M: 2, N: 3, K: 40 }),
  },
  {
    name: "attention forward", sizes: { q: 4 * 2 * 4, k: 4 * 4, v: 4 * 4, o: 4 * 2 * 4, lse: 2 * 4 },
    build: (g, t) => attentionForwardOp(g, { q: t.q, k: t.k, v: t.v, o: t.o, lse: t.lse }, att),
  },
];

/** What a shrunken tensor is called in the error: linear's x/w/dy show up as matmul's A/B/C. */
const SHOWN: Record<string, Record<string, string>> = {
  "linear backward": { x: "B", w: "B", dy: "A", dx: "C", dw: "C" },
};

Deno.test({
  name: "every nn wrapper refuses a tensor one element short of its shape, naming it",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const gpu = await testGpu();
    for (const spec of SPECS) {
      const make = (shrink: string | null) =>
        Object.fromEntries(Object.entries(spec.sizes).map(([role, s]) => {
          const [count, dtype] = Array.isArray(s) ? s : [s, "f32" as Dtype];
          return [role, createTensor(gpu, [count - (role === shrink ? 1 : 0)], dtype, role)];
        }));
      await spec.build(gpu, make(null)); // the exact sizes are accepted
      for (const role of Object.keys(spec.sizes)) {
        const shown = SHOWN[spec.name]?.[role] ?? role;
        await assert.rejects(async () => await spec.build(gpu, make(role)), new RegExp(`\\b${shown}\\b`), `${spec.name}: ${role} one short`);
      }
    }
  },
});

Deno.test({
  name: "topk keeps at most 64 candidates a row (the kernel's per-thread lists) and at most V, and refuses more, naming k",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const gpu = await testGpu();
    assert.equal(MAX_TOPK, 64);
    const logits = createTensor(gpu, [2 * 100], "f32", "logits");
    (await topKOp(gpu, { logits }, { rows: 2, V: 100, k: 64 })).destroy();
    await assert.rejects(() => topKOp(gpu, { logits }, { rows: 2, V: 100, k: 65 }), /k must be 1 … min\(64, V\)/);
    await assert.rejects(() => topKOp(gpu, { logits }, { rows: 2, V: 100, k: 0 }), /k must be/);
    const small = createTensor(gpu, [2 * 10], "f32", "small");
    await assert.rejects(() => topKOp(gpu, { logits: small }, { rows: 2, V: 10, k: 11 }), /k must be/);
    logits.destroy();
    small.destroy();
  },
});
