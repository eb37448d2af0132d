// CORE (DCLM's in-context evaluation, as nanochat's core_eval.py computes it), the parts
// that do not need the GPU: each task type's prompts, where the scored continuation sits
// in the tokens, the few-shot draw, scoring from per-position losses and argmaxes, the
// centred accuracy and the CORE mean.
//
//   multiple_choice    one prompt per choice, few-shot blocks "query·delim·gold answer\n\n"
//                      first; the continuation starts after the prompts' common prefix;
//                      the choice with the lowest mean loss over its continuation wins.
//   schema             one prompt per context option with a shared continuation (the
//                      common suffix); lowest mean loss wins.
//   language_modeling  context·delim (stripped) and context·delim·continuation; correct
//                      iff the greedy prediction matches every continuation token.
//
// Few-shot examples of item i: Python's Random(1234 + i).sample of the other items;
// prompts start with BOS; a batch longer than the model's context is cropped from the left.
// centred = (accuracy − b/100) / (1 − b/100) with b the task's random baseline in percent;
// CORE = the mean centred accuracy over the tasks.
import { PyRandom } from "../util/py_random.ts";
import { UserError } from "../util/errors.ts";

export class CoreError extends UserError {
  override name = "CoreError";
}

export type CoreTaskType = "multiple_choice" | "schema" | "language_modeling";
export const CORE_TASK_TYPES: readonly CoreTaskType[] = ["multiple_choice", "schema", "language_modeling"];

export interface CoreTaskMeta {
  label: string;
  type: CoreTaskType;
  numFewshot: number;
  /** Between context and continuation (default " "). */
  delimiter: string;
  /** Chance accuracy in percent (eval_meta_data.csv's "Random baseline"). */
  randomBaseline: number;
}

export interface McItem {
  query: string;
  choices: string[];
  gold: number;
}
export interface SchemaItem {
  context_options: string[];
  continuation: string;
  gold: number;
}
export interface LmItem {
  context: string;
  continuation: string;
}
export type CoreItem = McItem | SchemaItem | LmItem;

/** Python's str.strip() for the ASCII whitespace the bundle's texts hold. */
const strip = (s: string) => s.replace(/^[\s]+|[\s]+$/g, "");

/** The prompts of one item: one per choice (MC), per context option (schema), or [without, with] the continuation (LM). */
export function renderPrompts(type: CoreTaskType, item: CoreItem, delimiter: string, fewshot: readonly CoreItem[] = []): string[] {
  const d = delimiter;
  if (type === "multiple_choice") {
    const it = item as McItem;
    const shots = (fewshot as McItem[]).map((e) => `${e.query}${d}${e.choices[e.gold]}\n\n`).join("");
    return it.choices.map((c) => `${shots}${it.query}${d}${c}`);
  }
  if (type === "schema") {
    const it = item as SchemaItem;
    const shots = (fewshot as SchemaItem[]).map((e) => `${e.context_options[e.gold]}${d}${e.continuation}\n\n`).join("");
    return it.context_options.map((c) => `${shots}${c}${d}${it.continuation}`);
  }
  const it = item as LmItem;
  const shots = (fewshot as LmItem[]).map((e) => `${strip(e.context)}${d}${e.continuation}\n\n`).join("");
  const without = `${shots}${strip(it.context)}${d}`;
  return [strip(without), `${without}${it.continuation}`];
}

/** Token rows and, per row, the continuation's [start, end) token span. */
export interface CoreBatch {
  tokens: number[][];
  start: number[];
  end: number[];
}

/** Length of the common prefix (left) or suffix (right) of the rows. */
export function commonLength(rows: readonly (readonly number[])[], side: "left" | "right"): number {
  const min = Math.min(...rows.map((r) => r.length));
  for (let i = 0; i < min; i++) {
    const at = (r: readonly number[]) => (side === "left" ? r[i] : r[r.length - 1 - i]);
    const t = at(rows[0]);
    if (!rows.every((r) => at(r) === t)) return i;
  }
  return min;
}

