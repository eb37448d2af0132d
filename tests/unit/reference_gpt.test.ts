// The whole float64 reference GPT: gradients of every parameter by finite differences on
// tiny configs, the initial loss ln V, ignore-index masking, causality and refLogits.
import assert from "node:assert/strict";
import { type GPTConfig, paramShapes } from "../../src/model/config.ts";
import { initParams } from "../../src/model/params.ts";
import { Rng } from "../../src/util/rng.ts";
import { maxRelError, numericGradAt, pick, sampleIndices } from "../reference/gradcheck.ts";
import { refBackward, refForward, refLogits, type RefParams, toFloat64Params } from "../reference/gpt.ts";

const TOL = 1e-6;

interface Case {
  cfg: GPTConfig;
  B: number;
  T: number;
}

// depth 2, GQA ratios 2, n_head and 1; odd T and vocab sizes in places.
const CASES: Case[] = [
  { cfg: { sequence_len: 16, vocab_size: 64, n_layer: 2, n_head: 4, n_kv_head: 2, n_embd: 32 }, B: 2, T: 8 },
  { cfg: { sequence_len: 16, vocab_size: 97, n_layer: 2, n_head: 4, n_kv_head: 1, n_embd: 64 }, B: 2, T: 11 },
  { cfg: { sequence_len: 12, vocab_size: 131, n_layer: 2, n_head: 2, n_kv_head: 2, n_embd: 32 }, B: 2, T: 12 },
];

/** initParams, then every tensor nudged by random values so no gradient is trivially zero
 * (nanochat zeroes lm_head and every c_proj, which would stop the gradient at the head). */
function perturbedParams(cfg: GPTConfig, seed: number): RefParams {
  const params = toFloat64Params(cfg, initParams(cfg, seed));
  const rng = new Rng(seed + 1000);
  for (const { name, shape } of paramShapes(cfg)) {
    const p = params.get(name)!;
    const sigma = name === "transformer.wte.weight" ? 0.1 : 0.5 / Math.sqrt(shape[1]);
    for (let i = 0; i < p.length; i++) p[i] += sigma * rng.normal();
  }
  return params;
}

function batch(rng: Rng, { cfg, B, T }: Case, ignoreFrac = 0.25): { tokens: Int32Array; targets: Int32Array } {
  const tokens = Int32Array.from({ length: B * T }, () => rng.int(cfg.vocab_size));
  const targets = Int32Array.from({ length: B * T }, () => (rng.uniform() < ignoreFrac ? -1 : rng.int(cfg.vocab_size)));
  targets[0] = 1; // at least one supervised row
  return { tokens, targets };
}

Deno.test("reference GPT: every parameter's gradient matches finite differences (GQA 2, n_head, 1)", () => {
  const rng = new Rng(31);
  for (const [ci, c] of CASES.entries()) {
    const { cfg, B, T } = c;
    const params = perturbedParams(cfg, 100 + ci);
    const { tokens, targets } = batch(rng, c);
    const { cache } = refForward(cfg, params, tokens, targets, B, T);
    const grads = refBackward(cfg, params, cache);
    assert.deepEqual([...grads.keys()], paramShapes(cfg).map((p) => p.name));
    const loss = () => refForward(cfg, params, tokens, targets, B, T).loss;
    for (const { name, shape } of paramShapes(cfg)) {
      const p = params.get(name)!, g = grads.get(name)!;
      assert.equal(g.length, p.length, name);
      let idx: number[];
      if (name === "transformer.wte.weight") {
        // Entries of rows that appear in the batch (the others must be exactly 0).
        const C = shape[1];
        const used = [...new Set(tokens)];
        idx = sampleIndices(rng, used.length * C, 16).map((k) => used[Math.floor(k / C)] * C + (k % C));
        const present = new Set(tokens);
        for (let v = 0; v < shape[0]; v++) if (!present.has(v)) for (let j = 0; j < C; j++) assert.equal(g[v * C + j], 0);
      } else {
        idx = sampleIndices(rng, p.length, 12);
      }
      const numeric = Float64Array.from(idx, (i) => numericGradAt(loss, p, i));
      const analytic = pick(g, idx);
      const e = maxRelError(analytic, numeric);
      assert.ok(e < TOL, `case ${ci} ${name}: relative error ${e.toExponential(2)} (analytic ${analytic[0]}, numeric ${numeric[0]})`);
      assert.ok(numeric.some((v) => Math.abs(v) > 1e-8), `case ${ci} ${name}: the sampled gradient is not trivially zero`);
    }
  }
});

Deno.test("reference GPT at nanochat's init: loss is exactly ln V and only lm_head gets a gradient", () => {
  const { cfg, B, T } = CASES[0];
  const params = toFloat64Params(cfg, initParams(cfg, 5));
  const { tokens, targets } = batch(new Rng(32), CASES[0]);
  const { loss, cache } = refForward(cfg, params, tokens, targets, B, T);
  assert.ok(Math.abs(loss - Math.log(cfg.vocab_size)) < 1e-12, `loss ${loss}`);
  const grads = refBackward(cfg, params, cache);
  for (const [name, g] of grads) {
    if (name === "lm_head.weight") assert.ok(g.some((v) => v !== 0), "lm_head gradient is non-zero");
    else assert.ok(g.every((v) => v === 0), `${name}: zero lm_head stops every other gradient`);
  }
});

