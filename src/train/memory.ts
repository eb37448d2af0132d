// GPU bytes one adapter holds while training (each data-parallel adapter holds a full
// replica), computed from the same descriptions the allocators use — the activation
// builder, the loss head's chunk rule, the optimizer split and Muon's scratch rule — so
// it is exactly what GPT.create + ModelOptimizer.create allocate as tensors (a test checks
// it byte for byte). The driver, pipelines, uniforms and fragmentation come on top, so
// presets keep ≥ 15% headroom.
import { tensorBytes } from "../gpu/tensor.ts";
import { activationBytesFor } from "../model/activations.ts";
import { type GPTConfig, headDim, numel, paramShapes } from "../model/config.ts";
import { lossChunkRows } from "../nn/cross_entropy.ts";
import { gradNormScratchSizes } from "../optim/grad_norm.ts";
import { muonScratchSizes } from "../optim/muon.ts";
import { paramGroup } from "../optim/optimizer.ts";

export interface MemoryEstimate {
  params: number;
  grads: number;
  /** AdamW m, v of the embedding and lm_head; Muon momentum of the block matrices. */
  optimizer: number;
  /** Every buffer of the forward and backward (src/model/activations.ts). */
  activations: number;
  /** The logits chunk, rotary tables, embedding-backward index, grad-norm and Newton–Schulz buffers. */
  scratch: number;
  total: number;
}

const f32 = (floats: number) => tensorBytes([floats], "f32");

/**
 * maxBindingBytes: the adapter's maxStorageBufferBindingSize, which caps the logits chunk
 * (32 MiB by default); leave it out for the adapters presets are written for.
 */
export function estimateTrainingMemory(
  r: { model: GPTConfig; config: { device_batch_size: number; max_seq_len: number }; optimizer?: { useMuon: boolean } },
  opts: { maxBindingBytes?: number } = {},
): MemoryEstimate {
  const m = r.model, B = r.config.device_batch_size, T = r.config.max_seq_len, N = B * T;
  const useMuon = r.optimizer?.useMuon ?? true;
  const shapes = paramShapes(m);
  const params = shapes.reduce((s, p) => s + tensorBytes(p.shape, "f32"), 0);
  let optimizer = 0;
  const muonShapes: [number, number][] = [];
  for (const p of shapes) {
    const bytes = tensorBytes(p.shape, "f32");
    if (paramGroup(p.name, useMuon).optimizer === "muon") {
      optimizer += bytes;
      muonShapes.push([p.shape[0], p.shape[1]]);
    } else {
      optimizer += 2 * bytes;
    }
  }
  const activations = activationBytesFor(m, B, T, true);
  const chunkRows = lossChunkRows({ N, V: m.vocab_size }, opts.maxBindingBytes ?? Infinity);
  const hd = headDim(m);
  const ns = muonShapes.length ? muonScratchSizes(muonShapes) : null;
  const gn = gradNormScratchSizes(shapes.map((p) => numel(p.shape)));
  const scratch = f32(chunkRows * m.vocab_size) + // lm_head logits chunk
    2 * f32(m.sequence_len * (hd / 2)) + // rotary cos, sin
    2 * tensorBytes([N], "u32") + tensorBytes([N + 1], "u32") + // embedding backward: tokens, positions, offsets
    f32(gn.state) + f32(gn.partials) +
    (ns ? 2 * f32(ns.X) + 2 * f32(ns.A) + f32(ns.partials) + f32(ns.normSq) : 0);
  return { params, grads: params, optimizer, activations, scratch, total: 2 * params + optimizer + activations + scratch };
}
