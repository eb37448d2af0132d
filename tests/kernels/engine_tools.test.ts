// The engine's tool and stop logic with scripted picks (fast, so mutation testing runs it):
// a calculator call forces its output tokens and flags them; a tokenizer without special
// tokens never ends a sequence early.
import assert from "node:assert/strict";
import { Engine } from "../../src/engine/engine.ts";
import { argmax } from "../../src/engine/sampling.ts";
import { NO_SPECIAL_TOKENS } from "../../src/engine/tools.ts";
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
