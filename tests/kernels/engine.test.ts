// The KV-cache engine against recomputing the whole forward at every step: greedy tokens
// must be identical (tiny config, 64 new tokens); n samples sharing one prefill must each
// equal the single-sequence result. Tool calls: engine_tools.test.ts.
import assert from "node:assert/strict";
import { Engine } from "../../src/engine/engine.ts";
import { argmax, sampleToken } from "../../src/engine/sampling.ts";
import { NO_SPECIAL_TOKENS } from "../../src/engine/tools.ts";
import type { GPTConfig } from "../../src/model/config.ts";
import { InferenceGPT } from "../../src/model/inference.ts";
import { createParamTensors, writeParams } from "../../src/model/tensors.ts";
import { Rng } from "../../src/util/rng.ts";
import { testGpu } from "./gpu.ts";
import { collect, engineWeights, GQA } from "./engine_fixture.ts";

// The tiny preset's model: depth 2 → n_embd 128, one head of 128, vocab 4096, 128 positions.
const TINY: GPTConfig = { sequence_len: 128, vocab_size: 4096, n_layer: 2, n_head: 1, n_kv_head: 1, n_embd: 128 };

const weights = engineWeights;

function randomPrompt(cfg: GPTConfig, n: number, seed: number): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => rng.int(cfg.vocab_size));
}

/** Greedy continuation by recomputing the full forward (B=1, T=sequence_len) for every new token. */
async function greedyByRecompute(cfg: GPTConfig, params: Map<string, Float32Array>, prompt: number[], maxTokens: number): Promise<number[]> {
  const gpu = await testGpu();
  const tensors = createParamTensors(gpu, cfg);
  writeParams(tensors, cfg, params);
  const model = await InferenceGPT.create(gpu, cfg, tensors, { B: 1, T: cfg.sequence_len });
  const ids = [...prompt];
  const inputs = new Int32Array(cfg.sequence_len);
  for (let i = 0; i < maxTokens; i++) {
    inputs.set(ids);
    ids.push(argmax(await model.logitsAt(inputs, ids.length - 1)));
  }
  model.destroy();
  for (const t of tensors.values()) t.destroy();
  return ids.slice(prompt.length);
}

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  ...opts,
  name: "engine: greedy decoding with the KV cache equals recomputing the full forward (tiny config, 64 tokens)",
  fn: async () => {
    const gpu = await testGpu();
    const params = weights(TINY, 11);
    const prompt = randomPrompt(TINY, 17, 5);
    const engine = await Engine.create(gpu, TINY, params, NO_SPECIAL_TOKENS, { maxBatch: 1 });
    const t0 = performance.now();
    const cols = await collect(engine.generate(prompt, { maxTokens: 64, temperature: 0 }));
    const ms = performance.now() - t0;
    const cached = cols.map((c) => c.tokens[0]);
    engine.destroy();
    const t1 = performance.now();
    const full = await greedyByRecompute(TINY, params, prompt, 64);
    console.log(`64 tokens: KV cache ${ms.toFixed(0)} ms, full recompute ${(performance.now() - t1).toFixed(0)} ms; ${new Set(full).size} distinct tokens`);
    assert.equal(cached.length, 64);
    assert.ok(new Set(full).size > 8, "the reference continuation is not degenerate");
    assert.deepEqual(cached, full);
  },
});

