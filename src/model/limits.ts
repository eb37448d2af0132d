// Checks a config against the adapter's limits before anything is allocated, so a
// config that cannot run fails at once with the limit and the field to lower.
import type { Gpu } from "../gpu/device.ts";
import { GpuError } from "../gpu/device.ts";
import type { GPTConfig } from "./config.ts";

export const MAX_HEAD_DIM = 128;

export interface BatchShape {
  B: number;
  T: number;
}

export function checkModelFits(gpu: Gpu, cfg: GPTConfig, batch: BatchShape): void {
  const C = cfg.n_embd, V = cfg.vocab_size, N = batch.B * batch.T;
  const hd = C / cfg.n_head;
  const maxBinding = gpu.limits.maxStorageBufferBindingSize;
  const maxBuffer = gpu.limits.maxBufferSize;
  const limit = Math.min(maxBinding, maxBuffer);
  const limitName = maxBinding <= maxBuffer ? "maxStorageBufferBindingSize" : "maxBufferSize";
  const fail = (what: string, bytes: number, fields: string) => {
    throw new GpuError(
      `${what} needs ${bytes.toLocaleString("en-US")} bytes, over this adapter's ${limitName} ` +
        `(${limit.toLocaleString("en-US")} bytes on ${gpu.description}). Lower ${fields}.`,
    );
  };
  if (hd > MAX_HEAD_DIM) {
    throw new GpuError(`head_dim ${hd} (n_embd ${C} / n_head ${cfg.n_head}) is over the attention kernel's maximum of ${MAX_HEAD_DIM}: raise n_head or lower n_embd`);
  }
  if (batch.T > cfg.sequence_len) {
    throw new GpuError(`the batch's sequence length T=${batch.T} is longer than the model's sequence_len ${cfg.sequence_len}: lower T (--seq-len) or raise sequence_len`);
  }
  if (V * C * 4 > limit) fail(`transformer.wte.weight / lm_head.weight (${V}×${C} float32)`, V * C * 4, "vocab_size or n_embd (depth)");
  if (N * 4 * C * 4 > limit) fail(`the MLP activations (B·T=${N} × 4·n_embd=${4 * C} float32)`, N * 4 * C * 4, "the device batch size (B) or the sequence length (T)");
  const maxWg = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (N * cfg.n_head > maxWg * maxWg) {
    throw new GpuError(`B·T·n_head = ${N * cfg.n_head} rows is over maxComputeWorkgroupsPerDimension² (${maxWg}²): lower the device batch size`);
  }
}
