import assert from "node:assert/strict";
import { adamLrScale, BASE_SCHEDULE, lrMultiplier, muonMomentum } from "../../src/optim/schedule.ts";

Deno.test("LR multiplier: flat, then linear warmdown to 0 over the last 20% (reference base_train, d20 N=21400)", () => {
  const s = { ...BASE_SCHEDULE, numIterations: 21400 };
  // W = round(0.2·21400) = 4280: flat through 17120, then (N − it)/W.
  assert.equal(lrMultiplier(0, s), 1);
  assert.equal(lrMultiplier(17120, s), 1);
  assert.equal(lrMultiplier(17121, s), (21400 - 17121) / 4280);
  assert.equal(lrMultiplier(19260, s), 0.5);
  assert.equal(lrMultiplier(21400, s), 0);
});

Deno.test("LR multiplier: warmup ramps (it+1)/W and warmdown ends at final_lr_frac", () => {
  const s = { numIterations: 100, warmupRatio: 0.1, warmdownRatio: 0.5, finalLrFrac: 0.1 };
  assert.equal(lrMultiplier(0, s), 0.1);
  assert.equal(lrMultiplier(9, s), 1);
  assert.equal(lrMultiplier(50, s), 1);
  assert.ok(Math.abs(lrMultiplier(75, s) - (0.5 + 0.5 * 0.1)) < 1e-15);
  assert.ok(Math.abs(lrMultiplier(100, s) - 0.1) < 1e-15);
});

Deno.test("Muon momentum warms from 0.85 to 0.95 over 300 steps, then stays", () => {
  assert.equal(muonMomentum(0), 0.85);
  assert.ok(Math.abs(muonMomentum(150) - 0.9) < 1e-15);
  assert.equal(muonMomentum(300), 0.95);
  assert.equal(muonMomentum(5000), 0.95);
});

Deno.test("AdamW LR width scaling matches the reference's d20 numbers", () => {
  const s = adamLrScale(1280);
  assert.ok(Math.abs(0.004 * s - 0.0030984) < 1e-7);
  assert.ok(Math.abs(0.2 * s - 0.154919) < 1e-6);
  assert.equal(adamLrScale(768), 1);
});
