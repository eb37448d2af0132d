// The whole GPT on WebGPU against the float64 CPU reference (tests/reference/gpt.ts):
// loss within 1e-5 relative, every parameter's gradient within 1e-3 relative, and the
// same inputs giving bitwise the same loss and gradients on a second run.
import assert from "node:assert/strict";
import type { GPTConfig } from "../../src/model/config.ts";
import { liveTensorBytes } from "../../src/gpu/tensor.ts";
import { activationBytes } from "../../src/model/activations.ts";
import { GPT } from "../../src/model/gpt.ts";
import { InferenceGPT } from "../../src/model/inference.ts";
import { ModelOptimizer, NANOCHAT_OPTIM } from "../../src/optim/optimizer.ts";
import { estimateTrainingMemory } from "../../src/train/memory.ts";
import { Rng } from "../../src/util/rng.ts";
import { refBackward, refForward, refLogits, toFloat64Params } from "../reference/gpt.ts";
import { nudgedParams, relErr } from "./harness.ts";
import { testGpu } from "./gpu.ts";

// depth 2, n_embd 64, vocab 256, T 32, B 2 as the issue asks; GQA 4 query heads on 2 kv heads.
const CFG: GPTConfig = { sequence_len: 32, vocab_size: 256, n_layer: 2, n_head: 4, n_kv_head: 2, n_embd: 64 };
const B = 2, T = 32;

const testParams = (seed: number) => nudgedParams(CFG, seed, 0.05, 4);

function testBatch(seed: number) {
  const rng = new Rng(seed);
  const tokens = Int32Array.from({ length: B * T }, () => rng.int(CFG.vocab_size));
  // Targets: next tokens, with a few ignored (−1) as chat masks produce.
  const targets = Int32Array.from({ length: B * T }, (_, i) => (i % 11 === 5 ? -1 : rng.int(CFG.vocab_size)));
  return { tokens, targets };
}

Deno.test({
  name: "GPT forward+backward on WebGPU matches the float64 reference (loss 1e-5, every gradient 1e-3)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const gpu = await testGpu();
    const params = testParams(7);
    const { tokens, targets } = testBatch(3);
    const model = await GPT.create(gpu, CFG, { B, T, training: true, lossChunkRows: 24 });
    model.loadParams(params);
    const loss = await model.forwardBackward(tokens, targets);
    const grads = await model.readGrads();
    const ref64 = toFloat64Params(CFG, params);
    const ref = refForward(CFG, ref64, tokens, targets, B, T);
    const refGrads = refBackward(CFG, ref64, ref.cache);
    const lossErr = Math.abs(loss - ref.loss) / Math.abs(ref.loss);
    console.log(`loss: webgpu ${loss.toFixed(7)}  reference ${ref.loss.toFixed(7)}  rel.err ${lossErr.toExponential(2)}`);
    assert.ok(lossErr < 1e-5, `loss rel.err ${lossErr}`);
    let worst = 0;
    for (const [name, g] of refGrads) {
      const err = relErr(grads.get(name)!, g);
      worst = Math.max(worst, err);
      assert.ok(err < 1e-3, `gradient of ${name}: rel.err ${err.toExponential(3)}`);
    }
    console.log(`worst gradient rel.err over ${refGrads.size} parameters: ${worst.toExponential(2)}`);
    model.destroy();
  },
});

Deno.test({
  name: "GPT: same seed and inputs give bitwise-identical loss and gradients",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const gpu = await testGpu();
    const { tokens, targets } = testBatch(11);
    const runs: { loss: number; grads: Map<string, Float32Array> }[] = [];
    for (let r = 0; r < 2; r++) {
      const model = await GPT.create(gpu, CFG, { B, T, training: true });
      model.loadParams(testParams(5));
      const loss = await model.forwardBackward(tokens, targets);
      runs.push({ loss, grads: await model.readGrads() });
      model.destroy();
    }
    assert.equal(runs[0].loss, runs[1].loss);
    for (const [name, g] of runs[0].grads) {
      const a = new Uint32Array(g.buffer), b = new Uint32Array(runs[1].grads.get(name)!.buffer);
      assert.ok(a.every((w, i) => w === b[i]), `gradient of ${name} differs between runs`);
    }
  },
});

