// The engine's tool and stop logic with scripted picks (fast, so mutation testing runs it):
// a calculator call forces its output tokens and flags them; a tokenizer without special
// tokens never ends a sequence early.
import assert from "node:assert/strict";
import { Engine } from "../../src/engine/engine.ts";
import { argmax } from "../../src/engine/sampling.ts";
import { NO_SPECIAL_TOKENS } from "../../src/engine/tools.ts";
import { liveTensorBytes } from "../../src/gpu/tensor.ts";
import { KVCache } from "../../src/model/kv_cache.ts";
import { createParamTensors, writeParams } from "../../src/model/tensors.ts";
import type { GPTConfig } from "../../src/model/config.ts";
import { Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import { testGpu } from "./gpu.ts";
import { collect, engineWeights, GQA } from "./engine_fixture.ts";

const weights = engineWeights;

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  ...opts,
  name: "engine: a calculator call forces <|output_start|> result <|output_end|> and generation continues from it",
  fn: async () => {
    const gpu = await testGpu();
    const tok = new Tokenizer([]); // bytes + nanochat's specials: vocab 265
    const cfg: GPTConfig = { ...GQA, vocab_size: tok.vocabSize };
    const engine = await Engine.create(gpu, cfg, weights(cfg, 9), tok, { maxBatch: 2 });
    const sp = (n: string) => tok.specialId(n);
    // A scripted "model": row 0 asks the calculator, row 1 writes an expression it refuses.
    const script = [
      [sp("<|python_start|>"), ...tok.encodeOrdinary("12*(3+4)"), sp("<|python_end|>")],
      [sp("<|python_start|>"), ...tok.encodeOrdinary("__import__"), sp("<|python_end|>")],
    ];
    const picks = [0, 0];
    const cols = await collect(engine.generate([tok.bosId, ...tok.encodeOrdinary("hi")], {
      maxTokens: 90, temperature: 0, numSamples: 2,
      // After the script, one token from the model itself, then the end of the turn.
      pick: (logits, row) => {
        const i = picks[row]++;
        return i < script[row].length ? script[row][i] : i === script[row].length ? argmax(logits) : sp("<|assistant_end|>");
      },
    }));
    const rows = [0, 1].map((r) => ({
      text: tok.decode(cols.filter((_c, i) => i === 0 || !cols[i - 1].done[r]).map((c) => c.tokens[r])),
      forced: cols.map((c) => c.forced[r]),
      calls: cols.map((c) => c.calls[r]).filter((c) => c),
    }));
    assert.match(rows[0].text, /^<\|python_start\|>12\*\(3\+4\)<\|python_end\|><\|output_start\|>84<\|output_end\|>.+<\|assistant_end\|>$/s);
    const n0 = script[0].length, out0 = 2 + tok.encodeOrdinary("84").length;
    assert.deepEqual(rows[0].forced.slice(0, n0 + out0 + 1), [...new Array(n0).fill(false), ...new Array(out0).fill(true), false]);
    assert.deepEqual(rows[0].calls, [{ expression: "12*(3+4)", ok: true, output: "84" }]);
    assert.equal(rows[1].calls.length, 1);
    assert.equal(rows[1].calls[0]!.ok, false);
    assert.match(rows[1].text, /<\|output_start\|>error: [^<]+<\|output_end\|>/);
    engine.destroy();
  },
});

Deno.test({
  ...opts,
  name: "engine: without special tokens, token 0 is an ordinary token (no early end, nothing forced)",
  fn: async () => {
    const gpu = await testGpu();
    const engine = await Engine.create(gpu, GQA, weights(GQA, 4), NO_SPECIAL_TOKENS, { maxBatch: 2 });
    const cols = await collect(engine.generate([1, 2, 3], { maxTokens: 12, temperature: 0, numSamples: 2, pick: () => 0 }));
    assert.equal(cols.length, 12);
    for (const c of cols) {
      assert.deepEqual(c.tokens, [0, 0]);
      assert.deepEqual(c.done, [false, false]);
      assert.deepEqual(c.forced, [false, false]);
    }
    engine.destroy();
  },
});

