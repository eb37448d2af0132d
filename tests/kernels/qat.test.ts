// Quantisation-aware training (src/train/qat.ts) inside a real train step: over two
// micro-batches, the step's loss is the loss at the MXFP4-rounded weights, and the update
// lands on the float32 master weights with the gradients taken there (straight-through) —
// built here without the QAT code: gradients of a model loaded with the CPU's rounded
// weights, then the optimizer alone over the unrounded ones.
import assert from "node:assert/strict";
import { decodeMxfp4, encodeMxfp4 } from "../../src/formats/mxfp4.ts";
import { runOps } from "../../src/gpu/kernel.ts";
import { readF32, writeTensor } from "../../src/gpu/tensor.ts";
import { type GPTConfig, paramShapes } from "../../src/model/config.ts";
import { GPT } from "../../src/model/gpt.ts";
import { ModelOptimizer, type OptimizerConfig } from "../../src/optim/optimizer.ts";
import { createFakeQuant } from "../../src/train/qat.ts";
import { type MicroBatch, trainStep } from "../../src/train/step.ts";
import { Rng } from "../../src/util/rng.ts";
import { nudgedParams, relErr } from "./harness.ts";
import { testGpu } from "./gpu.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const CFG: GPTConfig = { sequence_len: 32, vocab_size: 256, n_layer: 2, n_head: 2, n_kv_head: 1, n_embd: 64 };
const OPT: OptimizerConfig = { embeddingLr: 0.1, unembeddingLr: 0.01, matrixLr: 0.02, weightDecay: 0, gradClip: 1, useMuon: true };
const B = 2, T = CFG.sequence_len;
const BLOCK_MATRICES = paramShapes(CFG).filter((p) => p.name.startsWith("transformer.h.")).map((p) => p.name);

function microBatches(): MicroBatch[] {
  const rng = new Rng(8);
  return [0, 7].map((masked) => {
    const seq = Int32Array.from({ length: B * T + 1 }, () => rng.int(CFG.vocab_size));
    return { inputs: seq.slice(0, B * T), targets: seq.slice(1).map((t, i) => (i < masked ? -1 : t)) };
  });
}

Deno.test({
  ...opts,
  name: "QAT (mxfp4): a step's loss is the rounded weights' and its update lands on the float32 masters with the straight-through gradients (2 micro-batches)",
  fn: async () => {
    const gpu = await testGpu();
    const P = nudgedParams(CFG, 3, 0.05, 4), micro = microBatches();
    const rounded = new Map(P);
    for (const name of BLOCK_MATRICES) {
      const [rows, cols] = paramShapes(CFG).find((p) => p.name === name)!.shape;
      rounded.set(name, decodeMxfp4(encodeMxfp4(P.get(name)!, rows, cols)));
    }

    // Reference: the mean gradient at the rounded weights, applied by the optimizer to P.
    const ref = await GPT.create(gpu, CFG, { B, T, training: true });
    ref.loadParams(rounded);
    const each: { loss: number; grads: Map<string, Float32Array> }[] = [];
    for (const mb of micro) each.push({ loss: await ref.forwardBackward(mb.inputs, mb.targets), grads: await ref.readGrads() });
    ref.loadParams(P);
    for (const [name, g] of ref.grads) writeTensor(g, each[0].grads.get(name)!.map((x, i) => (x + each[1].grads.get(name)![i]) / 2));
    const refOpt = await ModelOptimizer.create(gpu, CFG.n_embd, ref.params, ref.grads, OPT);
    refOpt.prepareStep(1, 0.85);
    await runOps(gpu, refOpt.ops, "reference optimizer step");
    const want = await ref.readParams();

    const model = await GPT.create(gpu, CFG, { B, T, training: true });
    model.loadParams(P);
    const opt = await ModelOptimizer.create(gpu, CFG.n_embd, model.params, model.grads, OPT);
    const fq = await createFakeQuant(gpu, CFG, model.params);
    assert.deepEqual(fq.names, BLOCK_MATRICES, "the blocks' matrices, as an MXFP4 export quantises them (wte, lm_head kept)");
    const r = await trainStep(model, opt, micro, 1, 0.85, { around: fq });
    assert.ok(Math.abs(r.loss - (each[0].loss + each[1].loss) / 2) < 1e-6, `loss ${r.loss} vs the rounded weights' ${(each[0].loss + each[1].loss) / 2}`);
    const got = await model.readParams();
    for (const [name, w] of want) {
      const start = P.get(name)!;
      const err = relErr(got.get(name)!.map((x, i) => x - start[i]), w.map((x, i) => x - start[i]));
      assert.ok(err < 1e-4, `${name}: update from the master weights, rel.err ${err.toExponential(2)}`);
    }

    // Without QAT the same step differs: the rounding is visible in the update.
    const plain = await GPT.create(gpu, CFG, { B, T, training: true });
    plain.loadParams(P);
    const plainOpt = await ModelOptimizer.create(gpu, CFG.n_embd, plain.params, plain.grads, OPT);
    const rp = await trainStep(plain, plainOpt, micro, 1, 0.85);
    assert.ok(Math.abs(rp.loss - r.loss) > 1e-4, `the rounding changes the loss (${rp.loss} vs ${r.loss})`);
    const plainGot = await readF32(plain.params.get(BLOCK_MATRICES[0])!);
    const start = P.get(BLOCK_MATRICES[0])!;
    const dPlain = relErr(plainGot.map((x, i) => x - start[i]), want.get(BLOCK_MATRICES[0])!.map((x, i) => x - start[i]));
    assert.ok(dPlain > 1e-2, `a plain step's update is another (rel. diff ${dPlain.toExponential(2)})`);
    for (const x of [fq, opt, model, refOpt, ref, plainOpt, plain]) x.destroy();
  },
});
