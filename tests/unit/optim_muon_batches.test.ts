// Muon's grouping of matrices into batched Newton–Schulz runs, and the scratch it sizes
// from them (the GPU result of a batched run is checked in tests/kernels/cases/optim.ts).
import assert from "node:assert/strict";
import { MUON_BATCH_FLOATS, muonBatches, muonScratchSizes } from "../../src/optim/muon.ts";
import { partialCount } from "../../src/nn/reduce.ts";

Deno.test("muon batches: one per oriented shape, in parameter order, tall matrices with their wide twins", () => {
  const shapes: [number, number][] = [[128, 128], [512, 128], [128, 128], [128, 512], [64, 128]];
  assert.deepEqual(muonBatches(shapes), [
    { m: 128, n: 128, members: [0, 2] },
    { m: 128, n: 512, members: [1, 3] },
    { m: 64, n: 128, members: [4] },
  ]);
});

Deno.test("muon batches: a shape's group is split so no batch's iterate holds more than MUON_BATCH_FLOATS", () => {
  const side = Math.sqrt(MUON_BATCH_FLOATS / 4); // four matrices fill a batch exactly
  const shapes = Array.from({ length: 9 }, () => [side, side] as [number, number]);
  assert.deepEqual(muonBatches(shapes).map((b) => b.members), [[0, 1, 2, 3], [4, 5, 6, 7], [8]]);
  const sizes = muonScratchSizes(shapes);
  assert.equal(sizes.X, MUON_BATCH_FLOATS);
  assert.equal(sizes.A, MUON_BATCH_FLOATS); // square: A is as large as X
});

Deno.test("muon scratch: X and A for the largest batch, norm partials for the largest single matrix", () => {
  // tiny preset, two layers: 8 square 128×128 (q, k, v, proj), 2 c_fc 512×128, 2 mlp.c_proj 128×512.
  const shapes: [number, number][] = [];
  for (let l = 0; l < 2; l++) shapes.push([128, 128], [128, 128], [128, 128], [128, 128], [512, 128], [128, 512]);
  const s = muonScratchSizes(shapes);
  assert.equal(s.X, 4 * 128 * 512); // the four 128×512 iterates (8·128² is half that)
  assert.equal(s.A, 8 * 128 * 128); // the eight square ones' Gram matrices
  assert.equal(s.partials, partialCount(128 * 512));
  assert.equal(s.normSq, 4);
});
