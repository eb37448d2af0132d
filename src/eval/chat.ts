// Chat evaluation (nanochat's chat_eval): each task's test problems rendered as a chat
// prompt, then scored by the task.
//
//   categorical   the logits at the prompt's last position (the <|assistant_start|> slot),
//                 restricted to the single-token ids of the choice letters; the argmax
//                 letter is the reply.
//   generative    the KV-cache engine writes the reply (greedy, top-k 50, the calculator
//                 answering tool calls); the decoded tokens, tool blocks included, are the
//                 reply the task checks.
//
// ChatCORE, as the reference: when every one of its tasks ran, the mean over them of
// (accuracy − baseline) / (1 − baseline), with baseline 0.25 for the four-way multiple
// choice tasks and 0 for the generative ones.
import { Engine } from "../engine/engine.ts";
import type { Mxfp4Matrix } from "../formats/mxfp4.ts";
import type { Gpu } from "../gpu/device.ts";
import type { GPTConfig } from "../model/config.ts";
import { InferenceGPT } from "../model/inference.ts";
import { uploadParams } from "../model/tensors.ts";
import { keepPromptEnd, renderForCompletion } from "../tokenizer/chat.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import type { Task, TaskExample } from "../../tasks/common.ts";
import { UserError } from "../util/errors.ts";

export const CHATCORE_BASELINES: Readonly<Record<string, number>> = {
  "arc-easy": 0.25, "arc-challenge": 0.25, mmlu: 0.25, gsm8k: 0, humaneval: 0, "spelling-bee": 0,
};

export interface TaskScore {
  task: string;
  correct: number;
  total: number;
  accuracy: number;
}

export interface EvalProgress {
  (task: string, done: number, total: number, correct: number): void;
}

/** Logits (V) at the last position of `ids`. */
export type LastLogits = (ids: readonly number[]) => Promise<Float32Array>;

function argmaxOver(logits: Float32Array, ids: readonly number[]): number {
  let best = 0;
  for (let k = 1; k < ids.length; k++) if (logits[ids[k]] > logits[ids[best]]) best = k;
  return best;
}

/** The single token id of each letter; a letter that is not one token cannot be scored this way. */
export function letterIds(tok: Tokenizer, letters: readonly string[]): number[] {
  return letters.map((l) => {
    const ids = tok.encodeOrdinary(l);
    if (ids.length !== 1) throw new UserError(`choice letter ${JSON.stringify(l)} is ${ids.length} tokens in this tokenizer; categorical scoring needs one`);
    return ids[0];
  });
}

export async function evalCategorical(task: Task, tok: Tokenizer, lastLogits: LastLogits, n: number, progress?: EvalProgress): Promise<TaskScore> {
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const ex: TaskExample = task.example(i);
    if (!ex.letters) throw new UserError(`${task.name} example ${i} has no choice letters; it is not a categorical task`);
    const ids = letterIds(tok, ex.letters);
    const logits = await lastLogits(renderForCompletion(tok, ex));
    if (await task.evaluate(ex, ex.letters[argmaxOver(logits, ids)])) correct++;
    progress?.(task.name, i + 1, n, correct);
  }
  return { task: task.name, correct, total: n, accuracy: n ? correct / n : 0 };
}

/**
 * Generative scoring, engine.maxBatch problems at a time (prompts of different lengths
 * decode together: src/engine/engine.ts generateEach). Greedy, so batching does not change
 * any reply.
 */
