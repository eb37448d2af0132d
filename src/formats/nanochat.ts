// nanochat's own checkpoint and tokenizer files (what its checkpoint_manager.py and
// tokenizer.py read and write), as plain data the lab converts from and to its run:
//
//   <dir>/model_NNNNNN.pt   torch.save(model.state_dict()): wte bf16 (as nanochat keeps it
//                           on CUDA), every other weight float32; keys may carry
//                           torch.compile's "_orig_mod." prefix
//   <dir>/meta_NNNNNN.json  {step, val_bpb, model_config: GPTConfig's six fields,
//                           user_config, device_batch_size, max_seq_len}
//   <dir>/optim_NNNNNN.pt   [AdamW.state_dict(), Muon.state_dict()] (optional)
//   tokenizer/tokenizer.pkl pickle.dump(tiktoken.Encoding): NEWOBJ + BUILD with
//                           {name, pat_str, mergeable_ranks: bytes → rank, special_tokens}
//   tokenizer/token_bytes.pt torch.save(int32 tensor [vocab]): bytes per token, 0 for specials
//
// This module has no tokenizer or model code (formats sits beside tokenizer/): it checks
// names, shapes and structure and hands plain arrays to the CLI that joins them.
// Runtime-agnostic.
import { type GPTConfig, numel, paramShapes, validateConfig } from "../model/config.ts";
import { UserError } from "../util/errors.ts";
import { type PickleRules, PyDict, PyGlobal, readPickle } from "./pickle.ts";
import { PyObjectState, type PyOut, writePickle } from "./pickle_write.ts";
import { toBFloat16 } from "./bf16.ts";
import { toFloat32 } from "./safetensors.ts";
import type { TorchTensor } from "./torch_save.ts";

export class NanochatFormatError extends UserError {
  override name = "NanochatFormatError";
}

const pad6 = (step: number) => String(step).padStart(6, "0");
export const modelFileName = (step: number) => `model_${pad6(step)}.pt`;
export const metaFileName = (step: number) => `meta_${pad6(step)}.json`;
export const optimFileName = (step: number) => `optim_${pad6(step)}.pt`;
/** Steps of the model_NNNNNN.pt files among `names`, ascending. */
export function nanochatSteps(names: readonly string[]): number[] {
  return names.map((n) => /^model_(\d+)\.pt$/.exec(n)).filter((m) => m).map((m) => Number(m![1])).sort((a, b) => a - b);
}

const CONFIG_KEYS = ["sequence_len", "vocab_size", "n_layer", "n_head", "n_kv_head", "n_embd"] as const;

export interface NanochatMeta {
  step: number;
  model_config: GPTConfig;
  user_config: Record<string, unknown>;
  val_bpb: number | null;
  /** model_config keys this lab does not know (a later nanochat: e.g. window_pattern). */
  unknownConfigKeys: string[];
}

/** Parses meta_NNNNNN.json text; `file` names it in errors. */
export function parseNanochatMeta(text: string, file: string): NanochatMeta {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new NanochatFormatError(`${file} is not valid JSON (${(err as Error).message})`);
  }
  const mc = raw?.model_config as Record<string, unknown> | undefined;
  if (typeof mc !== "object" || mc === null) throw new NanochatFormatError(`${file}: "model_config" is missing`);
  const cfg = Object.fromEntries(CONFIG_KEYS.map((k) => [k, mc[k] ?? (k === "n_kv_head" ? mc.n_head : undefined)])) as unknown as GPTConfig;
  try {
    validateConfig(cfg);
  } catch (err) {
    throw new NanochatFormatError(`${file}: ${(err as Error).message}`);
  }
  if (!Number.isInteger(raw.step) || (raw.step as number) < 0) throw new NanochatFormatError(`${file}: "step" must be a non-negative integer, got ${JSON.stringify(raw.step)}`);
  const uc = raw.user_config;
  return {
    step: raw.step as number, model_config: cfg, user_config: typeof uc === "object" && uc !== null && !Array.isArray(uc) ? uc as Record<string, unknown> : {},
    val_bpb: typeof raw.val_bpb === "number" ? raw.val_bpb : null,
    unknownConfigKeys: Object.keys(mc).filter((k) => !(CONFIG_KEYS as readonly string[]).includes(k)),
  };
}

/** meta_NNNNNN.json as nanochat's save_checkpoint writes it (json.dump, indent 2). */
export function formatNanochatMeta(step: number, cfg: GPTConfig, userConfig: Record<string, unknown>, valBpb: number | null): string {
  const { sequence_len, vocab_size, n_layer, n_head, n_kv_head, n_embd } = validateConfig(cfg);
  const meta: Record<string, unknown> = { step, val_bpb: valBpb, model_config: { sequence_len, vocab_size, n_layer, n_head, n_kv_head, n_embd }, user_config: userConfig };
  for (const k of ["device_batch_size", "max_seq_len"]) if (userConfig[k] !== undefined) meta[k] = userConfig[k];
  return JSON.stringify(meta, null, 2);
}

/**
 * A nanochat state dict → float32 params with exactly paramShapes(cfg). Parameters this
 * lab's model does not have (a later nanochat's value embeddings, resid/x0 lambdas…) are
 * refused all at once, listed, so the user sees which variant it is.
 */
