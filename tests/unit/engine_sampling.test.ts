import assert from "node:assert/strict";
import { argmax, sampleToken, sampleTopK, topKIndices } from "../../src/engine/sampling.ts";
import { Rng } from "../../src/util/rng.ts";

const LOGITS = Float32Array.from([0.5, 2.0, -1.0, 1.5, 2.0, 0.0]);

Deno.test("temperature 0 is argmax (first of equal maxima); top-k 1 is argmax at any temperature", () => {
  const rng = new Rng(1);
  assert.equal(sampleToken(LOGITS, { temperature: 0 }, rng), 1);
  assert.equal(argmax(LOGITS), 1);
  for (let i = 0; i < 20; i++) assert.equal(sampleToken(LOGITS, { temperature: 1.3, topK: 1 }, rng), 1);
});

Deno.test("top-k keeps the k largest (ties by lower index) and never samples outside them", () => {
  assert.deepEqual(topKIndices(LOGITS, 3), [1, 4, 3]);
  assert.deepEqual(topKIndices(LOGITS, 10), [1, 4, 3, 0, 5, 2]);
  const rng = new Rng(2);
  for (let i = 0; i < 2000; i++) assert.ok([1, 4, 3].includes(sampleToken(LOGITS, { temperature: 1, topK: 3 }, rng)));
});

Deno.test("draw frequencies match softmax(logits / T) (50,000 draws, within 4 standard errors)", () => {
  const T = 0.7, draws = 50_000;
  const rng = new Rng(3);
  const counts = new Array(LOGITS.length).fill(0);
  for (let i = 0; i < draws; i++) counts[sampleToken(LOGITS, { temperature: T }, rng)]++;
  const e = Array.from(LOGITS, (z) => Math.exp(z / T));
  const sum = e.reduce((a, b) => a + b, 0);
  e.forEach((w, i) => {
    const p = w / sum, se = Math.sqrt((p * (1 - p)) / draws);
    assert.ok(Math.abs(counts[i] / draws - p) < 4 * se + 1e-9, `token ${i}: ${counts[i] / draws} vs ${p}`);
  });
});

Deno.test("the same seed gives the same draws; bad temperatures are errors", () => {
  const a = new Rng(9), b = new Rng(9);
  const xs = Array.from({ length: 100 }, () => sampleToken(LOGITS, { temperature: 1, topK: 4 }, a));
  const ys = Array.from({ length: 100 }, () => sampleToken(LOGITS, { temperature: 1, topK: 4 }, b));
  assert.deepEqual(xs, ys);
  assert.throws(() => sampleToken(LOGITS, { temperature: -1 }, a), /temperature must be ≥ 0/);
  assert.throws(() => sampleToken(LOGITS, { temperature: NaN }, a), /temperature must be ≥ 0/);
});

Deno.test("a draw at the very top of [0, 1) whose subtractions round to zero takes the last candidate, never past it", () => {
  // uniform() = 1 is outside Rng's contract but is what rounding can leave: u − Σw ≥ 0.
  const top = { uniform: () => 1 } as unknown as Rng;
  assert.equal(sampleToken([0, 0, 0, 0], { temperature: 1 }, top), 3);
  assert.equal(sampleToken([5, 0, 4, 1, 3], { temperature: 1, topK: 3 }, top), 4);
});

Deno.test("argmax finds a maximum at index 0 and at the last index", () => {
  assert.equal(argmax([5, 1, 2]), 0);
  assert.equal(argmax([1, 2, 7]), 2);
  assert.equal(argmax([-3]), 0);
});

Deno.test("a low temperature over a large leading logit does not overflow: the max is taken over every candidate", () => {
  // 15 (the softcap) / 0.01 = 1500: exp(1500) is Infinity unless the row max is subtracted first.
  const rng = new Rng(5);
  for (let i = 0; i < 20; i++) assert.equal(sampleToken([15, 0, -15], { temperature: 0.01 }, rng), 0);
  assert.equal(sampleToken([15, 0, -15], { temperature: 0.01, topK: 2 }, rng), 0);
});

Deno.test("sampling among the top-k candidates alone (as the GPU hands them over) draws exactly what sampling the full row does", () => {
  const rng = new Rng(7);
  const logits = Float32Array.from({ length: 300 }, () => Math.round((rng.uniform() * 2 - 1) * 8) / 2); // many ties
  for (const [k, temperature] of [[1, 1], [5, 0.7], [50, 1], [50, 0], [64, 1.3]] as const) {
    // The candidates as a plain sort gives them: value descending, then id ascending.
    const ids = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b).slice(0, k);
    const values = ids.map((i) => logits[i]);
    const full = new Rng(99), cand = new Rng(99);
    for (let i = 0; i < 200; i++) {
      assert.equal(sampleTopK(values, ids, temperature, cand), sampleToken(logits, { temperature, topK: k }, full), `k ${k} T ${temperature} draw ${i}`);
    }
  }
  assert.throws(() => sampleTopK([], [], 1, new Rng(1)), /no candidates/);
  assert.throws(() => sampleTopK([1], [0], -1, new Rng(1)), /temperature must be ≥ 0/);
});
