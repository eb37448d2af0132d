// Quantisation-aware training (`--qat mxfp4`): every step's forward and backward run through
// the MXFP4 rounding of the matrices an MXFP4 export quantises (the blocks' matrices; wte and
// lm_head stay as they are, src/formats/checkpoint.ts's MXFP4_BF16_PARAMS), while the
// optimizer keeps updating the float32 master weights. The gradient of the rounding is taken
// as the identity (the straight-through estimator), so the step is
//
//   W ← opt(W, ∂L/∂W evaluated at Q(W)),   Q = decode ∘ encode (src/formats/mxfp4.ts)
//
// and is recorded around the step's micro-batches as
//   before: M ← W; W ← Q(W)           (copy, then GPU quantise + dequantise in place)
//   after:  W ← M                     (the master weights back, before the optimizer runs)
// so the model's own forward and backward kernels see the rounded weights unchanged; the
// gradients they accumulate are the straight-through ones. The quantise/dequantise kernels
// match the CPU encode/decode bit for bit, so the weights trained against are exactly what an
// MXFP4 export of the checkpoint will hold.
import type { Gpu } from "../gpu/device.ts";
import type { Op } from "../gpu/kernel.ts";
import { createTensor, type Tensor } from "../gpu/tensor.ts";
import { MXFP4_BF16_PARAMS } from "../formats/checkpoint.ts";
import { type GPTConfig, paramShapes } from "../model/config.ts";
import { destroyMxfp4, type Mxfp4Tensors, mxfp4DequantizeOp, mxfp4QuantizeOp, mxfp4Words } from "../nn/mxfp4.ts";
import { axpbyOp } from "../nn/reduce.ts";

/** The QAT modes `--qat` takes ("" is off). */
export const QAT_MODES = ["mxfp4"] as const;

export interface FakeQuant {
  /** The matrices trained through the rounding. */
  names: string[];
  /** Recorded before the step's first forward: keep the masters, round the weights in place. */
  before: Op[];
  /** Recorded after the last backward, before the optimizer: the master weights back. */
  after: Op[];
  destroy(): void;
}

/** Fake-quant ops over `params` (the training model's weight tensors, nanochat names). */
export async function createFakeQuant(gpu: Gpu, cfg: GPTConfig, params: Map<string, Tensor>): Promise<FakeQuant> {
  const owned: Tensor[] = [], packed: Mxfp4Tensors[] = [];
  const fq: FakeQuant = {
    names: [], before: [], after: [],
    destroy: () => {
      for (const t of owned) t.destroy();
      for (const q of packed) destroyMxfp4(q);
    },
  };
  try {
    for (const { name, shape } of paramShapes(cfg)) {
      if (shape.length !== 2 || MXFP4_BF16_PARAMS.includes(name)) continue;
      const w = params.get(name);
      if (!w) throw new Error(`createFakeQuant: no tensor for ${name}`);
      const s = { rows: shape[0], K: shape[1] }, n = s.rows * s.K, words = mxfp4Words(s);
      const master = createTensor(gpu, shape, "f32", `qat.master ${name}`);
      owned.push(master);
      const q = { blocks: createTensor(gpu, [words.blocks], "u32", `qat.blocks ${name}`), scales: createTensor(gpu, [words.scales], "u32", `qat.scales ${name}`) };
      packed.push(q);
      // axpby with beta 0 is a copy: master only ever holds copies of finite weights.
      fq.before.push(await axpbyOp(gpu, { x: w, y: master }, { n }, { alpha: 1, beta: 0, label: `qat.keep ${name}` }));
      fq.before.push(await mxfp4QuantizeOp(gpu, { x: w, ...q }, s, { label: `qat.quantize ${name}` }));
      fq.before.push(await mxfp4DequantizeOp(gpu, { ...q, out: w }, s, { label: `qat.dequantize ${name}` }));
      fq.after.push(await axpbyOp(gpu, { x: master, y: w }, { n }, { alpha: 1, beta: 0, label: `qat.restore ${name}` }));
      fq.names.push(name);
    }
    return fq;
  } catch (err) {
    fq.destroy();
    throw err;
  }
}