Deno.test({
  ...opts,
  name: "engine: n samples share one prefill; greedy rows equal the single-sequence result (GQA 4/2, prompt lengths around the prefill buckets)",
  fn: async () => {
    const gpu = await testGpu();
    const params = weights(GQA, 3);
    const engine = await Engine.create(gpu, GQA, params, NO_SPECIAL_TOKENS, { maxBatch: 4 });
    for (const len of [1, 16, 17, 40]) {
      const prompt = randomPrompt(GQA, len, len);
      const full = await greedyByRecompute(GQA, params, prompt, 24);
      const one = (await collect(engine.generate(prompt, { maxTokens: 24, temperature: 0 }))).map((c) => c.tokens[0]);
      assert.deepEqual(one, full, `prompt of ${len}: one sequence`);
      const three = await collect(engine.generate(prompt, { maxTokens: 24, temperature: 0, numSamples: 3 }));
      for (let r = 0; r < 3; r++) assert.deepEqual(three.map((c) => c.tokens[r]), full, `prompt of ${len}: row ${r} of 3`);
    }
    // Every prompt re-aims the same sharing ops (made once per row count, freed with the cache).
    const shared = await engine.cache.shareRow0Ops(3, 5);
    assert.equal(await engine.cache.shareRow0Ops(3, 7), shared);
    assert.equal(shared.length, 2 * GQA.n_layer);
    // Sampling: the seed fixes every row; rows differ from each other; another seed differs.
    const prompt = randomPrompt(GQA, 9, 1);
    const sample = async (seed: number) =>
      (await engine.generateBatch(prompt, { maxTokens: 20, temperature: 1, topK: 50, numSamples: 4, seed })).sequences;
    const a = await sample(1), b = await sample(1), c = await sample(2);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.ok(new Set(a.map((s) => s.join(","))).size > 1, "rows of one prompt sample differently");
    // Top-k sampling reads back only each row's 50 candidates (chosen on the GPU); the
    // host sampling the whole rows (a pick, which takes the full-logits path) with the
    // engine's Rng draws the very same tokens.
    const host = new Rng(1);
    const viaHost = (await engine.generateBatch(prompt, {
      maxTokens: 20, temperature: 1, topK: 50, numSamples: 4, seed: 1, pick: (logits) => sampleToken(logits, { temperature: 1, topK: 50 }, host),
    })).sequences;
    assert.deepEqual(a, viaHost);
    // The context is bounded: a prompt that fills it is refused with what to do.
    await assert.rejects(() => collect(engine.generate(randomPrompt(GQA, 96, 2), { maxTokens: 4, temperature: 0 })), /context holds 96/);
    // A generation running into the end of the cache stops there.
    const tail = await collect(engine.generate(randomPrompt(GQA, 90, 2), { maxTokens: 50, temperature: 0 }));
    assert.equal(tail.length, 96 - 90 + 1);
    engine.destroy();
  },
});

Deno.test({
  ...opts,
  name: "engine: prompts of different lengths decode together; each row equals its own greedy result (GQA 4/2, lengths 1 … 40, one near the end of the cache)",
  fn: async () => {
    const gpu = await testGpu();
    const params = weights(GQA, 3);
    const engine = await Engine.create(gpu, GQA, params, NO_SPECIAL_TOKENS, { maxBatch: 5 });
    const lengths = [17, 1, 40, 16, 80];
    const prompts = lengths.map((len) => randomPrompt(GQA, len, 100 + len));
    const { sequences, masks } = await engine.generateEach(prompts, { maxTokens: 20, temperature: 0 });
    for (let r = 0; r < prompts.length; r++) {
      // A row ends with the cache: positions len … 95 are written, one more token comes from the last logits.
      const expected = await greedyByRecompute(GQA, params, prompts[r], Math.min(20, 97 - lengths[r]));
      assert.deepEqual(sequences[r], expected, `prompt of ${lengths[r]}`);
      assert.ok(masks[r].every((m) => m === 1));
    }
    // The same prompts one at a time give the same rows.
    for (const r of [1, 2]) assert.deepEqual((await engine.generateBatch(prompts[r], { maxTokens: 20, temperature: 0 })).sequences[0], sequences[r]);
    await assert.rejects(() => collect(engine.generateRows([...prompts, prompts[0]], { maxTokens: 2, temperature: 0 })), /takes 1 … 5 prompts, got 6/);
    await assert.rejects(() => collect(engine.generateRows([prompts[0], []], { maxTokens: 2, temperature: 0 })), /prompt is empty/);
    engine.destroy();
  },
});