Deno.test("reference GPT: targets −1 contribute nothing (loss, per-row losses, gradients)", () => {
  const c = CASES[0], { cfg, B, T } = c;
  const params = perturbedParams(cfg, 7);
  const rng = new Rng(33);
  const { tokens, targets: full } = batch(rng, c, 0);
  const all = refForward(cfg, params, tokens, full, B, T);
  const masked = full.slice();
  const keep = [0, 3, 5, 9, 14];
  for (let i = 0; i < masked.length; i++) if (!keep.includes(i)) masked[i] = -1;
  const m = refForward(cfg, params, tokens, masked, B, T);
  assert.equal(m.cache.count, keep.length);
  // Rows' losses do not depend on other rows' targets: the mean is over the kept rows.
  const want = keep.reduce((s, i) => s + all.cache.losses[i], 0) / keep.length;
  assert.ok(Math.abs(m.loss - want) < 1e-13);
  for (let i = 0; i < masked.length; i++) if (!keep.includes(i)) assert.equal(m.cache.losses[i], 0);
  // The gradient is the mean of the kept rows' single-row gradients: ignored rows add nothing.
  const g1 = refBackward(cfg, params, m.cache);
  const sum = new Map<string, Float64Array>();
  for (const i of keep) {
    const one = new Int32Array(B * T).fill(-1);
    one[i] = full[i];
    const r = refForward(cfg, params, tokens, one, B, T);
    for (const [name, g] of refBackward(cfg, params, r.cache)) {
      const acc = sum.get(name) ?? new Float64Array(g.length);
      for (let j = 0; j < g.length; j++) acc[j] += g[j] / keep.length;
      sum.set(name, acc);
    }
  }
  for (const [name, g] of g1) assert.ok(maxRelError(g, sum.get(name)!) < 1e-12, name);
  // Nothing supervised: loss 0, every gradient 0.
  const none = refForward(cfg, params, tokens, new Int32Array(B * T).fill(-1), B, T);
  assert.equal(none.loss, 0);
  for (const [, g] of refBackward(cfg, params, none.cache)) assert.ok(g.every((v) => v === 0));
  // gradScale scales every gradient.
  const g2 = refBackward(cfg, params, m.cache, { gradScale: 0.5 });
  for (const [name, g] of g1) assert.ok(maxRelError(g2.get(name)!.map((v) => 2 * v), g) < 1e-14, name);
});

Deno.test("reference GPT: causal, sequences independent, logits softcapped; refLogits = the forward's last rows", () => {
  const c = CASES[1], { cfg, B, T } = c;
  const V = cfg.vocab_size;
  const params = perturbedParams(cfg, 9);
  // Large lm_head so some logits reach the cap region.
  for (const [i, v] of params.get("lm_head.weight")!.entries()) params.get("lm_head.weight")![i] = v * 20;
  const { tokens, targets } = batch(new Rng(34), c);
  const base = refForward(cfg, params, tokens, targets, B, T).cache;
  assert.ok(base.logits.every((v) => Math.abs(v) < 15));
  assert.ok(base.logits.some((v) => Math.abs(v) > 10), "some logits are in the softcap's bend");
  // Change token t0 of sequence 0: rows before t0 (and all of sequence 1) are unchanged.
  const t0 = 6;
  const tok2 = tokens.slice();
  tok2[t0] = (tok2[t0] + 1) % V;
  const moved = refForward(cfg, params, tok2, targets, B, T).cache;
  for (let n = 0; n < B * T; n++) {
    const same = base.logits.subarray(n * V, n * V + V).every((v, j) => v === moved.logits[n * V + j]);
    if (n < t0 || n >= T) assert.ok(same, `row ${n} must not change`);
    else assert.ok(!same, `row ${n} must change`);
  }
  for (const lastN of [1, 3, T]) {
    const l = refLogits(cfg, params, tokens, B, T, lastN);
    assert.equal(l.length, B * lastN * V);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < lastN; i++) {
        const row = b * T + T - lastN + i;
        for (let j = 0; j < V; j++) assert.equal(l[(b * lastN + i) * V + j], base.logits[row * V + j]);
      }
    }
  }
  // A prefix's logits equal the full sequence's (what prefill + decode must reproduce).
  const prefix = Int32Array.from([...tokens.subarray(0, 5)]);
  const pl = refLogits(cfg, params, prefix, 1, 5, 5);
  for (let i = 0; i < 5 * V; i++) assert.ok(Math.abs(pl[i] - base.logits[i]) < 1e-12);
});

Deno.test("reference GPT rejects bad inputs", () => {
  const { cfg } = CASES[0];
  const params = toFloat64Params(cfg, initParams(cfg, 1));
  assert.throws(() => refForward(cfg, params, new Int32Array(5), new Int32Array(6), 2, 3), RangeError);
  assert.throws(() => refForward(cfg, params, new Int32Array(34), new Int32Array(34), 2, 17), RangeError); // T > sequence_len
  assert.throws(() => refForward(cfg, params, Int32Array.from([64]), Int32Array.from([0]), 1, 1), RangeError);
  assert.throws(() => refLogits(cfg, params, new Int32Array(4), 1, 4, 5), RangeError);
  const missing = initParams(cfg, 1);
  missing.delete("transformer.h.1.mlp.c_fc.weight");
  assert.throws(() => toFloat64Params(cfg, missing), /transformer\.h\.1\.mlp\.c_fc\.weight/);
});
