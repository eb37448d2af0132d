// Checkpoints, laid out so nanochat's tooling (and the browser lab) can read them:
//
//   runs/<run>/checkpoints/step_NNNNNN/
//     model.safetensors   float32 weights, nanochat's names, PyTorch (out, in) shapes
//                         (bf16 in an inference copy: meta.json's weights_dtype says so)
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

/** How model.safetensors stores the weights. Anything but f32 is an inference copy: training cannot resume from it. */
export type WeightsDtype = "f32" | "bf16" | "f16";
/** What encodeCheckpoint writes. */
export type SaveDtype = "f32" | "bf16";
const WEIGHTS_DTYPES: readonly WeightsDtype[] = ["f32", "bf16", "f16"];
const SAFE_DTYPE = { f32: "F32", bf16: "BF16", f16: "F16" } as const;

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
export interface LoadedCheckpoint extends Omit<CheckpointData, "meta"> { meta: CheckpointMeta }

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

/**
 * safetensors bytes as a list of chunks (header, then each tensor's bytes as a view of its
 * array), so a 2 GB model is written without first being copied into one 2 GB buffer.
 * The same bytes as encodeSafetensors; float32 views assume a little-endian host (all
 * current JS platforms are).
 */
export function safetensorsChunks(
  tensors: readonly ({ name: string; shape: number[]; data: Float32Array } | { name: string; shape: number[]; dtype: "BF16"; data: Uint16Array })[],
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
 * weightsDtype "bf16" rounds every weight to bf16 (half the bytes): an inference copy,
 * which may not carry optimizer state, since a resume would train over rounded weights.
 */
export function encodeCheckpoint(step: number, data: CheckpointData, opts: { weightsDtype?: SaveDtype } = {}): { name: string; chunks: Uint8Array[] }[] {
  const dtype = opts.weightsDtype ?? "f32";
  if (dtype !== "f32" && dtype !== "bf16") throw new CheckpointError(`cannot save step ${step}: weights dtype ${JSON.stringify(dtype)} is not f32 or bf16`);
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
  const model = shapes.map(({ name, shape }) => {
    const v = data.params.get(name);
    if (!v) throw new CheckpointError(`cannot save step ${step}: parameter ${name} is missing`);
    if (v.length !== numel(shape)) throw new CheckpointError(`cannot save step ${step}: parameter ${name} has ${v.length} values, expected [${shape}] = ${numel(shape)}`);
    return dtype === "bf16" ? { name, shape, dtype: "BF16" as const, data: toBFloat16(v) } : { name, shape, data: v };
  });
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

/**
 * The dtype model.safetensors stores its weights in: meta.json's record, which every tensor
 * must match (a mismatch means the two files come from different saves); without a record,
 * the tensors' own, where any narrower tensor makes the whole copy lossy.
 */
function storedWeightsDtype(tensors: Map<string, SafeTensor>, recorded: WeightsDtype | undefined, file: string): WeightsDtype {
  let narrow: WeightsDtype | undefined;
  for (const [name, t] of tensors) {
    if (recorded && t.dtype !== SAFE_DTYPE[recorded]) {
      throw new CheckpointError(
        `${file}: tensor ${name} is ${t.dtype}, but ${META_FILE} records weights_dtype "${recorded}" (${SAFE_DTYPE[recorded]}): the two files come from different saves; save or export the checkpoint again`,
      );
    }
    if (t.dtype === "BF16") narrow ??= "bf16";
    else if (t.dtype === "F16") narrow ??= "f16";
  }
  return recorded ?? narrow ?? "f32";
}

/** Model tensors (F32, BF16 or F16) → float32 params with exactly paramShapes(cfg). */
export function validateModelTensors(tensors: Map<string, SafeTensor>, cfg: GPTConfig, file: string): Map<string, Float32Array> {
  // nanochat saves from a torch.compile'd model sometimes; its loader strips this prefix.
  const named = new Map<string, SafeTensor>();
  for (const [name, t] of tensors) named.set(name.startsWith("_orig_mod.") ? name.slice(10) : name, t);
  const shapes = paramShapes(cfg);
  const expected = new Set(shapes.map((p) => p.name));
  const mismatch = `; it does not match the model_config in ${META_FILE}`;
  for (const name of named.keys()) {
    if (!expected.has(name)) throw new CheckpointError(`${file}: unexpected tensor ${name}${mismatch} (n_layer ${cfg.n_layer})`);
  }
  const params = new Map<string, Float32Array>();
  for (const { name, shape } of shapes) {
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
  const params = validateModelTensors(model.tensors, meta.model_config, path(MODEL_FILE));
  meta.weights_dtype = storedWeightsDtype(model.tensors, meta.weights_dtype, path(MODEL_FILE));
  let optimizer: OptimizerState | undefined;
  const optBytes = opts.withOptimizer === false ? null : await read(OPTIM_FILE);
  if (optBytes) {
    const opt = decodeSafetensors(optBytes, path(OPTIM_FILE));
    const tensors = new Map<string, Float32Array>();
    for (const [name, t] of opt.tensors) tensors.set(name, toFloat32(t, `${path(OPTIM_FILE)}: tensor ${name}`));
    optimizer = { tensors, meta: opt.metadata };
  }
  return { params, cfg: meta.model_config, optimizer, meta };
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
