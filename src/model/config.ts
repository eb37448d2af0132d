// The GPT's shape: nanochat's GPTConfig (same field names, since they go into checkpoint
// meta.json and must read back in nanochat), the depth rule base_train uses to derive a
// model from one number, parameter names/shapes in nanochat's state_dict order, and the
// parameter and FLOP counts the training loop and the report use.
//
// Runtime-agnostic: no Deno.* here, the browser lab imports this unchanged.
import { UserError } from "../util/errors.ts";

export interface GPTConfig {
  /** Longest sequence the model is trained on (rotary table length). */
  sequence_len: number;
  vocab_size: number;
  n_layer: number;
  /** Query heads. */
  n_head: number;
  /** Key/value heads (GQA when < n_head); must divide n_head. */
  n_kv_head: number;
  /** Model width C. */
  n_embd: number;
}

/** A config that cannot describe a GPT; the message names the field to change. */
export class ConfigError extends UserError {
  override name = "ConfigError";
}

/** nanochat's width per layer (base_train's aspect_ratio) and target head size. */
export const ASPECT_RATIO = 64;
export const TARGET_HEAD_DIM = 128;

/**
 * base_train's depth rule: n_layer = depth, n_embd = 64·depth,
 * n_head = max(1, ceil(n_embd / 128)), n_kv_head = n_head unless given (GQA off by default).
 * Some depths give n_embd not divisible by n_head (e.g. depth 5: 320 / 3), as in nanochat,
 * where the model's assertion fails; here validateConfig throws naming n_head.
 */
export function configFromDepth(
  depth: number,
  opts: { vocabSize: number; sequenceLen: number; nKvHead?: number },
): GPTConfig {
  if (!Number.isInteger(depth) || depth < 1) throw new ConfigError(`depth must be a positive integer, got ${depth}`);
  const n_embd = depth * ASPECT_RATIO;
  const n_head = Math.max(1, Math.ceil(n_embd / TARGET_HEAD_DIM));
  const cfg: GPTConfig = {
    sequence_len: opts.sequenceLen,
    vocab_size: opts.vocabSize,
    n_layer: depth,
    n_head,
    n_kv_head: opts.nKvHead ?? n_head,
    n_embd,
  };
  validateConfig(cfg);
  return cfg;
}

const FIELDS = ["sequence_len", "vocab_size", "n_layer", "n_head", "n_kv_head", "n_embd"] as const;

/** Throws a ConfigError naming the first inconsistent field; returns the config otherwise. */
export function validateConfig(cfg: GPTConfig): GPTConfig {
  for (const f of FIELDS) {
    const v = (cfg as unknown as Record<string, unknown>)[f];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
      throw new ConfigError(`model config: ${f} must be a positive integer, got ${String(v)}`);
    }
  }
  const { n_embd, n_head, n_kv_head } = cfg;
  if (n_embd % n_head !== 0) {
    throw new ConfigError(`model config: n_embd (${n_embd}) must be divisible by n_head (${n_head}); change n_head or n_embd`);
  }
  const hd = n_embd / n_head;
  if (hd % 2 !== 0) {
    // Rotary rotates channel pairs (first half with second half of each head).
    throw new ConfigError(`model config: head_dim = n_embd / n_head = ${hd} must be even for rotary embeddings; change n_head or n_embd`);
  }
  if (n_kv_head > n_head || n_head % n_kv_head !== 0) {
    throw new ConfigError(`model config: n_kv_head (${n_kv_head}) must divide n_head (${n_head})`);
  }
  return cfg;
}

export function headDim(cfg: GPTConfig): number {
  return cfg.n_embd / cfg.n_head;
}

export interface ParamShape {
  name: string;
  /** PyTorch's shape: Linear weights are (out_features, in_features). */
  shape: number[];
}

/**
 * Every parameter, in nanochat's state_dict order: wte, then per layer c_q, c_k, c_v,
 * attn.c_proj, mlp.c_fc, mlp.c_proj, then lm_head. No biases, no norm weights (nanochat's
 * RMSNorm has none), no positional embedding (rotary instead, not a parameter).
 */
export function paramShapes(cfg: GPTConfig): ParamShape[] {
  const C = cfg.n_embd, V = cfg.vocab_size, hd = headDim(cfg);
  const q = cfg.n_head * hd, kv = cfg.n_kv_head * hd;
  const out: ParamShape[] = [{ name: "transformer.wte.weight", shape: [V, C] }];
  for (let i = 0; i < cfg.n_layer; i++) {
    const p = `transformer.h.${i}.`;
    out.push(
      { name: p + "attn.c_q.weight", shape: [q, C] },
      { name: p + "attn.c_k.weight", shape: [kv, C] },
      { name: p + "attn.c_v.weight", shape: [kv, C] },
      { name: p + "attn.c_proj.weight", shape: [C, C] },
      { name: p + "mlp.c_fc.weight", shape: [4 * C, C] },
      { name: p + "mlp.c_proj.weight", shape: [C, 4 * C] },
    );
  }
  out.push({ name: "lm_head.weight", shape: [V, C] });
  return out;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function numParams(cfg: GPTConfig): number {
  return paramShapes(cfg).reduce((s, p) => s + numel(p.shape), 0);
}

/**
 * nanochat's estimate_flops: 6 FLOPs per parameter per token (forward 2 + backward 4) for
 * every matrix except the embedding (a lookup, not a matmul), plus attention's
 * 12·n_layer·n_head·head_dim·sequence_len (QKᵀ and PV, forward and backward, at full
 * sequence length, i.e. ignoring the causal mask as nanochat does).
 */
export function estimateFlopsPerToken(cfg: GPTConfig): number {
  const nWte = cfg.vocab_size * cfg.n_embd;
  return 6 * (numParams(cfg) - nWte) + 12 * cfg.n_layer * cfg.n_head * headDim(cfg) * cfg.sequence_len;
}
