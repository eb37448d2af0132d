// The engine multiplying by MXFP4 blocks directly (an MXFP4 checkpoint, as chat and the lab
// load it) against the same weights decoded to float32 once: the logits at every step agree
// to float32 rounding (only the summation order differs) and greedy tokens are identical,
// for one sequence and for several sharing a prefill. The weights stay 4-bit on the GPU.
import assert from "node:assert/strict";
import { Engine } from "../../src/engine/engine.ts";
import { argmax } from "../../src/engine/sampling.ts";
import { NO_SPECIAL_TOKENS } from "../../src/engine/tools.ts";
import { decodeMxfp4, encodeMxfp4, type Mxfp4Matrix } from "../../src/formats/mxfp4.ts";
import { type GPTConfig, paramShapes } from "../../src/model/config.ts";
import { Rng } from "../../src/util/rng.ts";
import { testGpu } from "./gpu.ts";
import { collect, engineWeights, GQA } from "./engine_fixture.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** Every matrix of cfg in MXFP4 (wte and lm_head included, as --mxfp4-all stores them). */
function quantiseAll(cfg: GPTConfig, params: Map<string, Float32Array>): { mxfp4: Map<string, Mxfp4Matrix>; decoded: Map<string, Float32Array> } {
  const mxfp4 = new Map<string, Mxfp4Matrix>(), decoded = new Map<string, Float32Array>();
  for (const { name, shape: [rows, cols] } of paramShapes(cfg)) {
    const q = encodeMxfp4(params.get(name)!, rows, cols);
    mxfp4.set(name, q);
    decoded.set(name, decodeMxfp4(q));
  }
  return { mxfp4, decoded };
}

/** Greedy tokens and every step's logits rows, through a pick that records them. */
async function greedyWithLogits(engine: Engine, prompt: number[], maxTokens: number, numSamples = 1) {
  const logits: Float32Array[][] = [];
  const pick = (l: Float32Array, row: number, step: number) => {
    (logits[step] ??= [])[row] = l.slice();
    return argmax(l);
  };
  const cols = await collect(engine.generate(prompt, { maxTokens, temperature: 0, numSamples, pick }));
  return { cols, logits };
}

Deno.test({
  ...opts,
  name: "engine (MXFP4 weights multiplied directly): logits and greedy tokens equal the decoded-float32 engine's (GQA 4/2, 1 and 3 rows, wte decoded)",
  fn: async () => {
    const gpu = await testGpu();
    const cfg = GQA;
    const { mxfp4, decoded } = quantiseAll(cfg, engineWeights(cfg, 7));
    const direct = await Engine.create(gpu, cfg, new Map(), NO_SPECIAL_TOKENS, { maxBatch: 3, mxfp4 });
    const reference = await Engine.create(gpu, cfg, decoded, NO_SPECIAL_TOKENS, { maxBatch: 3 });
    const matrices = paramShapes(cfg).map((p) => p.name).filter((n) => n !== "transformer.wte.weight");
    assert.deepEqual(direct.quantizedWeights.sort(), matrices.sort(), "every matrix but the embedding stays MXFP4");
    assert.deepEqual(reference.quantizedWeights, []);
    const bytes = direct.bufferBytes.params, f32 = reference.bufferBytes.params;
    const wte = cfg.vocab_size * cfg.n_embd * 4;
    // wte stays f32; the rest is 4.25 bits a weight (padding to whole blocks: none here, K is 64 or 256).
    assert.equal(bytes, wte + (f32 - wte) * 4.25 / 32, `params ${bytes} bytes against ${f32} in float32`);

    const rng = new Rng(3);
    for (const [len, rows] of [[23, 1], [1, 1], [17, 3]] as const) {
      const prompt = Array.from({ length: len }, () => rng.int(cfg.vocab_size));
      const a = await greedyWithLogits(direct, prompt, 20, rows), b = await greedyWithLogits(reference, prompt, 20, rows);
      for (let r = 0; r < rows; r++) assert.deepEqual(a.cols.map((c) => c.tokens[r]), b.cols.map((c) => c.tokens[r]), `prompt of ${len}, row ${r}`);
      assert.ok(new Set(b.cols.map((c) => c.tokens[0])).size > 4, "the reference continuation is not degenerate");
      let worst = 0, scale = 0;
      for (let s = 0; s < b.logits.length; s++) {
        for (let r = 0; r < rows; r++) {
          const x = a.logits[s][r], y = b.logits[s][r];
          assert.equal(x.length, cfg.vocab_size);
          for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i])), scale = Math.max(scale, Math.abs(y[i]));
        }
      }
      assert.ok(scale > 0.1, `logits are not all near zero (max |logit| ${scale})`);
      assert.ok(worst <= 1e-4 * scale, `prompt of ${len}: logits differ by ${worst} (max |logit| ${scale})`);
      // The engine's own greedy path (top-k kernel on the logits, no pick) agrees too.
      const plain = (await collect(direct.generate(prompt, { maxTokens: 20, temperature: 0 }))).map((c) => c.tokens[0]);
      assert.deepEqual(plain, b.cols.map((c) => c.tokens[0]), `prompt of ${len}: top-k greedy on MXFP4`);
    }
    direct.destroy();
    reference.destroy();
  },
});

Deno.test({
  ...opts,
  name: "engine (MXFP4): a quantised matrix of the wrong shape is refused, naming it",
  fn: async () => {
    const gpu = await testGpu();
    const params = engineWeights(GQA, 1);
    const name = "transformer.h.1.mlp.c_fc.weight";
    const wrong = encodeMxfp4(new Float32Array(GQA.n_embd * GQA.n_embd), GQA.n_embd, GQA.n_embd);
    await assert.rejects(
      Engine.create(gpu, GQA, params, NO_SPECIAL_TOKENS, { mxfp4: new Map([[name, wrong]]) }),
      /Engine weights: the MXFP4 transformer\.h\.1\.mlp\.c_fc\.weight is 64×64, expected 256×64/,
    );
  },
});

Deno.test({
  ...opts,
  name: "engine (MXFP4): a quantised matrix needs no float32 copy; every other weight must be there, whole",
  fn: async () => {
    const gpu = await testGpu();
    const name = "transformer.h.1.mlp.c_fc.weight", [rows, cols] = [4 * GQA.n_embd, GQA.n_embd];
    const params = engineWeights(GQA, 1);
    const mxfp4 = new Map([[name, encodeMxfp4(params.get(name)!, rows, cols)]]);
    params.delete(name);
    const engine = await Engine.create(gpu, GQA, params, NO_SPECIAL_TOKENS, { mxfp4 });
    assert.deepEqual(engine.quantizedWeights, [name]);
    engine.destroy();
    const other = "transformer.h.0.attn.c_v.weight";
    const missing = new Map(params);
    missing.delete(other);
    await assert.rejects(Engine.create(gpu, GQA, missing, NO_SPECIAL_TOKENS, { mxfp4 }), /Engine weights: missing transformer\.h\.0\.attn\.c_v\.weight/);
    const short = new Map(params).set(other, params.get(other)!.subarray(1));
    const n = params.get(other)!.length;
    await assert.rejects(Engine.create(gpu, GQA, short, NO_SPECIAL_TOKENS, { mxfp4 }), new RegExp(`Engine weights: transformer\\.h\\.0\\.attn\\.c_v\\.weight has ${n - 1} values, expected ${n}`));
  },
});
