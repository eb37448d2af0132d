// What the engine tests share: a GQA shape, nudged weights, and draining a generation.
import type { GeneratedColumn } from "../../src/engine/engine.ts";
import type { GPTConfig } from "../../src/model/config.ts";
import { nudgedParams } from "./harness.ts";

/** A GQA shape (4 query heads on 2 kv heads) for the batched paths. */
export const GQA: GPTConfig = { sequence_len: 96, vocab_size: 300, n_layer: 2, n_head: 4, n_kv_head: 2, n_embd: 64 };

export const engineWeights = (cfg: GPTConfig, seed: number) => nudgedParams(cfg, seed, 0.1, 8);

export async function collect(gen: AsyncGenerator<GeneratedColumn>): Promise<GeneratedColumn[]> {
  const out: GeneratedColumn[] = [];
  for await (const c of gen) out.push(c);
  return out;
}
