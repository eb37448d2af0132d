// The float64 reference's softcap, cross-entropy (ignore_index −1) and fused
// lm_head + softcap + CE, forward against definitions and backward by finite differences.
import assert from "node:assert/strict";
import { Rng } from "../../src/util/rng.ts";
import { checkOpGrad, maxRelError, numericGrad, randn } from "../reference/gradcheck.ts";
import {
  crossEntropyBackward, crossEntropyForward, lmHeadLossBackward, lmHeadLossForward, SOFTCAP, softcapBackward, softcapForward,
} from "../reference/loss.ts";

const TOL = 1e-6;

Deno.test("reference softcap: 15·tanh(z/15), bounded, ≈ identity near 0; backward by finite differences", () => {
  assert.equal(SOFTCAP, 15);
  const y = softcapForward([0, 15, -15, 1e-3, 1e4, -1e4]);
  assert.equal(y[0], 0);
  assert.ok(Math.abs(y[1] - 15 * Math.tanh(1)) < 1e-14 && Math.abs(y[2] + 15 * Math.tanh(1)) < 1e-14);
  assert.ok(Math.abs(y[3] - 1e-3) < 1e-9);
  assert.ok(y[4] <= 15 && y[4] > 14.999 && y[5] >= -15 && y[5] < -14.999);
  const rng = new Rng(21);
  const z = randn(rng, 64, 20); // spans the linear and the saturating parts
  const errs = checkOpGrad(rng, { z }, () => softcapForward(z), (dy) => ({ z: softcapBackward(dy, z) }));
  assert.ok(errs.z < TOL, `softcap dz ${errs.z}`);
  // Another cap.
  assert.ok(Math.abs(softcapForward([3], 30)[0] - 30 * Math.tanh(0.1)) < 1e-14);
});

Deno.test("reference cross-entropy: −log softmax[target], mean over targets ≠ −1", () => {
  const rng = new Rng(22);
  const N = 6, V = 5;
  const logits = randn(rng, N * V, 3);
  const targets = Int32Array.from([2, -1, 0, 4, -1, 1]);
  const { loss, losses, count } = crossEntropyForward(logits, targets, N, V);
  assert.equal(count, 4);
  let sum = 0;
  for (let n = 0; n < N; n++) {
    if (targets[n] === -1) {
      assert.equal(losses[n], 0, "ignored rows have loss 0");
      continue;
    }
    let z = 0;
    for (let j = 0; j < V; j++) z += Math.exp(logits[n * V + j]);
    const want = -Math.log(Math.exp(logits[n * V + targets[n]]) / z);
    assert.ok(Math.abs(losses[n] - want) < 1e-12);
    sum += want;
  }
  assert.ok(Math.abs(loss - sum / 4) < 1e-12);
  // Ignored rows contribute nothing: their logits can be anything.
  const other = logits.slice();
  for (const n of [1, 4]) for (let j = 0; j < V; j++) other[n * V + j] = 1e3 * (j + 1);
  assert.equal(crossEntropyForward(other, targets, N, V).loss, loss);
  const d = crossEntropyBackward(logits, targets, N, V);
  for (const n of [1, 4]) for (let j = 0; j < V; j++) assert.equal(d[n * V + j], 0);
  // Supervised rows of dlogits sum to 0 (softmax − onehot).
  for (const n of [0, 2, 3, 5]) assert.ok(Math.abs(d.subarray(n * V, n * V + V).reduce((a, b) => a + b, 0)) < 1e-15);
  // Huge logits stay finite.
  assert.ok(Number.isFinite(crossEntropyForward(Float64Array.from({ length: V }, (_, j) => 800 * j), Int32Array.from([0]), 1, V).loss));
});

Deno.test("reference cross-entropy backward by finite differences (with ignored rows, gradScale)", () => {
  const rng = new Rng(23);
  for (const [N, V] of [[1, 2], [7, 11], [12, 33]]) {
    const logits = randn(rng, N * V, 2);
    const targets = Int32Array.from({ length: N }, (_, n) => (n % 3 === 1 ? -1 : rng.int(V)));
    if (targets.every((t) => t === -1)) targets[0] = 0;
    const an = crossEntropyBackward(logits, targets, N, V, { gradScale: 0.25 });
    const num = numericGrad(() => 0.25 * crossEntropyForward(logits, targets, N, V).loss, logits);
    const e = maxRelError(an, num);
    assert.ok(e < TOL, `CE ${N}×${V}: ${e}`);
  }
});

Deno.test("reference cross-entropy: all targets ignored → loss 0 and zero gradient (GPU convention, PyTorch gives NaN)", () => {
  const logits = randn(new Rng(24), 3 * 4);
  const t = Int32Array.from([-1, -1, -1]);
  const r = crossEntropyForward(logits, t, 3, 4);
  assert.equal(r.loss, 0);
  assert.equal(r.count, 0);
  assert.ok(crossEntropyBackward(logits, t, 3, 4).every((x) => x === 0));
  assert.throws(() => crossEntropyForward(logits, Int32Array.from([4, 0, 0]), 3, 4), RangeError);
  assert.throws(() => crossEntropyForward(logits, Int32Array.from([-2, 0, 0]), 3, 4), RangeError);
});

Deno.test("reference lm_head + softcap + CE: forward composes the pieces; dx, dW by finite differences", () => {
  const rng = new Rng(25);
  for (const [N, C, V] of [[1, 1, 2], [5, 7, 13], [10, 16, 40]]) {
    // Large weights so some logits saturate the cap.
    const x = randn(rng, N * C), w = randn(rng, V * C, 4);
    const targets = Int32Array.from({ length: N }, (_, n) => (n % 4 === 2 ? -1 : rng.int(V)));
    const f = lmHeadLossForward(x, w, targets, N, C, V);
    for (let i = 0; i < f.z.length; i++) assert.equal(f.logits[i], 15 * Math.tanh(f.z[i] / 15));
    assert.equal(f.loss, crossEntropyForward(f.logits, targets, N, V).loss);
    const g = lmHeadLossBackward(x, w, targets, N, C, V, { gradScale: 2 });
    const ex = maxRelError(g.dx, numericGrad(() => 2 * lmHeadLossForward(x, w, targets, N, C, V).loss, x));
    const ew = maxRelError(g.dw, numericGrad(() => 2 * lmHeadLossForward(x, w, targets, N, C, V).loss, w));
    assert.ok(ex < TOL && ew < TOL, `lm_head ${N}×${C}×${V}: dx ${ex}, dW ${ew}`);
    // dz is dLogits through the cap.
    const dz = softcapBackward(g.dLogits, f.z);
    for (let i = 0; i < dz.length; i++) assert.equal(g.dz[i], dz[i]);
  }
});
