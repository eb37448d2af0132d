// Checkpoints, laid out so nanochat's tooling (and the browser lab) can read them:
//
//   runs/<run>/checkpoints/step_NNNNNN/
//     model.safetensors   float32 weights, nanochat's names, PyTorch (out, in) shapes
//                         (bf16 or mxfp4 in an inference copy: meta.json's weights_dtype
//                         says so; an MXFP4 matrix is two U8 tensors, <name>.mxfp4_blocks
//                         [rows, K/2] and <name>.mxfp4_scales [rows, K/32], K padded to 32)
//     optim.safetensors   optimizer state tensors; step counters in __metadata__
//     meta.json           step, model_config, user_config, val_bpb, loader/rng state,
//                         latest metrics, tokenizer identity, created_at, format_version,
//                         weights_dtype (only when not f32)
//
// Crash safety comes from directory renames, which are atomic: a save writes every file
// into `step_N.tmp-<pid>-<n>/`, fsyncs them, and only then renames the directory to
// `step_N`. So a directory named exactly `step_N` is always complete. Replacing an
// existing `step_N` goes `step_N` → `step_N.old-*`, tmp → `step_N`, old → `.del-*`, delete;
// readers fall back to `step_N.old-*` in the instant no `step_N` exists, so some complete
// copy is visible at every moment. Deleting always renames to `.del-*` first, because a
// recursive delete interrupted half-way must never leave a half-empty `step_N`.
// One writer per run is assumed (the trainer); the next save cleans up leftovers.
//
// This module is the format: runtime-agnostic byte building and parsing (the browser reads
// checkpoints through a FileStore). Saving, listing and loading on disk with Deno.* is
// src/train/deno_checkpoint.ts.
import type { FileStore } from "../io/files.ts";
import { FileNotFound } from "../io/files.ts";
import { type GPTConfig, numel, paramShapes, validateConfig } from "../model/config.ts";
import type { RngState } from "../util/rng.ts";
import { toBFloat16 } from "./bf16.ts";
import { toFloat16 } from "./f16.ts";
import { decodeMxfp4, encodeMxfp4, MXFP4_BLOCK, type Mxfp4Matrix, mxfp4PaddedCols } from "./mxfp4.ts";
import { decodeSafetensors, type SafeTensor, toFloat32 } from "./safetensors.ts";
import { UserError } from "../util/errors.ts";

export const CHECKPOINT_FORMAT_VERSION = 1;
export const MODEL_FILE = "model.safetensors";
export const OPTIM_FILE = "optim.safetensors";
export const META_FILE = "meta.json";

/** A checkpoint that cannot be written or read; the message says what to do. */
export class CheckpointError extends UserError {
  override name = "CheckpointError";
}

export interface TokenizerIdentity { hash: string; vocab_size: number }

/**
 * How model.safetensors stores the weights. Anything but f32 is an inference copy: training
 * cannot resume from it. mxfp4: the matrices as MXFP4 pairs, any other tensor BF16.
 */
export type WeightsDtype = "f32" | "bf16" | "f16" | "mxfp4";
/** What encodeCheckpoint writes: every form a checkpoint loads from. */
export type SaveDtype = WeightsDtype;
const WEIGHTS_DTYPES: readonly WeightsDtype[] = ["f32", "bf16", "f16", "mxfp4"];
const SAVE_DTYPES = WEIGHTS_DTYPES;
/** The safetensors dtype of a whole-tensor weight under each weights_dtype (mxfp4's unquantised ones are BF16). */
const SAFE_DTYPE = { f32: "F32", bf16: "BF16", f16: "F16", mxfp4: "BF16" } as const;

/** Suffixes of the two U8 tensors an MXFP4 matrix is stored as. */
export const MXFP4_BLOCKS_SUFFIX = ".mxfp4_blocks";
export const MXFP4_SCALES_SUFFIX = ".mxfp4_scales";
/**
 * Kept in bf16 in an mxfp4 checkpoint unless asked (mxfp4All): the embedding is a lookup,
 * not a matmul, and lm_head's logits feed sampling directly, so both gain least and lose
 * most from 4-bit weights (gpt-oss, the MXFP4 release, keeps them in bf16 too).
 */
