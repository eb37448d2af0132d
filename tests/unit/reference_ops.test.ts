// The float64 reference's per-op backwards against finite differences of their forwards,
// and each forward against its definition written a second, independent way.
import assert from "node:assert/strict";
import { Rng } from "../../src/util/rng.ts";
import { checkOpGrad, randn, randu } from "../reference/gradcheck.ts";
import { linearBackward, linearForward, matmulAB, matmulABt, matmulAtB } from "../reference/linalg.ts";
import {
  embeddingBackward, embeddingForward, relu2Backward, relu2Forward, residualAdd, RMS_EPS, rmsnormBackward, rmsnormForward,
  rotaryBackward, rotaryForward,
} from "../reference/ops.ts";
import { rotaryTables } from "../../src/model/params.ts";

/** The brief's bound for every finite-difference check. */
const TOL = 1e-6;

function assertGrads(what: string, errors: Record<string, number>): void {
  for (const [name, e] of Object.entries(errors)) {
    assert.ok(e < TOL, `${what}: d${name} relative error ${e.toExponential(2)} is not under ${TOL}`);
  }
}

function transpose(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol * Math.max(1, Math.abs(b[i])), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

Deno.test("reference matmul: AB, ABᵀ and AᵀB agree through explicit transposes", () => {
  const rng = new Rng(1);
  for (const [M, K, N] of [[1, 1, 1], [3, 5, 7], [8, 3, 2], [13, 17, 11]]) {
    const A = randn(rng, M * K), B = randn(rng, K * N);
    const ab = matmulAB(A, B, M, K, N);
    assertClose(matmulABt(A, transpose(B, K, N), M, K, N), ab, 1e-14, `ABt ${M}×${K}×${N}`);
    assertClose(matmulAtB(transpose(A, M, K), B, K, M, N), ab, 1e-14, `AtB ${M}×${K}×${N}`);
    // One entry by hand.
    let s = 0;
    for (let k = 0; k < K; k++) s += A[(M - 1) * K + k] * B[k * N + (N - 1)];
    assert.ok(Math.abs(ab[M * N - 1] - s) < 1e-14);
  }
  assert.throws(() => matmulAB(new Float64Array(5), new Float64Array(6), 2, 3, 2), RangeError);
});

Deno.test("reference linear: y = x·Wᵀ (W as (out, in)); dx, dW by finite differences", () => {
  const rng = new Rng(2);
  for (const [rows, inF, outF] of [[1, 1, 1], [5, 7, 3], [9, 4, 12]]) {
    const x = randn(rng, rows * inF), w = randn(rng, outF * inF);
    const y = linearForward(x, w, rows, inF, outF);
    let y01 = 0;
    for (let i = 0; i < inF; i++) y01 += x[i] * w[(outF - 1) * inF + i];
    assert.ok(Math.abs(y[outF - 1] - y01) < 1e-14, "row 0, last output");
    const errs = checkOpGrad(rng, { x, w }, () => linearForward(x, w, rows, inF, outF), (dy) => {
      const g = linearBackward(dy, x, w, rows, inF, outF);
      return { x: g.dx, w: g.dw };
    });
    assertGrads(`linear ${rows}×${inF}→${outF}`, errs);
  }
});

Deno.test("reference embedding: gathers rows; backward accumulates rows sharing a token", () => {
  const rng = new Rng(3);
  const V = 7, C = 5, N = 11;
  const idx = Int32Array.from([0, 3, 3, 6, 1, 3, 0, 2, 6, 6, 3]);
  const wte = randn(rng, V * C);
  const out = embeddingForward(wte, idx, N, V, C);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) assert.equal(out[n * C + c], wte[idx[n] * C + c]);
  const errs = checkOpGrad(rng, { wte }, () => embeddingForward(wte, idx, N, V, C), (dy) => ({ wte: embeddingBackward(dy, idx, N, V, C) }));
  assertGrads("embedding", errs);
  // Token 4 and 5 never appear: their rows get no gradient.
  const d = embeddingBackward(randn(rng, N * C), idx, N, V, C);
  for (const id of [4, 5]) for (let c = 0; c < C; c++) assert.equal(d[id * C + c], 0);
  assert.throws(() => embeddingForward(wte, Int32Array.from([7]), 1, V, C), RangeError);
  assert.throws(() => embeddingForward(wte, Int32Array.from([-1]), 1, V, C), RangeError);
});

Deno.test("reference rmsnorm: y = x/sqrt(mean(x²)+eps), eps = float32 epsilon; backward by finite differences", () => {
  assert.equal(RMS_EPS, 1.1920928955078125e-7);
  const rng = new Rng(4);
  for (const [rows, dim] of [[1, 1], [3, 7], [4, 8], [5, 64], [2, 33]]) {
    const x = randn(rng, rows * dim, 0.7);
    const { y, rstd } = rmsnormForward(x, rows, dim);
    for (let r = 0; r < rows; r++) {
      let ms = 0;
      for (let i = 0; i < dim; i++) ms += x[r * dim + i] ** 2 / dim;
      assert.ok(Math.abs(rstd[r] - 1 / Math.sqrt(ms + 1.1920929e-7)) < 1e-9 * rstd[r]);
      for (let i = 0; i < dim; i++) assert.ok(Math.abs(y[r * dim + i] - x[r * dim + i] / Math.sqrt(ms + RMS_EPS)) < 1e-14);
    }
    const errs = checkOpGrad(rng, { x }, () => rmsnormForward(x, rows, dim).y, (dy) => {
      const f = rmsnormForward(x, rows, dim);
      return { x: rmsnormBackward(dy, x, f.rstd, rows, dim) };
    });
    assertGrads(`rmsnorm ${rows}×${dim}`, errs);
  }
  // Small rows: eps matters, and the backward still matches (checked at a scale where
  // mean(x²) is comparable to eps).
  const x = randn(rng, 3 * 6, 3e-4);
  assertGrads("rmsnorm tiny rows", checkOpGrad(rng, { x }, () => rmsnormForward(x, 3, 6).y, (dy) => {
    return { x: rmsnormBackward(dy, x, rmsnormForward(x, 3, 6).rstd, 3, 6) };
  }, { h: 1e-8 }));
  // An all-zero row stays zero (rstd = 1/sqrt(eps), finite).
  const z = rmsnormForward(new Float64Array(4), 1, 4);
  assert.deepEqual([...z.y], [0, 0, 0, 0]);
  assert.ok(Math.abs(z.rstd[0] - 1 / Math.sqrt(RMS_EPS)) < 1e-6);
});