export function paramsFromStateDict(tensors: Map<string, TorchTensor>, cfg: GPTConfig, file: string): Map<string, Float32Array> {
  const named = new Map<string, TorchTensor>();
  for (const [k, t] of tensors) named.set(k.startsWith("_orig_mod.") ? k.slice("_orig_mod.".length) : k, t);
  const shapes = paramShapes(cfg);
  const known = new Set(shapes.map((p) => p.name));
  const unknown = [...named.keys()].filter((k) => !known.has(k));
  if (unknown.length) {
    const shown = unknown.length > 12 ? [...unknown.slice(0, 12), `… (${unknown.length} in all)`] : unknown;
    throw new NanochatFormatError(
      `${file}: parameters this lab's GPT does not have: ${shown.join(", ")}. It is a later nanochat variant (or another model); the lab implements the original GPT (wte, c_q/c_k/c_v/c_proj, c_fc/c_proj, lm_head) and imports only that`,
    );
  }
  const params = new Map<string, Float32Array>();
  for (const { name, shape } of shapes) {
    const t = named.get(name);
    if (!t) throw new NanochatFormatError(`${file}: parameter ${name} is missing (expected shape [${shape}] for the model_config in the meta file)`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new NanochatFormatError(`${file}: tensor ${name} has shape [${t.shape}], but the model_config makes it [${shape}]`);
    }
    if (t.dtype !== "F32" && t.dtype !== "BF16" && t.dtype !== "F16") throw new NanochatFormatError(`${file}: tensor ${name} is ${t.dtype}, not a float tensor`);
    params.set(name, toFloat32({ dtype: t.dtype, shape: t.shape, data: t.data as Float32Array | Uint16Array }, `${file}: tensor ${name}`));
  }
  return params;
}

/** The lab's params as nanochat's state dict entries, in its order; wte in `wteDtype`. */
export function stateDictFromParams(params: Map<string, Float32Array>, cfg: GPTConfig, wteDtype: "BF16" | "F32" = "BF16"): [string, TorchTensor][] {
  return paramShapes(cfg).map(({ name, shape }) => {
    const v = params.get(name);
    if (!v || v.length !== numel(shape)) throw new NanochatFormatError(`parameter ${name} is missing or not of shape [${shape}]`);
    const bf = name === "transformer.wte.weight" && wteDtype === "BF16";
    return [name, bf ? { dtype: "BF16", shape, data: toBFloat16(v) } : { dtype: "F32", shape, data: v }];
  });
}

// ---------------------------------------------------------------- tokenizer.pkl

/** A tiktoken Encoding's constructor arguments. */
export interface TiktokenEncoding {
  name: string;
  patStr: string;
  /** Token bytes by rank (rank = id), 0 … n−1. */
  ranks: Uint8Array[];
  /** Special token → id. */
  specials: [string, number][];
}

const ENCODING = "tiktoken.core.Encoding";

/** Reads tokenizer.pkl (a pickled tiktoken Encoding) without tiktoken and without executing anything. */
export function readTiktokenPickle(bytes: Uint8Array, file: string): TiktokenEncoding {
  const fail = (why: string): never => {
    throw new NanochatFormatError(`${file}: ${why}`);
  };
  const rules: PickleRules = {
    globals: {
      [ENCODING]: {
        newobj: (args) => (args.length ? fail("Encoding constructed with arguments") : { encoding: true }),
        build: (_obj, state) => {
          if (typeof state === "string") fail(`refers to tiktoken's registered encoding ${JSON.stringify(state)}, not a trained tokenizer's ranks`);
          if (!(state instanceof PyDict)) fail("the Encoding's state is not a dict");
          return { encodingState: state };
        },
      },
    },
  };
  const obj = readPickle(bytes, rules, file) as { encodingState?: PyDict };
  const state = obj?.encodingState ?? fail(`does not hold a tiktoken Encoding (nanochat's tokenizer.pkl is pickle.dump(tiktoken.Encoding))`);
  const name = state.get("name"), pat = state.get("pat_str"), ranks = state.get("mergeable_ranks"), specials = state.get("special_tokens");
  if (typeof pat !== "string") fail(`"pat_str" is not a string`);
  if (!(ranks instanceof PyDict) || !(specials instanceof PyDict)) fail(`"mergeable_ranks" or "special_tokens" is not a dict`);
  const byRank: Uint8Array[] = new Array((ranks as PyDict).entries.length);
  for (const [k, v] of (ranks as PyDict).entries) {
    if (!(k instanceof Uint8Array) || typeof v !== "number") fail(`"mergeable_ranks" must map bytes to ints`);
    const r = v as number;
    if (!Number.isInteger(r) || r < 0 || r >= byRank.length || byRank[r]) fail(`"mergeable_ranks" ranks must be 0 … ${byRank.length - 1}, each once (rank ${r})`);
    byRank[r] = k as Uint8Array;
  }
  const sp: [string, number][] = [];
  for (const [k, v] of (specials as PyDict).entries) {
    if (typeof k !== "string" || typeof v !== "number" || !Number.isInteger(v)) fail(`"special_tokens" must map strings to ints`);
    sp.push([k as string, v as number]);
  }
  return { name: typeof name === "string" ? name : "", patStr: pat as string, ranks: byRank, specials: sp };
}

/** tokenizer.pkl bytes that Python's pickle.load turns into a tiktoken Encoding (protocol 3: bytes). */
export function writeTiktokenPickle(enc: TiktokenEncoding): Uint8Array {
  const ranks = new PyDict();
  enc.ranks.forEach((b, r) => ranks.set(b, r));
  const specials = new PyDict();
  for (const [s, id] of enc.specials) specials.set(s, id);
  const state = new PyDict();
  state.set("name", enc.name);
  state.set("pat_str", enc.patStr);
  state.set("mergeable_ranks", ranks);
  state.set("special_tokens", specials);
  return writePickle(new PyObjectState(new PyGlobal("tiktoken.core", "Encoding"), state as unknown as PyOut), 3);
}