export const MXFP4_BF16_PARAMS: readonly string[] = ["transformer.wte.weight", "lm_head.weight"];

export interface CheckpointMeta {
  step: number;
  /** nanochat's GPTConfig field names, so nanochat's loader reads it. */
  model_config: GPTConfig;
  /** The run config the checkpoint was trained with. */
  user_config: Record<string, unknown>;
  val_bpb?: number | null;
  /** Opaque JSON from the data loader (its state()). */
  loader_state: unknown;
  /** One generator's state or several by name (data order, sampling…). */
  rng_state: RngState | Record<string, RngState> | null;
  /** Latest values (loss EMA, train seconds…), so a resumed run continues its curves. */
  metrics: Record<string, number | null>;
  tokenizer: TokenizerIdentity | null;
  /** The training stage that wrote it (base, mid, sft, rl); "" when unknown (e.g. a nanochat export). */
  stage?: string;
  /** The checkpoint a chat stage started from, as "run/step_NNNNNN"; "" for a base run. */
  source?: string;
  /**
   * How model.safetensors stores the weights; absent in meta.json means f32. A loaded
   * checkpoint always has it (from the tensors when meta.json does not say).
   */
  weights_dtype?: WeightsDtype;
  created_at: string;
  format_version: number;
}

/**
 * What the caller supplies; step, model_config, created_at and format_version are filled in,
 * and weights_dtype by the encoder from what it actually writes.
 */
export type CheckpointMetaInput = Omit<CheckpointMeta, "step" | "model_config" | "created_at" | "format_version" | "weights_dtype"> & { created_at?: string };
export interface OptimizerState { tensors: Map<string, Float32Array>; meta: Record<string, string> }
export interface CheckpointData { params: Map<string, Float32Array>; cfg: GPTConfig; optimizer?: OptimizerState; meta: CheckpointMetaInput }
export interface LoadedCheckpoint extends Omit<CheckpointData, "meta"> {
  meta: CheckpointMeta;
  /**
   * The matrices an MXFP4 copy stores quantised, as stored (params holds them decoded too):
   * the engine keeps these in MXFP4 on the GPU and multiplies by them directly.
   */
  mxfp4: Map<string, Mxfp4Matrix>;
}

// ---------------------------------------------------------------- names

export function stepDirName(step: number): string {
  if (!Number.isInteger(step) || step < 0) throw new CheckpointError(`checkpoint step must be a non-negative integer, got ${step}`);
  return `step_${String(step).padStart(6, "0")}`;
}

const DIR_RE = /^step_(\d{6,})(?:\.(tmp|old|del)-[A-Za-z0-9_-]+)?$/;

/** Parses a name inside checkpoints/: the step and whether it is complete, a temp, an aside copy or a deletion. */
export function parseStepDirName(name: string): { step: number; kind: "complete" | "tmp" | "old" | "del" } | null {
  const m = DIR_RE.exec(name);
  if (!m) return null;
  const step = Number(m[1]);
  if (stepDirName(step) !== `step_${m[1]}`) return null; // step_0000001 is not ours
  return { step, kind: (m[2] as "tmp" | "old" | "del" | undefined) ?? "complete" };
}

/**
 * From the names in a checkpoints/ directory: step → directory name of each complete
 * checkpoint. `step_N.old-*` stands in for `step_N` only while `step_N` is missing (a save
 * that replaced step N was interrupted between its two renames).
 */
export function selectCheckpoints(names: readonly string[]): Map<number, string> {
  const complete = new Map<number, string>();
  const aside = new Map<number, string>();
  for (const name of [...names].sort()) {
    const p = parseStepDirName(name);
    if (p?.kind === "complete") complete.set(p.step, name);
    else if (p?.kind === "old" && !aside.has(p.step)) aside.set(p.step, name);
  }
  for (const [step, name] of aside) if (!complete.has(step)) complete.set(step, name);
  return new Map([...complete].sort((a, b) => a[0] - b[0]));
}