/** Tokenizes the prompts (`encode` prepends BOS) and finds each row's continuation. */
export function batchSequences(type: CoreTaskType, prompts: readonly string[], encode: (text: string) => number[]): CoreBatch {
  const tokens = prompts.map(encode);
  if (type === "multiple_choice") {
    const start = commonLength(tokens, "left");
    return { tokens, start: tokens.map(() => start), end: tokens.map((t) => t.length) };
  }
  if (type === "schema") {
    const suffix = commonLength(tokens, "right");
    return { tokens, start: tokens.map((t) => t.length - suffix), end: tokens.map((t) => t.length) };
  }
  const [without, withC] = tokens;
  if (!(without.length < withC.length) || without.some((t, i) => withC[i] !== t)) {
    throw new CoreError("language_modeling item: the prompt without the continuation is not a strict prefix of the prompt with it (a tokenizer merge across the boundary)");
  }
  return { tokens: [withC], start: [without.length], end: [withC.length] };
}

/** Crops rows longer than maxLen from the left (the reference keeps the end, where the continuation is). */
export function cropBatch(b: CoreBatch, maxLen: number): CoreBatch {
  const out: CoreBatch = { tokens: [], start: [], end: [] };
  b.tokens.forEach((t, i) => {
    const cut = Math.max(0, t.length - maxLen);
    if (b.start[i] - cut < 1) throw new CoreError(`a row of ${t.length} tokens does not fit ${maxLen} positions with its whole continuation`);
    out.tokens.push(t.slice(cut));
    out.start.push(b.start[i] - cut);
    out.end.push(b.end[i] - cut);
  });
  return out;
}

/** Indices of item idx's few-shot examples among n items: Random(1234 + idx).sample of the others. */
export function fewshotIndices(n: number, idx: number, k: number): number[] {
  if (k === 0) return [];
  if (k > n - 1) throw new CoreError(`${k} few-shot examples asked of a task with ${n} items`);
  const available = Array.from({ length: n - 1 }, (_, i) => (i < idx ? i : i + 1));
  return new PyRandom(1234 + idx).sample(available, k);
}

/** A row's forward: loss[t] = −log p(token t+1 | ≤ t) and argmax[t] = the most likely token t+1. */
export interface RowForward {
  loss: ArrayLike<number>;
  argmax: ArrayLike<number>;
}

/** The index of the predicted choice (MC, schema: lowest mean continuation loss), or for LM 1 if all continuation tokens are predicted, else 0. */
export function predict(type: CoreTaskType, b: CoreBatch, rows: readonly RowForward[]): number {
  if (type === "language_modeling") {
    const [s, e] = [b.start[0], b.end[0]];
    for (let t = s; t < e; t++) if (rows[0].argmax[t - 1] !== b.tokens[0][t]) return 0;
    return 1;
  }
  let best = 0, bestLoss = Infinity;
  rows.forEach((r, i) => {
    let sum = 0;
    for (let t = b.start[i]; t < b.end[i]; t++) sum += r.loss[t - 1];
    const mean = sum / (b.end[i] - b.start[i]);
    if (mean < bestLoss) bestLoss = mean, best = i; // the first of equal means, as list.index(min(...))
  });
  return best;
}

/** Whether the prediction is right: the gold choice (MC, schema) or every token (LM). */
export function isCorrect(type: CoreTaskType, item: CoreItem, b: CoreBatch, rows: readonly RowForward[]): boolean {
  const p = predict(type, b, rows);
  return type === "language_modeling" ? p === 1 : p === (item as McItem | SchemaItem).gold;
}

/** Accuracy above chance, scaled so a perfect score is 1: (acc − b/100) / (1 − b/100). */
export function centeredAccuracy(accuracy: number, randomBaselinePercent: number): number {
  const b = 0.01 * randomBaselinePercent;
  return (accuracy - b) / (1 - b);
}

/** CORE: the mean centred accuracy over the tasks. */
export function coreMetric(results: readonly { label: string; accuracy: number; randomBaseline: number }[]): { centered: Record<string, number>; core: number } {
  if (results.length === 0) throw new CoreError("CORE needs at least one task's result");
  const centered: Record<string, number> = {};
  for (const r of results) centered[r.label] = centeredAccuracy(r.accuracy, r.randomBaseline);
  return { centered, core: Object.values(centered).reduce((a, b) => a + b, 0) / results.length };
}
