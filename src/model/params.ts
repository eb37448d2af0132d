// Parameter initialization (nanochat's init_weights) and the rotary tables.
// Runtime-agnostic: no Deno.* here.
import { Rng } from "../util/rng.ts";
import { type GPTConfig, numel, paramShapes } from "./config.ts";

/** nanochat's rotary base at the reference commit (HEAD later moved to 100,000). */
export const ROTARY_BASE = 10000;

/**
 * The init std of a Linear weight of shape (out, in): fan_in^-1/2 · min(1, sqrt(fan_out/fan_in)).
 * The second factor shrinks matrices that narrow the stream (e.g. GQA's c_k/c_v), so their
 * output has about the same scale as a square matrix's.
 */
export function linearInitStd(fanOut: number, fanIn: number): number {
  return (1 / Math.sqrt(fanIn)) * Math.min(1, Math.sqrt(fanOut / fanIn));
}

/** Parameters that nanochat zeroes after the normal init (every block then starts as identity). */
export function isZeroInit(name: string): boolean {
  return name === "lm_head.weight" || name.endsWith(".attn.c_proj.weight") || name.endsWith(".mlp.c_proj.weight");
}

/** The std of a parameter's init: 1 for the embedding, 0 where zeroed, else linearInitStd. */
export function initStd(name: string, shape: readonly number[]): number {
  if (name === "transformer.wte.weight") return 1;
  if (isZeroInit(name)) return 0;
  return linearInitStd(shape[0], shape[1]);
}

/**
 * nanochat's init: embedding ~ N(0, 1); every Linear ~ N(0, linearInitStd); then lm_head,
 * every attn.c_proj and every mlp.c_proj zeroed (so the initial loss is exactly ln V).
 *
 * Deterministic in `seed`: one Rng draws the tensors in paramShapes order, row-major
 * within a tensor. Zeroed tensors draw nothing (drawing and discarding V·C normals for
 * lm_head would only cost time), so the stream differs from "init then zero" — it is our
 * own stream either way, PyTorch's generator is not reproducible here.
 */
export function initParams(cfg: GPTConfig, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const out = new Map<string, Float32Array>();
  for (const { name, shape } of paramShapes(cfg)) {
    const w = new Float32Array(numel(shape));
    const std = initStd(name, shape);
    if (std !== 0) for (let i = 0; i < w.length; i++) w[i] = rng.normal() * std;
    out.set(name, w);
  }
  return out;
}

/**
 * Rotary cos/sin tables, each (seqLen, headDim/2) row-major: entry [t, i] is
 * cos/sin(t · base^(−2i/headDim)).
 *
 * Computed in float64 and rounded once to float32. nanochat computes them in fp32 and
 * stores them in bf16 (an autocast-era choice); we keep float32 tables because our
 * kernels compute in float32, and bf16 angles would put an ~0.4% error on every
 * rotated q/k that no GPU-vs-reference check could tell apart from a bug.
 */
export function rotaryTables(seqLen: number, headDim: number, base = ROTARY_BASE): { cos: Float32Array; sin: Float32Array } {
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new RangeError(`rotaryTables: seqLen must be a positive integer, got ${seqLen}`);
  if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2 !== 0) {
    throw new RangeError(`rotaryTables: headDim must be a positive even integer, got ${headDim}`);
  }
  const half = headDim / 2;
  const cos = new Float32Array(seqLen * half);
  const sin = new Float32Array(seqLen * half);
  for (let i = 0; i < half; i++) {
    const invFreq = Math.pow(base, -(2 * i) / headDim);
    for (let t = 0; t < seqLen; t++) {
      const angle = t * invFreq;
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}
