// Optimizers driving the real model: the tiny GPT overfits one batch with Muon + AdamW
// (and, more slowly, with AdamW alone), and save → load → continue is bitwise the same
// as never stopping.
import assert from "node:assert/strict";
import type { GPTConfig } from "../../src/model/config.ts";
import { GPT } from "../../src/model/gpt.ts";
import { initParams } from "../../src/model/params.ts";
import { ModelOptimizer, NANOCHAT_OPTIM, type OptimizerConfig } from "../../src/optim/optimizer.ts";
import { muonMomentum } from "../../src/optim/schedule.ts";
import { decodeSafetensors, encodeSafetensors } from "../../src/formats/safetensors.ts";
import { type MicroBatch, trainStep } from "../../src/train/step.ts";
import { Rng } from "../../src/util/rng.ts";
import { testGpu } from "./gpu.ts";

const CFG: GPTConfig = { sequence_len: 32, vocab_size: 256, n_layer: 2, n_head: 2, n_kv_head: 2, n_embd: 64 };
const B = 2, T = 32;

function fixedBatch(seed: number): MicroBatch {
  const rng = new Rng(seed);
  const seq = Int32Array.from({ length: B * T + 1 }, () => rng.int(CFG.vocab_size));
  return { inputs: seq.slice(0, B * T), targets: seq.slice(1) };
}

async function setup(optCfg: OptimizerConfig) {
  const gpu = await testGpu();
  const model = await GPT.create(gpu, CFG, { B, T, training: true });
  model.loadParams(initParams(CFG, 1));
  const opt = await ModelOptimizer.create(gpu, CFG.n_embd, model.params, model.grads, optCfg);
  return { model, opt };
}

async function overfit(optCfg: OptimizerConfig, steps: number): Promise<number[]> {
  const { model, opt } = await setup(optCfg);
  const batch = fixedBatch(9);
  const curve: number[] = [];
  for (let it = 0; it < steps; it++) curve.push((await trainStep(model, opt, [batch], 1, muonMomentum(it))).loss);
  curve.push(await model.forward(batch.inputs, batch.targets));
  model.destroy();
  opt.destroy();
  return curve;
}

Deno.test({
  name: "tiny GPT overfits one batch: Muon+AdamW loss falls ≥ 90% in 100 steps; AdamW alone falls too",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const muon = await overfit(NANOCHAT_OPTIM, 100);
    const adam = await overfit({ ...NANOCHAT_OPTIM, useMuon: false, matrixAdamLr: 0.004 }, 100);
    const show = (c: number[]) => `${c[0].toFixed(3)} → ${c[25].toFixed(3)} → ${c[50].toFixed(3)} → ${c[c.length - 1].toFixed(4)}`;
    console.log(`Muon+AdamW: ${show(muon)}`);
    console.log(`AdamW only: ${show(adam)}`);
    assert.ok(Math.abs(muon[0] - Math.log(CFG.vocab_size)) < 1e-4, `initial loss ${muon[0]} should be ln V (zero lm_head)`);
    assert.ok(muon[muon.length - 1] <= 0.1 * muon[0], `Muon+AdamW end loss ${muon[muon.length - 1]} is not ≤ 10% of ${muon[0]}`);
    assert.ok(adam[adam.length - 1] < 0.7 * adam[0], `AdamW-only end loss ${adam[adam.length - 1]} did not fall`);
  },
});

Deno.test({
  name: "save → load → continue gives bitwise the same parameters as never stopping",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const batches = [fixedBatch(1), fixedBatch(2), fixedBatch(3), fixedBatch(4)];
    const run = async (model: GPT, opt: ModelOptimizer, from: number, to: number) => {
      for (let it = from; it < to; it++) await trainStep(model, opt, [batches[it % 4]], 1 - it * 0.05, muonMomentum(it));
    };
    // Uninterrupted: 6 steps.
    const a = await setup(NANOCHAT_OPTIM);
    await run(a.model, a.opt, 0, 3);
    const modelBytes = encodeSafetensors(await a.model.readParams());
    const optState = await a.opt.saveState();
    const optBytes = encodeSafetensors(optState.tensors, optState.meta);
    await run(a.model, a.opt, 3, 6);
    const straight = await a.model.readParams();
    // Interrupted: fresh objects, loaded from the serialized bytes, then steps 3..6.
    const b = await setup(NANOCHAT_OPTIM);
    const saved = decodeSafetensors(modelBytes, "model.safetensors").tensors;
    b.model.loadParams(new Map([...saved].map(([k, v]) => [k, v.data as Float32Array])));
    const o = decodeSafetensors(optBytes, "optim.safetensors");
    b.opt.loadState({ tensors: new Map([...o.tensors].map(([k, v]) => [k, v.data as Float32Array])), meta: o.metadata });
    await run(b.model, b.opt, 3, 6);
    const resumed = await b.model.readParams();
    for (const [name, p] of straight) {
      const x = new Uint32Array(p.buffer), y = new Uint32Array(resumed.get(name)!.buffer);
      assert.ok(x.every((w, i) => w === y[i]), `${name} differs after resume`);
    }
    for (const s of [a, b]) {
      s.model.destroy();
      s.opt.destroy();
    }
  },
});

Deno.test({
  name: "a micro-batch whose every loss weight is 0 is skipped exactly: [zero, A] and [A, zero] step as A with half weights alone; all-zero steps still step",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const N = B * T;
    const a = fixedBatch(5), z = fixedBatch(6);
    const rng = new Rng(3);
    const w = Float32Array.from({ length: N }, () => rng.uniform() * 2 - 1); // advantages of both signs
    const A: MicroBatch = { ...a, weights: w };
    const half: MicroBatch = { ...a, weights: w.map((x) => x / 2) };
    const Z: MicroBatch = { ...z, weights: new Float32Array(N) };
    const paramsAfter = async (steps: MicroBatch[][]) => {
      const s = await setup(NANOCHAT_OPTIM);
      const losses = [];
      for (let it = 0; it < steps.length; it++) losses.push((await trainStep(s.model, s.opt, steps[it], 1, muonMomentum(it))).loss);
      const params = await s.model.readParams();
      s.model.destroy();
      s.opt.destroy();
      return { params, losses };
    };
    const alone = await paramsAfter([[half], [half]]);
    const bits = (x: Float32Array) => new Uint32Array(x.buffer);
    for (const order of [[Z, A], [A, Z]]) {
      const r = await paramsAfter([order, order]);
      assert.deepEqual(r.losses, alone.losses, "the skipped micro-batch adds 0 to the mean loss");
      for (const [name, p] of alone.params) assert.deepEqual(bits(r.params.get(name)!), bits(p), `${name}: [${order[0] === Z ? "zero, A" : "A, zero"}] differs from A alone`);
    }
    // A step where nothing carries loss still runs the optimizer: the momentum of the step before moves the weights.
    const once = await paramsAfter([[half]]);
    const thenZero = await paramsAfter([[half], [Z, Z]]);
    assert.deepEqual(thenZero.losses, [once.losses[0], 0]);
    const moved = [...once.params].some(([name, p]) => !bits(thenZero.params.get(name)!).every((x, i) => x === bits(p)[i]));
    assert.ok(moved, "an all-zero step must still apply the optimizer's momentum");
  },
});
