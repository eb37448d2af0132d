// GPT config: nanochat's depth rule, parameter names/shapes/order, parameter and FLOP
// counts against the reference table, and validation errors that name the field.
import assert from "node:assert/strict";
import {
  ConfigError, configFromDepth, estimateFlopsPerToken, type GPTConfig, headDim, numParams, paramShapes, validateConfig,
} from "../../src/model/config.ts";

const V = 65536, SEQ = 2048;

Deno.test("depth rule and the reference table (d12, d20, d26, d32 at V=65536, T=2048)", () => {
  const table: [number, number, number, number, number][] = [
    // depth, n_embd, heads, params, FLOPs/token (reference table's rounding)
    [12, 768, 6, 185_597_952, 1.038e9],
    [20, 1280, 10, 560_988_160, 3.4918e9],
    [26, 1664, 13, 1_081_999_360, 6.901e9],
    [32, 2048, 16, 1_879_048_192, 1.2080e10],
  ];
  for (const [depth, C, H, params, flops] of table) {
    const cfg = configFromDepth(depth, { vocabSize: V, sequenceLen: SEQ });
    assert.deepEqual(cfg, { sequence_len: SEQ, vocab_size: V, n_layer: depth, n_head: H, n_kv_head: H, n_embd: C });
    assert.equal(headDim(cfg), C / H);
    assert.equal(numParams(cfg), params, `d${depth} params`);
    const f = estimateFlopsPerToken(cfg);
    const digits = flops.toExponential().split("e")[0].replace(".", "").length; // significant digits given
    assert.equal(Number(f.toPrecision(digits)), flops, `d${depth} FLOPs/token ${f}`);
  }
  // d20 exactly: 6·(N − V·C) + 12·L·H·hd·T.
  const d20 = configFromDepth(20, { vocabSize: V, sequenceLen: SEQ });
  assert.equal(estimateFlopsPerToken(d20), 6 * (560_988_160 - V * 1280) + 12 * 20 * 10 * 128 * 2048);
  assert.equal(estimateFlopsPerToken(d20), 3_491_758_080);
  // n_head = max(1, ceil(64·depth / 128)).
  assert.equal(configFromDepth(1, { vocabSize: 64, sequenceLen: 8 }).n_head, 1);
  assert.equal(configFromDepth(2, { vocabSize: 64, sequenceLen: 8 }).n_head, 1);
  assert.equal(configFromDepth(3, { vocabSize: 64, sequenceLen: 8 }).n_head, 2);
  assert.equal(configFromDepth(4, { vocabSize: 64, sequenceLen: 8, nKvHead: 1 }).n_kv_head, 1);
});

Deno.test("paramShapes: nanochat's names, (out, in) shapes and state_dict order, with GQA", () => {
  const cfg: GPTConfig = { sequence_len: 16, vocab_size: 100, n_layer: 2, n_head: 4, n_kv_head: 2, n_embd: 32 };
  const shapes = paramShapes(cfg);
  assert.deepEqual(shapes, [
    { name: "transformer.wte.weight", shape: [100, 32] },
    { name: "transformer.h.0.attn.c_q.weight", shape: [32, 32] },
    { name: "transformer.h.0.attn.c_k.weight", shape: [16, 32] },
    { name: "transformer.h.0.attn.c_v.weight", shape: [16, 32] },
    { name: "transformer.h.0.attn.c_proj.weight", shape: [32, 32] },
    { name: "transformer.h.0.mlp.c_fc.weight", shape: [128, 32] },
    { name: "transformer.h.0.mlp.c_proj.weight", shape: [32, 128] },
    { name: "transformer.h.1.attn.c_q.weight", shape: [32, 32] },
    { name: "transformer.h.1.attn.c_k.weight", shape: [16, 32] },
    { name: "transformer.h.1.attn.c_v.weight", shape: [16, 32] },
    { name: "transformer.h.1.attn.c_proj.weight", shape: [32, 32] },
    { name: "transformer.h.1.mlp.c_fc.weight", shape: [128, 32] },
    { name: "transformer.h.1.mlp.c_proj.weight", shape: [32, 128] },
    { name: "lm_head.weight", shape: [100, 32] },
  ]);
  assert.equal(numParams(cfg), 2 * 100 * 32 + 2 * (32 * 32 * 2 + 16 * 32 * 2 + 128 * 32 * 2));
  // FLOPs: 6 per non-embedding parameter + attention at full sequence_len.
  assert.equal(estimateFlopsPerToken(cfg), 6 * (numParams(cfg) - 3200) + 12 * 2 * 4 * 8 * 16);
  // No layers: just the two embeddings.
  assert.deepEqual(paramShapes({ ...cfg, n_layer: 0 } as GPTConfig).map((p) => p.name), ["transformer.wte.weight", "lm_head.weight"]);
});

function throwsNaming(cfg: GPTConfig, field: string): void {
  assert.throws(() => validateConfig(cfg), (e: unknown) => {
    assert.ok(e instanceof ConfigError, "a ConfigError");
    assert.equal((e as ConfigError).userFacing, true);
    assert.ok((e as Error).message.includes(field), `message names ${field}: ${(e as Error).message}`);
    return true;
  });
}

Deno.test("validateConfig names the inconsistent field (userFacing errors)", () => {
  const ok: GPTConfig = { sequence_len: 16, vocab_size: 100, n_layer: 2, n_head: 4, n_kv_head: 2, n_embd: 32 };
  assert.equal(validateConfig(ok), ok);
  throwsNaming({ ...ok, n_embd: 30 }, "n_embd");            // 30 % 4
  throwsNaming({ ...ok, n_embd: 36, n_head: 12, n_kv_head: 4 }, "head_dim"); // hd = 3, odd
  throwsNaming({ ...ok, n_kv_head: 3 }, "n_kv_head");       // 4 % 3
  throwsNaming({ ...ok, n_kv_head: 8 }, "n_kv_head");       // more kv heads than heads
  throwsNaming({ ...ok, n_layer: 0 }, "n_layer");
  throwsNaming({ ...ok, n_layer: 1.5 }, "n_layer");
  throwsNaming({ ...ok, vocab_size: -1 }, "vocab_size");
  throwsNaming({ ...ok, sequence_len: NaN }, "sequence_len");
  throwsNaming({ ...ok, n_head: 0 }, "n_head");
  throwsNaming({ ...ok, n_embd: "32" as unknown as number }, "n_embd");
  // depth 5: n_embd 320, n_head ceil(2.5) = 3 does not divide it (nanochat asserts too).
  assert.throws(() => configFromDepth(5, { vocabSize: V, sequenceLen: SEQ }), /n_head/);
  assert.throws(() => configFromDepth(0, { vocabSize: V, sequenceLen: SEQ }), ConfigError);
  assert.throws(() => configFromDepth(4, { vocabSize: V, sequenceLen: SEQ, nKvHead: 3 }), /n_kv_head/);
});
