// How the optimizer is wired, as opposed to each kernel alone (tests/kernels/cases/optim.ts):
// which group each parameter lands in, its base LR and width scaling, weight decay on the
// AdamW groups only, the schedule multiplier and Muon momentum reaching every update, the
// clip setting reaching the clip — two steps of ModelOptimizer against float64 references.
// And gradient accumulation: a step over two micro-batches holds the mean of their gradients.
import assert from "node:assert/strict";
import { runOps } from "../../src/gpu/kernel.ts";
import { readF32, writeTensor } from "../../src/gpu/tensor.ts";
import { type GPTConfig, paramShapes } from "../../src/model/config.ts";
import { GPT } from "../../src/model/gpt.ts";
import { createParamTensors } from "../../src/model/tensors.ts";
import { NANOCHAT_ADAMW } from "../../src/optim/adamw.ts";
import { ModelOptimizer, type OptimizerConfig } from "../../src/optim/optimizer.ts";
import { trainStep } from "../../src/train/step.ts";
import { Rng } from "../../src/util/rng.ts";
import { adamwRefStep, type AdamWRefState, muonRefStep } from "../reference/optim_ref.ts";
import { nudgedParams, randomF32, relErr } from "./harness.ts";
import { testGpu } from "./gpu.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
// n_embd 64: the AdamW groups' width scale (64/768)^−0.5 ≈ 3.46 is far from 1.
const CFG: GPTConfig = { sequence_len: 8, vocab_size: 48, n_layer: 1, n_head: 2, n_kv_head: 1, n_embd: 64 };

Deno.test({
  ...opts,
  name: "optimizer wiring: group LRs with width scaling, weight decay on AdamW only, LR multiplier, momentum and the clip reach two steps (vs float64)",
  fn: async () => {
    const gpu = await testGpu();
    const rng = new Rng(11);
    const shapes = paramShapes(CFG);
    const p0 = new Map(shapes.map(({ name, shape }) => [name, randomF32(rng, shape[0] * shape[1], 0.1)]));
    const params = createParamTensors(gpu, CFG), grads = createParamTensors(gpu, CFG, "grad:");
    for (const [n, v] of p0) writeTensor(params.get(n)!, v);
    // Step 1's gradients are large and clipped, step 2's small and not: the clip changes
    // how the two steps weigh in the moments (Adam and Muon are blind to one uniform scale).
    const g = [1, 0.003].map((scale) => new Map(shapes.map(({ name, shape }) => [name, randomF32(rng, shape[0] * shape[1], scale)])));
    const norm = (m: Map<string, Float32Array>) => Math.sqrt([...m.values()].reduce((s, a) => s + a.reduce((t, x) => t + x * x, 0), 0));
    const cfg: OptimizerConfig = { embeddingLr: 0.05, unembeddingLr: 0.002, matrixLr: 0.03, weightDecay: 0.1, gradClip: 0.5 * norm(g[0]), useMuon: true };
    const opt = await ModelOptimizer.create(gpu, CFG.n_embd, params, grads, cfg);
    const steps = [{ lrm: 1, mu: 0.85 }, { lrm: 0.6, mu: 0.9 }];

    const widthScale = (CFG.n_embd / 768) ** -0.5;
    const ref = new Map([...p0].map(([n, v]) => [n, Float64Array.from(v)]));
    const adam = new Map<string, AdamWRefState>(), muon = new Map<string, { buf: Float64Array }>();
    for (const [s, { lrm, mu }] of steps.entries()) {
      for (const [n, v] of g[s]) writeTensor(grads.get(n)!, v);
      opt.prepareStep(lrm, mu);
      await runOps(gpu, opt.ops);
      const factor = Math.min(1, cfg.gradClip / (norm(g[s]) + 1e-6));
      for (const { name, shape } of shapes) {
        const gs = g[s].get(name)!.map((x) => x * factor);
        if (name === "transformer.wte.weight" || name === "lm_head.weight") {
          const base = name === "lm_head.weight" ? cfg.unembeddingLr : cfg.embeddingLr;
          if (!adam.has(name)) adam.set(name, { m: new Float64Array(gs.length), v: new Float64Array(gs.length), t: 0 });
          adamwRefStep(ref.get(name)!, gs, adam.get(name)!, { ...NANOCHAT_ADAMW, lr: base * widthScale * lrm, weightDecay: cfg.weightDecay });
        } else {
          if (!muon.has(name)) muon.set(name, { buf: new Float64Array(gs.length) });
          muonRefStep(ref.get(name)!, gs, muon.get(name)!, shape[0], shape[1], cfg.matrixLr * lrm, mu);
        }
      }
    }
    assert.ok(Math.abs((await opt.gradNorm.readNorm()) - norm(g[1])) < 1e-5 * norm(g[1]), "the logged norm is step 2's, before clipping");
    for (const { name } of shapes) {
      const got = await readF32(params.get(name)!), start = p0.get(name)!;
      const err = relErr(got.map((x, i) => x - start[i]), ref.get(name)!.map((x, i) => x - start[i]));
      const bound = name.startsWith("transformer.h.") ? 1e-3 : 1e-5; // Newton–Schulz in float32
      assert.ok(err < bound, `${name}: update rel.err ${err.toExponential(2)} (bound ${bound})`);
    }
    opt.destroy();
    for (const t of [...params.values(), ...grads.values()]) t.destroy();
  },
});