// ---------------------------------------------------------------- encoding (runtime-agnostic)

/** A tensor safetensorsChunks writes: F32, BF16 or F16 bits, or raw bytes (MXFP4's halves). */
export type ChunkTensor =
  | { name: string; shape: number[]; data: Float32Array }
  | { name: string; shape: number[]; dtype: "BF16" | "F16"; data: Uint16Array }
  | { name: string; shape: number[]; dtype: "U8"; data: Uint8Array };

/**
 * safetensors bytes as a list of chunks (header, then each tensor's bytes as a view of its
 * array), so a 2 GB model is written without first being copied into one 2 GB buffer.
 * The same bytes as encodeSafetensors; float32 views assume a little-endian host (all
 * current JS platforms are).
 */
export function safetensorsChunks(
  tensors: readonly ChunkTensor[],
  metadata: Record<string, string> = {},
): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [new Uint8Array(0)];
  let offset = 0;
  for (const t of tensors) {
    if (numel(t.shape) !== t.data.length) throw new CheckpointError(`tensor ${t.name}: shape [${t.shape}] holds ${numel(t.shape)} values, the array has ${t.data.length}`);
    header[t.name] = { dtype: "dtype" in t ? t.dtype : "F32", shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    chunks.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    offset += t.data.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - ((json.length + 8) % 8)) % 8; // keep the data section 8-byte aligned
  if (pad) json = new TextEncoder().encode(JSON.stringify(header) + " ".repeat(pad));
  const head = new Uint8Array(8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
  head.set(json, 8);
  chunks[0] = head;
  return chunks;
}

/**
 * Builds the checkpoint's files (meta.json last) after checking params against cfg.
 * weightsDtype "bf16" rounds every weight to bf16 (half the bytes), "f16" to half precision
 * (the same size, 3 more mantissa bits, a range to 65504); "mxfp4" stores the
 * blocks' matrices in MXFP4 (src/formats/mxfp4.ts: 4.25 bits a weight) and wte and lm_head
 * in bf16, or those too with mxfp4All. Either is an inference copy, which may not carry
 * optimizer state, since a resume would train over rounded weights.
 */
export function encodeCheckpoint(
  step: number, data: CheckpointData, opts: { weightsDtype?: SaveDtype; mxfp4All?: boolean } = {},
): { name: string; chunks: Uint8Array[] }[] {
  const dtype = opts.weightsDtype ?? "f32";
  if (!SAVE_DTYPES.includes(dtype)) throw new CheckpointError(`cannot save step ${step}: weights dtype ${JSON.stringify(dtype)} is not one of ${SAVE_DTYPES.join(", ")}`);
  if (opts.mxfp4All && dtype !== "mxfp4") throw new CheckpointError(`cannot save step ${step}: mxfp4All applies to mxfp4 weights only, not ${dtype}`);
  if (dtype !== "f32" && data.optimizer) {
    throw new CheckpointError(`cannot save step ${step} with ${dtype} weights and optimizer state: a ${dtype} checkpoint is for inference; save the optimizer with f32 weights`);
  }
  // Exactly nanochat's six fields: its GPTConfig(**model_config) rejects unknown keys.
  const { sequence_len, vocab_size, n_layer, n_head, n_kv_head, n_embd } = data.cfg;
  const cfg = validateConfig({ sequence_len, vocab_size, n_layer, n_head, n_kv_head, n_embd });
  const shapes = paramShapes(cfg);
  const expected = new Set(shapes.map((p) => p.name));
  for (const name of data.params.keys()) {
    if (!expected.has(name)) throw new CheckpointError(`cannot save step ${step}: parameter ${name} is not part of the model config (n_layer ${cfg.n_layer})`);
  }
  const model = shapes.flatMap(({ name, shape }): ChunkTensor[] => {
    const v = data.params.get(name);
    if (!v) throw new CheckpointError(`cannot save step ${step}: parameter ${name} is missing`);
    if (v.length !== numel(shape)) throw new CheckpointError(`cannot save step ${step}: parameter ${name} has ${v.length} values, expected [${shape}] = ${numel(shape)}`);
    if (dtype === "mxfp4" && shape.length === 2 && (opts.mxfp4All || !MXFP4_BF16_PARAMS.includes(name))) {
      const [rows, cols] = shape, q = encodeMxfp4(v, rows, cols), padded = mxfp4PaddedCols(cols);
      return [
        { name: name + MXFP4_BLOCKS_SUFFIX, shape: [rows, padded / 2], dtype: "U8" as const, data: q.blocks },
        { name: name + MXFP4_SCALES_SUFFIX, shape: [rows, padded / MXFP4_BLOCK], dtype: "U8" as const, data: q.scales },
      ];
    }
    if (dtype === "f32") return [{ name, shape, data: v }];
    return [dtype === "f16" ? { name, shape, dtype: "F16" as const, data: toFloat16(v) } : { name, shape, dtype: "BF16" as const, data: toBFloat16(v) }];
  });
  // Scales come last: their byte counts need not be even, and safetensors allows no gaps,
  // so anywhere else they could leave a BF16 tensor at an odd offset for zero-copy readers.
  const rank = (t: ChunkTensor) => (t.name.endsWith(MXFP4_SCALES_SUFFIX) ? 1 : 0);
  model.sort((x, y) => rank(x) - rank(y));
  const files = [{ name: MODEL_FILE, chunks: safetensorsChunks(model, { format: "pt" }) }];
  if (data.optimizer) {
    // Give state tensors their parameter's shape where one matches, for readability in tools.
    const byName = new Map(shapes.map((p) => [p.name, p.shape]));
    const opt = [...data.optimizer.tensors].map(([name, v]) => {
      const param = [...byName.keys()].find((p) => name.endsWith("." + p));
      const shape = param && numel(byName.get(param)!) === v.length ? byName.get(param)! : [v.length];
      return { name, shape, data: v };
    });
    files.push({ name: OPTIM_FILE, chunks: safetensorsChunks(opt, data.optimizer.meta) });
  }
  const m = data.meta;
  const meta: CheckpointMeta = {
    step, model_config: cfg, user_config: m.user_config ?? {}, val_bpb: m.val_bpb ?? null, loader_state: m.loader_state ?? null,
    rng_state: m.rng_state ?? null, metrics: m.metrics ?? {}, tokenizer: m.tokenizer ?? null, stage: m.stage ?? "",
    source: m.source ?? "", ...(dtype === "f32" ? {} : { weights_dtype: dtype }), created_at: m.created_at ?? new Date().toISOString(),
    format_version: CHECKPOINT_FORMAT_VERSION,
  };
  // One line per field: readable, without spreading the loader's token buffer over thousands of lines.
  const text = `{\n${Object.entries(meta).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(",\n")}\n}\n`;
  files.push({ name: META_FILE, chunks: [new TextEncoder().encode(text)] });
  return files;
}

// ---------------------------------------------------------------- decoding (runtime-agnostic)

function parseJson(bytes: Uint8Array, file: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new CheckpointError(`${file} is not valid JSON (${(err as Error).message})`);
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isRng = (v: unknown) => Array.isArray(v) && v.length === 4 && v.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32);

/**
 * Checks a parsed meta.json; `file` names it in errors. A meta without format_version is
 * taken as nanochat's own (step, model_config, user_config, val_bpb) and the lab's extra
 * fields default to empty, so nanochat-exported checkpoints load.
 */
export function validateMeta(raw: unknown, file: string): CheckpointMeta {
  const bad = (field: string, why: string): never => {
    throw new CheckpointError(`${file}: field "${field}" ${why}`);
  };
  if (!isObj(raw)) return bad("(top level)", "must be a JSON object");
  if (!Number.isInteger(raw.step) || (raw.step as number) < 0) bad("step", `must be a non-negative integer, got ${JSON.stringify(raw.step)}`);
  if (!isObj(raw.model_config)) bad("model_config", "is missing or not an object");
  const mc = raw.model_config as Record<string, unknown>;
  const cfg: GPTConfig = {
    sequence_len: mc.sequence_len as number, vocab_size: mc.vocab_size as number, n_layer: mc.n_layer as number,
    n_head: mc.n_head as number, n_kv_head: (mc.n_kv_head ?? mc.n_head) as number, n_embd: mc.n_embd as number,
  };
  try {
    validateConfig(cfg);
  } catch (err) {
    bad("model_config", `is invalid: ${(err as Error).message}`);
  }
  if (raw.format_version !== undefined) {
    const v = raw.format_version as number;
    if (!Number.isInteger(v) || v < 1) bad("format_version", `must be a positive integer, got ${JSON.stringify(v)}`);
    if (v > CHECKPOINT_FORMAT_VERSION) bad("format_version", `is ${v}, newer than this code reads (${CHECKPOINT_FORMAT_VERSION}); update the lab`);
    for (const f of ["user_config", "metrics"]) if (!isObj(raw[f])) bad(f, "is missing or not an object");
    if (!("loader_state" in raw)) bad("loader_state", "is missing (use null when there is none)");
    const rng = raw.rng_state, tok = raw.tokenizer;
    if (!(rng === null || isRng(rng) || (isObj(rng) && Object.values(rng).every(isRng)))) bad("rng_state", "must be null, four uint32 words, or an object of them");
    if (tok !== null && !(isObj(tok) && typeof tok.hash === "string" && Number.isInteger(tok.vocab_size))) {
      bad("tokenizer", "must be null or { hash: string, vocab_size: integer }");
    }
    if (typeof raw.created_at !== "string") bad("created_at", "is missing or not a string");
  }
  if (raw.val_bpb !== undefined && raw.val_bpb !== null && typeof raw.val_bpb !== "number") bad("val_bpb", "must be a number or null");
  if (raw.stage !== undefined && typeof raw.stage !== "string") bad("stage", "must be a string");
  if (raw.source !== undefined && typeof raw.source !== "string") bad("source", "must be a string (run/step_NNNNNN)");
  if (raw.weights_dtype !== undefined && !WEIGHTS_DTYPES.includes(raw.weights_dtype as WeightsDtype)) {
    bad("weights_dtype", `must be one of ${WEIGHTS_DTYPES.join(", ")} (or absent, meaning f32), got ${JSON.stringify(raw.weights_dtype)}`);
  }
  const r = raw as Partial<CheckpointMeta>;
  return {
    step: r.step!, model_config: cfg, user_config: r.user_config ?? {}, val_bpb: r.val_bpb ?? null, loader_state: r.loader_state ?? null,
    rng_state: r.rng_state ?? null, metrics: r.metrics ?? {}, tokenizer: r.tokenizer ?? null, stage: r.stage ?? "", source: r.source ?? "",
    ...(r.weights_dtype ? { weights_dtype: r.weights_dtype } : {}), created_at: r.created_at ?? "", format_version: r.format_version ?? 0,
  };
}

/** The parameter an MXFP4 half belongs to, or null for a whole tensor. */
function mxfp4Param(name: string): string | null {
  for (const suffix of [MXFP4_BLOCKS_SUFFIX, MXFP4_SCALES_SUFFIX]) if (name.endsWith(suffix)) return name.slice(0, -suffix.length);
  return null;
}

/**
 * The dtype model.safetensors stores its weights in: meta.json's record, which every tensor
 * must match (a mismatch means the two files come from different saves); without a record,
 * the tensors' own, where any narrower tensor makes the whole copy lossy.
 */
function storedWeightsDtype(tensors: Map<string, SafeTensor>, recorded: WeightsDtype | undefined, file: string): WeightsDtype {
  let narrow: WeightsDtype | undefined;
  for (const [name, t] of tensors) {
    const mx = mxfp4Param(name) !== null;
    if (recorded && (mx ? recorded !== "mxfp4" : t.dtype !== SAFE_DTYPE[recorded])) {
      const want = recorded === "mxfp4" ? "MXFP4 pairs, the rest BF16" : SAFE_DTYPE[recorded];
      throw new CheckpointError(
        `${file}: tensor ${name} is ${mx ? "half of an MXFP4 pair" : t.dtype}, but ${META_FILE} records weights_dtype "${recorded}" (${want}): the two files come from different saves; save or export the checkpoint again`,
      );
    }
    if (mx) narrow = "mxfp4"; // the narrowest there is: it names the copy whatever else it holds
    else if (t.dtype === "BF16") narrow ??= "bf16";
    else if (t.dtype === "F16") narrow ??= "f16";
  }
  // Which tensors an mxfp4 copy quantises is the writer's choice, but it quantises some.
  if (recorded === "mxfp4" && narrow !== "mxfp4") {
    throw new CheckpointError(`${file}: ${META_FILE} records weights_dtype "mxfp4", but no tensor is an MXFP4 pair (<name>${MXFP4_BLOCKS_SUFFIX}, <name>${MXFP4_SCALES_SUFFIX}): the two files come from different saves; save or export the checkpoint again`);
  }
  return recorded ?? narrow ?? "f32";
}

/** An MXFP4 pair → the rows × cols float32 matrix it encodes, after checking both halves' dtype and shape. */
function mxfp4Pair(pair: { blocks?: SafeTensor; scales?: SafeTensor }, name: string, shape: number[], file: string, mismatch: string): Mxfp4Matrix {
  if (shape.length !== 2) throw new CheckpointError(`${file}: ${name} is stored as MXFP4, but its shape [${shape}] is not a matrix; MXFP4 holds matrices only${mismatch}`);
  const [rows, cols] = shape, padded = mxfp4PaddedCols(cols);
  const halves = [[MXFP4_BLOCKS_SUFFIX, pair.blocks, padded / 2], [MXFP4_SCALES_SUFFIX, pair.scales, padded / MXFP4_BLOCK]] as const;
  for (const [suffix, t, width] of halves) {
    if (!t) throw new CheckpointError(`${file}: tensor ${name}${suffix} is missing, but its MXFP4 pair is there: the file is damaged; export the checkpoint again`);
    if (t.dtype !== "U8") throw new CheckpointError(`${file}: tensor ${name}${suffix} is ${t.dtype}, expected U8 (MXFP4 bytes); export the checkpoint again`);
    if (t.shape.length !== 2 || t.shape[0] !== rows || t.shape[1] !== width) {
      throw new CheckpointError(`${file}: tensor ${name}${suffix} has shape [${t.shape}], expected [${rows},${width}] for the MXFP4 of [${shape}]${mismatch}`);
    }
  }
  return { rows, cols, blocks: pair.blocks!.data as Uint8Array, scales: pair.scales!.data as Uint8Array };
}

/**
 * Model tensors (F32, BF16, F16, or MXFP4 pairs) → float32 params with exactly paramShapes(cfg);
 * the MXFP4 pairs, checked, also go into `quantized` as stored when it is given.
 */
export function validateModelTensors(
  tensors: Map<string, SafeTensor>, cfg: GPTConfig, file: string, quantized?: Map<string, Mxfp4Matrix>,
): Map<string, Float32Array> {
  // nanochat saves from a torch.compile'd model sometimes; its loader strips this prefix.
  const named = new Map<string, SafeTensor>();
  const mxfp4 = new Map<string, { blocks?: SafeTensor; scales?: SafeTensor }>();
  for (const [full, t] of tensors) {
    const name = full.startsWith("_orig_mod.") ? full.slice(10) : full;
    const param = mxfp4Param(name);
    if (param === null) named.set(name, t);
    else {
      const pair = mxfp4.get(param) ?? {};
      pair[name.endsWith(MXFP4_BLOCKS_SUFFIX) ? "blocks" : "scales"] = t;
      mxfp4.set(param, pair);
    }
  }
  const shapes = paramShapes(cfg);
  const expected = new Set(shapes.map((p) => p.name));
  const mismatch = `; it does not match the model_config in ${META_FILE}`;
  for (const name of [...named.keys(), ...mxfp4.keys()]) {
    if (!expected.has(name)) throw new CheckpointError(`${file}: unexpected tensor ${name}${mxfp4.has(name) && !named.has(name) ? " (MXFP4)" : ""}${mismatch} (n_layer ${cfg.n_layer})`);
    if (named.has(name) && mxfp4.has(name)) throw new CheckpointError(`${file}: ${name} is stored twice, whole and as MXFP4; export the checkpoint again`);
  }
  const params = new Map<string, Float32Array>();
  for (const { name, shape } of shapes) {
    const pair = mxfp4.get(name);
    if (pair) {
      const matrix = mxfp4Pair(pair, name, shape, file, mismatch);
      quantized?.set(name, matrix);
      params.set(name, decodeMxfp4(matrix));
      continue;
    }
    const t = named.get(name);
    if (!t) throw new CheckpointError(`${file}: tensor ${name} is missing (expected shape [${shape}])${mismatch}`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(`${file}: tensor ${name} has shape [${t.shape}], expected [${shape}]${mismatch}`);
    }
    params.set(name, toFloat32(t, `${file}: tensor ${name}`));
  }
  return params;
}

/**
 * Reads a checkpoint through `read` (bytes of a file in the checkpoint directory, null
 * when absent); `dir` names the directory in errors.
 */
/** withOptimizer: false skips optim.safetensors (inference needs only the weights). */
export async function decodeCheckpoint(
  read: (name: string) => Promise<Uint8Array | null>, dir: string, opts: { withOptimizer?: boolean } = {},
): Promise<LoadedCheckpoint> {
  const path = (name: string) => `${dir.replace(/\/+$/, "")}/${name}`;
  const metaBytes = await read(META_FILE);
  if (!metaBytes) throw new CheckpointError(`${path(META_FILE)} is missing: ${dir} is not a complete checkpoint`);
  const meta = validateMeta(parseJson(metaBytes, path(META_FILE)), path(META_FILE));
  const modelBytes = await read(MODEL_FILE);
  if (!modelBytes) throw new CheckpointError(`${path(MODEL_FILE)} is missing: ${dir} is not a complete checkpoint`);
  const model = decodeSafetensors(modelBytes, path(MODEL_FILE));
  const mxfp4 = new Map<string, Mxfp4Matrix>();
  const params = validateModelTensors(model.tensors, meta.model_config, path(MODEL_FILE), mxfp4);
  meta.weights_dtype = storedWeightsDtype(model.tensors, meta.weights_dtype, path(MODEL_FILE));
  let optimizer: OptimizerState | undefined;
  const optBytes = opts.withOptimizer === false ? null : await read(OPTIM_FILE);
  if (optBytes) {
    const opt = decodeSafetensors(optBytes, path(OPTIM_FILE));
    const tensors = new Map<string, Float32Array>();
    for (const [name, t] of opt.tensors) tensors.set(name, toFloat32(t, `${path(OPTIM_FILE)}: tensor ${name}`));
    optimizer = { tensors, meta: opt.metadata };
  }
  return { params, cfg: meta.model_config, optimizer, meta, mxfp4 };
}

/** The browser's way in: checkpoints of a run through a FileStore (names only, no stat). */
export async function listCheckpointsInStore(store: FileStore, runDir: string): Promise<Map<number, string>> {
  return selectCheckpoints(await store.list(`${runDir}/checkpoints`));
}

export function loadCheckpointFromStore(store: FileStore, dir: string, opts: { withOptimizer?: boolean } = {}): Promise<LoadedCheckpoint> {
  return decodeCheckpoint((name) => orNull(() => store.read(`${dir}/${name}`)), dir, opts);
}

/** The file's bytes, or null when it does not exist (a FileStore's FileNotFound or Deno's NotFound). */
export async function orNull(read: () => Promise<Uint8Array>): Promise<Uint8Array | null> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof FileNotFound || (err as Error)?.name === "NotFound") return null;
    throw err;
  }
}
