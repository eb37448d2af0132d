// CORE over tasks, as the reference's base_eval: per task the items shuffled with
// Random(1337), optionally the first `maxPerTask` kept, each item's few-shot examples
// drawn from the kept ones, its prompts tokenized (BOS first) and cropped to the model's
// context, scored by the model, and the accuracy centred on the task's random baseline.
// Items are gathered until a few forwards' worth of rows, so dispatches stay few.
import { PyRandom } from "../util/py_random.ts";
import { batchSequences, type CoreBatch, type CoreItem, coreMetric, cropBatch, fewshotIndices, isCorrect, renderPrompts, type RowForward } from "./core.ts";
import type { CoreTask } from "./core_bundle.ts";
import type { ScoredRow } from "./core_scorer.ts";

/** What scores rows: the GPU (CoreScorer) or, in tests, anything with the same shape. */
export interface RowModel {
  readonly rowsPerForward: number;
  readonly contextLength: number;
  losses(rows: readonly ScoredRow[]): Promise<RowForward[]>;
  argmax(rows: readonly ScoredRow[]): Promise<RowForward[]>;
}

export interface CoreTaskResult {
  label: string;
  type: string;
  num_fewshot: number;
  correct: number;
  total: number;
  accuracy: number;
  random_baseline: number;
  centered: number;
}

export interface CoreOptions {
  /** Items per task at most (0: all). */
  maxPerTask?: number;
  /** Called now and then while a task runs. */
  progress?: (label: string, done: number, total: number, correct: number) => void;
}

/** The items a task evaluates: shuffled with Random(1337), the first maxPerTask kept. */
export function coreItemOrder<T>(items: readonly T[], maxPerTask = 0): T[] {
  const shuffled = new PyRandom(1337).shuffle([...items]);
  return maxPerTask > 0 ? shuffled.slice(0, maxPerTask) : shuffled;
}

/** Item idx's rows: its prompts with few-shot examples, tokenized (encode prepends BOS), cropped to the context. */
export function coreItemBatch(task: CoreTask, items: readonly CoreItem[], idx: number, encode: (text: string) => number[], context: number): CoreBatch {
  const { type, numFewshot, delimiter } = task.meta;
  const shots = fewshotIndices(items.length, idx, numFewshot).map((i) => items[i]);
  return cropBatch(batchSequences(type, renderPrompts(type, items[idx], delimiter, shots), encode), context);
}

/** One task's accuracy and centred accuracy. */
export async function evaluateCoreTask(task: CoreTask, encode: (text: string) => number[], model: RowModel, opts: CoreOptions = {}): Promise<CoreTaskResult> {
  const items = coreItemOrder(task.items, opts.maxPerTask);
  const greedy = task.meta.type === "language_modeling";
  const gather = 4 * model.rowsPerForward;
  let correct = 0, done = 0;
  for (let i = 0; i < items.length;) {
    const pending: { idx: number; batch: CoreBatch }[] = [];
    let rows = 0;
    for (; i < items.length && rows < gather; i++) {
      const batch = coreItemBatch(task, items, i, encode, model.contextLength);
      pending.push({ idx: i, batch });
      rows += batch.tokens.length;
    }
    const flat: ScoredRow[] = pending.flatMap(({ batch }) => batch.tokens.map((tokens, r) => ({ tokens, start: batch.start[r], end: batch.end[r] })));
    const scored = greedy ? await model.argmax(flat) : await model.losses(flat);
    let at = 0;
    for (const { idx, batch } of pending) {
      const n = batch.tokens.length;
      if (isCorrect(task.meta.type, items[idx], batch, scored.slice(at, at + n))) correct++;
      at += n;
    }
    done += pending.length;
    opts.progress?.(task.meta.label, done, items.length, correct);
  }
  const accuracy = correct / items.length;
  const { centered } = coreMetric([{ label: task.meta.label, accuracy, randomBaseline: task.meta.randomBaseline }]);
  return {
    label: task.meta.label, type: task.meta.type, num_fewshot: task.meta.numFewshot, correct, total: items.length,
    accuracy, random_baseline: task.meta.randomBaseline, centered: centered[task.meta.label],
  };
}

/** Every task's result and CORE, the mean centred accuracy. */
export async function evaluateCore(tasks: readonly CoreTask[], encode: (text: string) => number[], model: RowModel, opts: CoreOptions = {}): Promise<{ results: CoreTaskResult[]; core: number }> {
  const results: CoreTaskResult[] = [];
  for (const t of tasks) results.push(await evaluateCoreTask(t, encode, model, opts));
  const { core } = coreMetric(results.map((r) => ({ label: r.label, accuracy: r.accuracy, randomBaseline: r.random_baseline })));
  return { results, core };
}

/** The per-task table and the CORE line, as printed by `eval base`. */
export function coreTable(results: readonly CoreTaskResult[], core: number): string {
  const lines = ["| task | type | shots | accuracy | centred |", "|---|---|---:|---:|---:|"];
  for (const r of results) {
    lines.push(`| ${r.label} | ${r.type} | ${r.num_fewshot} | ${(100 * r.accuracy).toFixed(2)}% (${r.correct}/${r.total}) | ${r.centered.toFixed(4)} |`);
  }
  lines.push(`| **CORE** | | | | **${core.toFixed(4)}** |`);
  return lines.join("\n");
}
