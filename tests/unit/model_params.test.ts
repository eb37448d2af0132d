// nanochat's init (std per matrix, zeros, determinism) and the rotary tables.
import assert from "node:assert/strict";
import { type GPTConfig, numel, paramShapes } from "../../src/model/config.ts";
import { initParams, initStd, isZeroInit, linearInitStd, ROTARY_BASE, rotaryTables } from "../../src/model/params.ts";

// GQA so c_k/c_v are narrowing matrices (std shrunk by sqrt(fan_out/fan_in)).
const CFG: GPTConfig = { sequence_len: 64, vocab_size: 512, n_layer: 2, n_head: 4, n_kv_head: 1, n_embd: 256 };

function stats(a: Float32Array): { mean: number; std: number } {
  let s = 0, ss = 0;
  for (const v of a) {
    s += v;
    ss += v * v;
  }
  const mean = s / a.length;
  return { mean, std: Math.sqrt(ss / a.length - mean * mean) };
}

Deno.test("init std formula: fan_in^-1/2 · min(1, sqrt(fan_out/fan_in)); d20 Linear std 0.02795", () => {
  assert.equal(Number(linearInitStd(1280, 1280).toFixed(5)), 0.02795);
  assert.equal(linearInitStd(4 * 1280, 1280), 1 / Math.sqrt(1280)); // widening: no shrink
  assert.equal(linearInitStd(64, 256), (1 / 16) * 0.5);              // narrowing by 4: × 1/2
  assert.equal(initStd("transformer.wte.weight", [512, 256]), 1);
  for (const n of ["lm_head.weight", "transformer.h.3.attn.c_proj.weight", "transformer.h.0.mlp.c_proj.weight"]) {
    assert.ok(isZeroInit(n));
    assert.equal(initStd(n, [256, 256]), 0);
  }
  for (const n of ["transformer.h.0.attn.c_q.weight", "transformer.h.0.mlp.c_fc.weight", "transformer.wte.weight"]) assert.ok(!isZeroInit(n));
});

Deno.test("initParams: every matrix's std within 3% of the formula, mean ≈ 0, zeros where nanochat zeroes", () => {
  const params = initParams(CFG, 42);
  assert.deepEqual([...params.keys()], paramShapes(CFG).map((p) => p.name));
  const C = CFG.n_embd;
  const expected: Record<string, number> = {
    "transformer.wte.weight": 1,
    "attn.c_q.weight": 1 / Math.sqrt(C),
    "attn.c_k.weight": (1 / Math.sqrt(C)) * Math.sqrt(64 / C), // 1 kv head × hd 64
    "attn.c_v.weight": (1 / Math.sqrt(C)) * Math.sqrt(64 / C),
    "mlp.c_fc.weight": 1 / Math.sqrt(C),
  };
  for (const { name, shape } of paramShapes(CFG)) {
    const w = params.get(name)!;
    assert.equal(w.length, numel(shape), name);
    if (isZeroInit(name)) {
      assert.ok(w.every((v) => v === 0), `${name} is zero`);
      continue;
    }
    const key = name.startsWith("transformer.h.") ? name.split(".").slice(3).join(".") : name;
    const want = expected[key];
    assert.ok(want !== undefined, `expected std for ${name}`);
    const { mean, std } = stats(w);
    assert.ok(Math.abs(std / want - 1) < 0.03, `${name}: std ${std}, want ${want}`);
    assert.ok(Math.abs(mean) < 5 * want / Math.sqrt(w.length), `${name}: mean ${mean}`);
    // Normal, not uniform: ~4.55% of draws beyond 2σ (uniform of the same std has none).
    const tail = w.filter((v) => Math.abs(v) > 2 * want).length / w.length;
    assert.ok(tail > 0.035 && tail < 0.056, `${name}: ${tail} beyond 2σ`);
  }
  // Zero lm_head ⇒ every logit 0 ⇒ the initial loss is exactly ln V (checked end to end in reference_gpt).
});

Deno.test("initParams is deterministic in the seed, and seeds differ", () => {
  const small: GPTConfig = { sequence_len: 8, vocab_size: 32, n_layer: 1, n_head: 2, n_kv_head: 2, n_embd: 16 };
  const a = initParams(small, 7), b = initParams(small, 7), c = initParams(small, 8);
  for (const [name, w] of a) {
    assert.deepEqual(b.get(name), w, name);
    if (!isZeroInit(name)) assert.notDeepEqual(c.get(name), w, name);
  }
  // Different tensors are not copies of one stream segment.
  assert.notDeepEqual(a.get("transformer.h.0.attn.c_q.weight"), a.get("transformer.h.0.attn.c_k.weight"));
});

Deno.test("rotaryTables: (T, hd/2) cos/sin of t·10000^(−2i/hd), float64 rounded once to float32", () => {
  assert.equal(ROTARY_BASE, 10000);
  const T = 300, hd = 64, half = hd / 2;
  const { cos, sin } = rotaryTables(T, hd);
  assert.ok(cos instanceof Float32Array && sin instanceof Float32Array);
  assert.equal(cos.length, T * half);
  assert.equal(sin.length, T * half);
  for (let t = 0; t < T; t += 7) {
    for (let i = 0; i < half; i++) {
      const angle = t * Math.pow(10000, (-2 * i) / hd);
      assert.equal(cos[t * half + i], Math.fround(Math.cos(angle)), `cos[${t},${i}]`);
      assert.equal(sin[t * half + i], Math.fround(Math.sin(angle)), `sin[${t},${i}]`);
    }
  }
  // Row 0 is the identity rotation; column 0 rotates by t radians.
  for (let i = 0; i < half; i++) assert.ok(cos[i] === 1 && sin[i] === 0);
  assert.equal(cos[5 * half], Math.fround(Math.cos(5)));
  // Another base.
  assert.ok(Math.abs(rotaryTables(3, 4, 100).sin[2 * 2 + 1] - Math.sin(0.2)) < 1e-8);
  assert.throws(() => rotaryTables(4, 5), RangeError);
  assert.throws(() => rotaryTables(0, 4), RangeError);
});