Deno.test({
  name: "GPT: a config over the adapter's limits fails before any work, naming the limit and the field",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const gpu = await testGpu();
    const huge: GPTConfig = { ...CFG, vocab_size: 1 << 20, n_embd: 256, n_head: 2, n_kv_head: 2 };
    await assert.rejects(GPT.create(gpu, huge, { B, T, training: true }), /maxStorageBufferBindingSize.*Lower vocab_size or n_embd/s);
    const wideHeads: GPTConfig = { ...CFG, n_embd: 512, n_head: 2, n_kv_head: 2 };
    await assert.rejects(GPT.create(gpu, wideHeads, { B, T }), /head_dim 256.*raise n_head/);
    await assert.rejects(GPT.create(gpu, CFG, { B, T: 64 }), /T=64 is longer than the model's sequence_len 32/);
  },
});

Deno.test({
  name: "GPT forward-only: loss and last-position logits match the float64 reference",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const gpu = await testGpu();
    const params = testParams(21);
    const { tokens, targets } = testBatch(4);
    const model = await GPT.create(gpu, CFG, { B, T });
    model.loadParams(params);
    const ref64 = toFloat64Params(CFG, params);
    const loss = await model.forward(tokens, targets);
    const ref = refForward(CFG, ref64, tokens, targets, B, T);
    assert.ok(Math.abs(loss - ref.loss) / ref.loss < 1e-5, `forward loss ${loss} vs ${ref.loss}`);
    assert.ok(relErr(await model.readRowLosses(), ref.cache.losses) < 1e-5, "per-row losses");
    // Generation's forward over the same weight buffers gives the reference's logits.
    const inference = await InferenceGPT.create(gpu, CFG, model.params, { B, T });
    const refLast = refLogits(CFG, ref64, tokens, B, T, 1); // (B, 1, V)
    const V = CFG.vocab_size;
    for (let b = 0; b < B; b++) {
      const got = await inference.logitsAt(tokens, b * T + T - 1);
      const err = relErr(got, refLast.subarray(b * V, (b + 1) * V));
      assert.ok(err < 1e-5, `logits of sequence ${b}: rel.err ${err}`);
    }
    inference.destroy();
    model.destroy();
  },
});

Deno.test({
  name: "GPT: the training memory estimate is exactly what GPT + ModelOptimizer allocate, and destroy frees it all",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const gpu = await testGpu();
    // The test model (GQA), and one whose logits need several lm_head chunks (V·N·4 > 32 MiB).
    const chunked: GPTConfig = { sequence_len: 128, vocab_size: 8192, n_layer: 1, n_head: 2, n_kv_head: 1, n_embd: 32 };
    for (const [cfg, batch] of [[CFG, B], [chunked, 16]] as const) {
      const T = cfg.sequence_len;
      const est = estimateTrainingMemory({ model: cfg, config: { device_batch_size: batch, max_seq_len: T } }, { maxBindingBytes: gpu.limits.maxStorageBufferBindingSize });
      const before = liveTensorBytes(gpu);
      const model = await GPT.create(gpu, cfg, { B: batch, T, training: true });
      const opt = await ModelOptimizer.create(gpu, cfg.n_embd, model.params, model.grads, NANOCHAT_OPTIM);
      assert.equal(activationBytes(model.acts), est.activations, "activations: estimate vs allocateActivations");
      assert.equal(model.bufferBytes.params, est.params);
      assert.equal(liveTensorBytes(gpu) - before, est.total, `${JSON.stringify(cfg)}: allocated vs estimated bytes`);
      model.destroy();
      opt.destroy();
      assert.equal(liveTensorBytes(gpu), before, "destroy() frees every tensor");
    }
  },
});
