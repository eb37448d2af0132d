// How fast the engine generates, as a user of it sees it: prefill is the time to the first
// new token (the prompt's forward), decode the mean time of each later step (one token per
// row, reading the logits back and picking the token included). Greedy, so every form of the
// same weights does the same work. Shared by `deno task bench infer` and the precision
// experiment (src/cli/experiment.ts).
import type { Engine } from "./engine.ts";

export interface GenerationTiming {
  prefillMs: number;
  /** Mean milliseconds per decode step (numSamples tokens each). */
  decodeMs: number;
  /** Decode steps timed. */
  steps: number;
}

/** Times one greedy generation of `decodeTokens` tokens after the first from `prompt` (a tokenizer without stop tokens keeps it from ending early). */
export async function timeGeneration(engine: Engine, prompt: readonly number[], decodeTokens: number, numSamples = 1): Promise<GenerationTiming> {
  const t0 = performance.now();
  let tFirst = 0, cols = 0;
  for await (const _ of engine.generate(prompt, { maxTokens: decodeTokens + 1, temperature: 0, numSamples })) {
    if (cols++ === 0) tFirst = performance.now();
  }
  const tEnd = performance.now();
  if (cols < 2) throw new Error(`timeGeneration: the engine generated ${cols} token${cols === 1 ? "" : "s"}; give it a tokenizer without stop tokens`);
  return { prefillMs: tFirst - t0, decodeMs: (tEnd - tFirst) / (cols - 1), steps: cols - 1 };
}
