// RL's host-side arithmetic (src/train/rl.ts) against hand-worked examples: advantages,
// which positions of a sampled row are trained and with what weight, pass@k.
import assert from "node:assert/strict";
import { advantages, passAtK, rlRows } from "../../src/train/rl.ts";

Deno.test("rl: advantage = reward − the mean of the question's samples (no std division)", () => {
  assert.deepEqual(advantages([1, 0, 0, 1]), [0.5, -0.5, -0.5, 0.5]);
  assert.deepEqual(advantages([1, 1, 1]), [0, 0, 0]); // all right: nothing to learn
  assert.deepEqual(advantages([0, 0, 0, 1]), [-0.25, -0.25, -0.25, 0.75]);
  assert.deepEqual(advantages([]), []);
  assert.throws(() => advantages([1, NaN]), /reward NaN is not a finite number/);
});

Deno.test("rl rows: only sampled tokens are targets, weighted by their sample's advantage; prompt, forced output and padding carry nothing", () => {
  // prompt [1, 2]; sample 0 = 7 8(forced) 9, sample 1 = 5; pad id 0; T = 5.
  const r = rlRows([1, 2], [{ tokens: [7, 8, 9], forced: [false, true, false] }, { tokens: [5], forced: [false] }], [0.5, -0.5], 0, 5);
  assert.equal(r.B, 2);
  assert.deepEqual([...r.inputs], [1, 2, 7, 8, 9, /* row 1 */ 1, 2, 5, 0, 0]);
  // Row 0: position 0 predicts the prompt's 2 (no), 1 predicts 7 (sampled), 2 predicts 8 (forced), 3 predicts 9 (sampled), 4 has no next token.
  assert.deepEqual([...r.targets], [-1, 7, -1, 9, -1, /* row 1 */ -1, 5, -1, -1, -1]);
  assert.deepEqual([...r.weights], [0, 0.5, 0, 0.5, 0, /* row 1 */ 0, -0.5, 0, 0, 0]);
  assert.equal(r.valid, 3);
});

Deno.test("rl rows: a sample longer than the row is cut at T; mismatched inputs are refused", () => {
  const r = rlRows([1], [{ tokens: [2, 3, 4, 5], forced: [false, false, false, false] }], [1], 0, 3);
  assert.deepEqual([...r.inputs], [1, 2, 3]);
  assert.deepEqual([...r.targets], [2, 3, 4]);
  assert.equal(r.valid, 3);
  assert.throws(() => rlRows([1], [{ tokens: [2], forced: [false] }], [1, 2], 0, 3), /1 samples but 2 advantages/);
  assert.throws(() => rlRows([1], [{ tokens: [2], forced: [] }], [1], 0, 3), /sample 0: 1 tokens but 0 forced flags/);
  assert.throws(() => rlRows([1, 2, 3, 4], [{ tokens: [2], forced: [false] }], [1], 0, 3), /the prompt has 4 tokens; rows hold 3/);
});

Deno.test("rl: pass@k is 1 − C(n−c, k)/C(n, k)", () => {
  assert.equal(passAtK(8, 0, 4), 0);
  assert.equal(passAtK(8, 8, 1), 1);
  assert.equal(passAtK(8, 2, 1), 0.25);
  // n=4, c=1, k=2: 1 − C(3,2)/C(4,2) = 1 − 3/6.
  assert.ok(Math.abs(passAtK(4, 1, 2) - 0.5) < 1e-15);
  // n=8, c=3, k=4: 1 − C(5,4)/C(8,4) = 1 − 5/70.
  assert.ok(Math.abs(passAtK(8, 3, 4) - (1 - 5 / 70)) < 1e-15);
  assert.equal(passAtK(8, 5, 4), 1); // fewer than k wrong samples: a correct one is always drawn
  assert.throws(() => passAtK(4, 5, 2), /pass@k needs/);
  assert.throws(() => passAtK(4, 1, 5), /pass@k needs/);
});