Deno.test({
  ...opts,
  name: "gradient accumulation: a step over two micro-batches holds the mean of their gradients; loss and norm are the mean's",
  fn: async () => {
    const gpu = await testGpu();
    const B = 2, T = CFG.sequence_len, N = B * T, rng = new Rng(5);
    const batch = (masked: number) => {
      const seq = Int32Array.from({ length: N + 1 }, () => rng.int(CFG.vocab_size));
      // Different numbers of supervised targets: each micro-batch's loss is its own mean.
      return { inputs: seq.slice(0, N), targets: seq.slice(1).map((t, i) => (i < masked ? -1 : t)) };
    };
    const micro = [batch(0), batch(5)];
    const init = nudgedParams(CFG, 3, 0.05, 4);
    const single = await GPT.create(gpu, CFG, { B, T, training: true });
    single.loadParams(init);
    const each: { loss: number; grads: Map<string, Float32Array> }[] = [];
    for (const mb of micro) each.push({ loss: await single.forwardBackward(mb.inputs, mb.targets), grads: await single.readGrads() });
    single.destroy();

    const model = await GPT.create(gpu, CFG, { B, T, training: true });
    model.loadParams(init);
    const opt = await ModelOptimizer.create(gpu, CFG.n_embd, model.params, model.grads, { embeddingLr: 0.1, unembeddingLr: 0.01, matrixLr: 0.02, weightDecay: 0, gradClip: 0, useMuon: true });
    const r = await trainStep(model, opt, micro, 1, 0.85);
    const grads = await model.readGrads();
    let sq = 0;
    for (const [name, gAcc] of grads) {
      const mean = each[0].grads.get(name)!.map((x, i) => (x + each[1].grads.get(name)![i]) / 2);
      for (const x of mean) sq += x * x;
      const err = relErr(gAcc, mean);
      assert.ok(err < 1e-5, `${name}: accumulated gradient vs the mean of the two, rel.err ${err.toExponential(2)}`);
    }
    assert.ok(Math.abs(r.loss - (each[0].loss + each[1].loss) / 2) < 1e-6, `loss ${r.loss} vs the micro-batches' mean`);
    assert.ok(Math.abs(r.gradNorm - Math.sqrt(sq)) < 1e-5 * Math.sqrt(sq), `grad norm ${r.gradNorm} vs ${Math.sqrt(sq)}`);
    opt.destroy();
    model.destroy();
  },
});
