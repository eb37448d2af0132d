// The model's GPU tensors that are not activations: parameters under nanochat's names
// (create, upload, read back) and the rotary tables. Shared by the training graph
// (gpt.ts), the generation forward (inference.ts) and the engine, which owns its weights.
import type { Gpu } from "../gpu/device.ts";
import { createTensor, readF32, type Tensor, writeTensor } from "../gpu/tensor.ts";
import { UserError } from "../util/errors.ts";
import type { RotaryTables } from "../nn/rotary.ts";
import { type GPTConfig, headDim, numel, paramShapes } from "./config.ts";
import { rotaryTables } from "./params.ts";

/** One float32 tensor per parameter, by nanochat name, in paramShapes order (uninitialised); `skip` names none for those. */
export function createParamTensors(gpu: Gpu, cfg: GPTConfig, prefix = "", skip: ReadonlySet<string> = new Set()): Map<string, Tensor> {
  return new Map(paramShapes(cfg).filter(({ name }) => !skip.has(name)).map(({ name, shape }) => [name, createTensor(gpu, shape, "f32", prefix + name)]));
}

/** Weights that do not fit the model: a parameter missing or of the wrong size. */
export class ParamsError extends UserError {
  override name = "ParamsError";
}

/** Uploads parameters by nanochat name (float32, PyTorch (out, in) layout) into cfg's tensors (those `skip` leaves out are not wanted). */
export function writeParams(params: Map<string, Tensor>, cfg: GPTConfig, values: Map<string, Float32Array>, where = "loadParams", skip: ReadonlySet<string> = new Set()): void {
  for (const { name, shape } of paramShapes(cfg)) {
    if (skip.has(name)) continue;
    const v = values.get(name), t = params.get(name);
    if (!v) throw new ParamsError(`${where}: missing ${name}`);
    if (!t) throw new ParamsError(`${where}: no tensor for ${name}`);
    const n = numel(shape);
    if (v.length !== n) throw new ParamsError(`${where}: ${name} has ${v.length} values, expected ${n} (${shape.join("×")})`);
    writeTensor(t, v);
  }
}

/** New tensors holding `values` (createParamTensors + writeParams); on a bad value none is left allocated. */
export function uploadParams(gpu: Gpu, cfg: GPTConfig, values: Map<string, Float32Array>, where: string, skip: ReadonlySet<string> = new Set()): Map<string, Tensor> {
  const params = createParamTensors(gpu, cfg, "", skip);
  try {
    writeParams(params, cfg, values, where, skip);
    return params;
  } catch (err) {
    for (const t of params.values()) t.destroy();
    throw err;
  }
}

/** Reads every tensor of a map back (parameters or gradients). */
export async function readTensors(tensors: Map<string, Tensor>): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of tensors) out.set(name, await readF32(t));
  return out;
}

/** The rotary cos/sin tables on the GPU, (sequence_len, head_dim/2) each. */
export function createRope(gpu: Gpu, cfg: GPTConfig): RotaryTables & { destroy(): void } {
  const hd = headDim(cfg);
  const tables = rotaryTables(cfg.sequence_len, hd);
  const cos = createTensor(gpu, [cfg.sequence_len, hd / 2], "f32", "rope.cos");
  const sin = createTensor(gpu, [cfg.sequence_len, hd / 2], "f32", "rope.sin");
  writeTensor(cos, tables.cos);
  writeTensor(sin, tables.sin);
  return { cos, sin, destroy: () => (cos.destroy(), sin.destroy()) };
}