export async function evalGenerative(
  task: Task, tok: Tokenizer, engine: Engine, n: number, opts: { maxTokens: number; topK?: number }, progress?: EvalProgress,
): Promise<TaskScore> {
  let correct = 0;
  // A long prompt keeps its end (the question) and leaves room for a reply.
  const promptRoom = engine.capacity - 1 - Math.min(opts.maxTokens, engine.capacity >> 1);
  for (let i = 0; i < n; i += engine.maxBatch) {
    const examples = Array.from({ length: Math.min(engine.maxBatch, n - i) }, (_, j) => task.example(i + j));
    const prompts = examples.map((ex) => keepPromptEnd(renderForCompletion(tok, ex), promptRoom));
    const { sequences } = await engine.generateEach(prompts, { maxTokens: opts.maxTokens, temperature: 0, topK: opts.topK ?? 50 });
    for (let j = 0; j < examples.length; j++) if (await task.evaluate(examples[j], tok.decode(sequences[j]))) correct++;
    progress?.(task.name, i + examples.length, n, correct);
  }
  return { task: task.name, correct, total: n, accuracy: n ? correct / n : 0 };
}

/** ChatCORE over the scores, or null unless every reference task is among them. */
export function chatCore(scores: readonly TaskScore[]): number | null {
  const by = new Map(scores.map((s) => [s.task, s.accuracy]));
  const names = Object.keys(CHATCORE_BASELINES);
  if (!names.every((n) => by.has(n))) return null;
  return names.reduce((sum, n) => sum + (by.get(n)! - CHATCORE_BASELINES[n]) / (1 - CHATCORE_BASELINES[n]), 0) / names.length;
}

export interface ChatEvalOptions {
  /** Problems per task at most (0: the whole test split). */
  maxProblems: number;
  /** Longest generated reply. */
  maxTokens: number;
  /** Problems decoded together. */
  maxBatch: number;
  /** The checkpoint's MXFP4 matrices: the engine multiplies by them directly (the scorer by their decoded values). */
  mxfp4?: Map<string, Mxfp4Matrix>;
  progress?: EvalProgress;
}

/**
 * Every task scored on one set of weights: categorical tasks by a B=1 forward's logits at
 * the prompt's last position (the prompt's end kept when it is longer than the context),
 * generative ones by the engine. `where` names the weights in errors.
 */
export async function scoreChatTasks(
  gpu: Gpu, cfg: GPTConfig, params: Map<string, Float32Array>, tok: Tokenizer, tasks: readonly { name: string; task: Task }[], opts: ChatEvalOptions, where: string,
): Promise<TaskScore[]> {
  const T = cfg.sequence_len;
  const engine = await Engine.create(gpu, cfg, params, tok, { maxBatch: opts.maxBatch, mxfp4: opts.mxfp4 });
  const weights = uploadParams(gpu, cfg, params, where);
  const scorer = await InferenceGPT.create(gpu, cfg, weights, { B: 1, T });
  const lastLogits = async (ids: readonly number[]) => {
    const keep = ids.length > T ? ids.slice(ids.length - T) : ids;
    const padded = new Int32Array(T);
    padded.set(keep);
    return await scorer.logitsAt(padded, keep.length - 1);
  };
  try {
    const scores: TaskScore[] = [];
    for (const { name, task } of tasks) {
      const n = opts.maxProblems > 0 ? Math.min(opts.maxProblems, task.length) : task.length;
      const s = task.evalType === "categorical"
        ? await evalCategorical(task, tok, lastLogits, n, opts.progress)
        : await evalGenerative(task, tok, engine, n, { maxTokens: opts.maxTokens }, opts.progress);
      scores.push({ ...s, task: name });
    }
    return scores;
  } finally {
    engine.destroy();
    scorer.destroy();
    for (const t of weights.values()) t.destroy();
  }
}

/** A progress callback printing `label task: done/total, correct (acc), eta` at most every 2 s. */
export function chatEvalProgress(label: string, log: (line: string) => void): EvalProgress {
  let t0 = 0, last = 0, current = "";
  return (task, done, total, correct) => {
    if (task !== current) [current, t0, last] = [task, performance.now(), 0];
    if (performance.now() - last < 2000 && done < total) return;
    last = performance.now();
    const eta = ((performance.now() - t0) / done) * (total - done) / 1000;
    log(`  ${label} ${task}: ${done}/${total}, ${correct} correct (${(100 * correct / done).toFixed(1)}%), eta ${eta.toFixed(0)} s`);
  };
}
