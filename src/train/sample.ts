// Greedy samples from fixed prompts during training (the reference's sample step), by
// recomputing the forward for each new token on the training model's (B, T) buffers.
// The KV-cache engine is faster; this needs nothing but the model and runs rarely.
import { argmax } from "../engine/sampling.ts";
import type { InferenceGPT } from "../model/inference.ts";

export const SAMPLE_PROMPTS = [
  "The capital of France is",
  "The chemical symbol of gold is",
  "If yesterday was Friday, then tomorrow will be",
  "The opposite of hot is",
  "The planets of the solar system are:",
  "My favorite color is",
  "If 5*x + 3 = 13, then x is",
];

export interface SampleTokenizer {
  bosId: number;
  encodeOrdinary(text: string): number[];
  decode(ids: number[]): string;
}

/** BOS + prompt, then `maxTokens` greedy tokens (stopping at BOS); returns prompt + completion text. */
export async function greedySample(model: InferenceGPT, tok: SampleTokenizer, prompt: string, maxTokens = 16): Promise<string> {
  const T = model.T;
  const ids = [tok.bosId, ...tok.encodeOrdinary(prompt)];
  if (ids.length >= T) ids.splice(1, ids.length - T + 1); // keep BOS and the prompt's tail
  const promptLen = ids.length;
  const inputs = new Int32Array(model.B * T);
  while (ids.length - promptLen < maxTokens && ids.length < T) {
    inputs.set(ids);
    const next = argmax(await model.logitsAt(inputs, ids.length - 1));
    if (next === tok.bosId) break;
    ids.push(next);
  }
  return prompt + tok.decode(ids.slice(promptLen));
}