Deno.test("reference rotary: half-split convention, posOffset, orthogonal; backward by finite differences", () => {
  const rng = new Rng(5);
  // By hand: hd = 4, one head, position 1: angles θ_i = 1·10000^(−2i/4) = 1, 0.01.
  const tabs = rotaryTables(4, 4);
  const x = Float64Array.from([1, 2, 3, 4]);
  const y = rotaryForward(x, tabs.cos, tabs.sin, { B: 1, T: 1, heads: 1, hd: 4, posOffset: 1 });
  const th = [1, 0.01];
  const want = [
    1 * Math.cos(th[0]) + 3 * Math.sin(th[0]), 2 * Math.cos(th[1]) + 4 * Math.sin(th[1]),
    -1 * Math.sin(th[0]) + 3 * Math.cos(th[0]), -2 * Math.sin(th[1]) + 4 * Math.cos(th[1]),
  ];
  assertClose(y, want, 1e-6, "rotary by hand (float32 tables)");
  // Position 0 is the identity.
  assertClose(rotaryForward(x, tabs.cos, tabs.sin, { B: 1, T: 1, heads: 1, hd: 4 }), x, 0, "rotary at position 0");

  for (const [B, T, heads, hd, pos] of [[1, 1, 1, 2, 0], [2, 5, 3, 6, 0], [2, 4, 2, 8, 3], [1, 7, 1, 16, 9]]) {
    const s = { B, T, heads, hd, posOffset: pos };
    const { cos, sin } = rotaryTables(pos + T + 2, hd);
    const xs = randn(rng, B * T * heads * hd);
    const ys = rotaryForward(xs, cos, sin, s);
    // A rotation per channel pair: the norm of every head vector is kept, and backward(forward(x)) = x.
    for (let r = 0; r < B * T * heads; r++) {
      let nx = 0, ny = 0;
      for (let i = 0; i < hd; i++) {
        nx += xs[r * hd + i] ** 2;
        ny += ys[r * hd + i] ** 2;
      }
      // float32 tables: cos² + sin² = 1 only to ~1e-7.
      assert.ok(Math.abs(nx - ny) < 1e-6 * nx, `norm kept (row ${r})`);
    }
    assertClose(rotaryBackward(rotaryForward(xs, cos, sin, s), cos, sin, s), xs, 1e-6, "inverse");
    assertGrads(`rotary ${B}×${T}×${heads}×${hd}+${pos}`, checkOpGrad(rng, { x: xs }, () => rotaryForward(xs, cos, sin, s), (dy) => {
      return { x: rotaryBackward(dy, cos, sin, s) };
    }));
  }
  // Rows at posOffset p equal rows p… of a sequence that starts at 0 (decode vs prefill).
  const { cos, sin } = rotaryTables(16, 8);
  const seq = randn(rng, 1 * 6 * 2 * 8);
  const full = rotaryForward(seq, cos, sin, { B: 1, T: 6, heads: 2, hd: 8 });
  const tail = rotaryForward(seq.subarray(4 * 16), cos, sin, { B: 1, T: 2, heads: 2, hd: 8, posOffset: 4 });
  assertClose(tail, full.subarray(4 * 16), 0, "offset rows");
  assert.throws(() => rotaryForward(seq, cos, sin, { B: 1, T: 6, heads: 2, hd: 8, posOffset: 11 }), RangeError);
});

Deno.test("reference relu²: forward and backward (finite differences away from 0)", () => {
  const rng = new Rng(6);
  assert.deepEqual([...relu2Forward([-2, -0.5, 0, 0.5, 3])], [0, 0, 0, 0.25, 9]);
  assert.deepEqual([...relu2Backward([1, 1, 1, 1, 1], [-2, -0.5, 0, 0.5, 3])], [0, 0, 0, 1, 6]);
  // Keep |x| ≥ 0.01 so the ±2h stencil never straddles the kink at 0.
  const x = randu(rng, 97, -2, 2).map((v) => (Math.abs(v) < 0.01 ? v + 0.02 * Math.sign(v || 1) : v));
  assertGrads("relu²", checkOpGrad(rng, { x }, () => relu2Forward(x), (dy) => ({ x: relu2Backward(dy, x) })));
});

Deno.test("reference residual add", () => {
  assert.deepEqual([...residualAdd([1, 2, 3], [0.5, -2, 4])], [1.5, 0, 7]);
  assert.throws(() => residualAdd([1, 2], [1]), RangeError);
});