Deno.test({
  ...opts,
  name: "engine: a picked id must be inside the vocabulary (V−1 is, V is not)",
  fn: async () => {
    const gpu = await testGpu();
    const V = GQA.vocab_size;
    const engine = await Engine.create(gpu, GQA, weights(GQA, 5), NO_SPECIAL_TOKENS, { maxBatch: 1 });
    const last = await collect(engine.generate([1, 2], { maxTokens: 2, temperature: 0, pick: () => V - 1 }));
    assert.deepEqual(last.map((c) => c.tokens[0]), [V - 1, V - 1]);
    await assert.rejects(collect(engine.generate([1, 2], { maxTokens: 2, temperature: 0, pick: () => V })), new RegExp(`picked token ${V} is outside the vocabulary \\(${V}\\)`));
    engine.destroy();
  },
});

Deno.test({
  ...opts,
  name: "engine: destroy frees every GPU tensor it made (models, activations, KV cache); KV cache sizes are checked",
  fn: async () => {
    const gpu = await testGpu();
    const before = liveTensorBytes(gpu);
    const engine = await Engine.create(gpu, GQA, weights(GQA, 6), NO_SPECIAL_TOKENS, { maxBatch: 2 });
    await collect(engine.generate([1, 2, 3], { maxTokens: 3, temperature: 0, numSamples: 2 }));
    assert.ok(liveTensorBytes(gpu) > before);
    engine.destroy();
    assert.equal(liveTensorBytes(gpu), before);
    for (const [rows, capacity] of [[0, 8], [1.5, 8], [1, 0], [1, GQA.sequence_len + 1]]) {
      assert.throws(() => new KVCache(gpu, GQA, rows, capacity), /KV cache: (rows|capacity) must be/);
    }
  },
});

Deno.test({
  ...opts,
  name: "engine: sharing another model's parameter tensors, it samples from their current values and leaves them on destroy",
  fn: async () => {
    const gpu = await testGpu();
    const greedy = async (e: Engine) => (await collect(e.generate([1, 2, 3], { maxTokens: 6, temperature: 0 }))).map((c) => c.tokens[0]);
    const [w1, w2] = [weights(GQA, 21), weights(GQA, 22)];
    const params = createParamTensors(gpu, GQA);
    writeParams(params, GQA, w1);
    const shared = Engine.sharing(gpu, GQA, params, NO_SPECIAL_TOKENS, { maxBatch: 1 });
    const own1 = await Engine.create(gpu, GQA, w1, NO_SPECIAL_TOKENS, { maxBatch: 1 });
    const own2 = await Engine.create(gpu, GQA, w2, NO_SPECIAL_TOKENS, { maxBatch: 1 });
    const [a1, a2] = [await greedy(own1), await greedy(own2)];
    assert.notDeepEqual(a1, a2, "the two weight sets must decode differently for this test to mean anything");
    assert.deepEqual(await greedy(shared), a1);
    writeParams(params, GQA, w2); // the owner trains a step
    assert.deepEqual(await greedy(shared), a2);
    shared.destroy();
    // The tensors outlive the engine: a new one over them decodes the weights written next.
    writeParams(params, GQA, w1);
    const again = Engine.sharing(gpu, GQA, params, NO_SPECIAL_TOKENS, { maxBatch: 1 });
    assert.deepEqual(await greedy(again), a1);
    for (const e of [again, own1, own2]) e.destroy();
    for (const t of params.values()) t.destroy();
  },
});

Deno.test({
  ...opts,
  name: "engine: a second generation while one runs is refused (not interleaved); a context of 2 is the smallest, 1 is refused",
  fn: async () => {
    const gpu = await testGpu();
    const engine = await Engine.create(gpu, GQA, weights(GQA, 7), NO_SPECIAL_TOKENS, { maxBatch: 1 });
    const first = engine.generate([1, 2], { maxTokens: 3, temperature: 0 });
    const step = await first.next(); // the first generation is under way
    assert.equal(step.done, false);
    await assert.rejects(collect(engine.generate([1, 2], { maxTokens: 1, temperature: 0 })), /the engine is already generating/);
    await first.return(undefined);
    engine.destroy();
    const tiny = await Engine.create(gpu, GQA, weights(GQA, 7), NO_SPECIAL_TOKENS, { maxBatch: 1, capacity: 2 });
    // Two positions: the prompt's token and the first reply token; the second comes from the logits at the last position.
    assert.equal((await collect(tiny.generate([1], { maxTokens: 4, temperature: 0 }))).length, 2, "a context of 2 answers a one-token prompt with 2 tokens");
    tiny.destroy();
    await assert.rejects(async () => await Engine.create(gpu, GQA, weights(GQA, 7), NO_SPECIAL_TOKENS, { maxBatch: 1, capacity: 1 }), /capacity must be 2 … sequence_len/);
  },
});
