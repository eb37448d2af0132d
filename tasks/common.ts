// The Task API of nanochat's tasks/, one module per task in this folder:
//
//   task.length            examples in this slice of the task (start, stop, step)
//   task.example(i)        the i-th example of the slice as a conversation
//   task.evalType          "categorical" (pick a choice letter) or "generative" (free reply)
//   task.numExamples()     rows of the whole underlying dataset
//   task.evaluate(c, r)    is reply r correct for conversation c (a promise where checking
//                          runs something, e.g. HumanEval's programs)
//   task.reward(c, r)      the RL reward of reply r (default: 1 if correct, else 0)
//
// TaskMixture interleaves several tasks in one seeded shuffle of every (task, index)
// pair (list a task twice to oversample it); TaskSequence concatenates them.
// Runtime-agnostic: tasks get their rows from a loader (tasks/datasets.ts) or make them.
import type { Conversation } from "../src/tokenizer/chat.ts";
import { UserError } from "../src/util/errors.ts";
import { Rng } from "../src/util/rng.ts";

export type { ContentPart, Conversation, Message } from "../src/tokenizer/chat.ts";

export type EvalType = "categorical" | "generative";

/** A conversation as a task gives it; categorical tasks also name the answer letters. */
export interface TaskExample extends Conversation {
  /** Categorical: the letters of the choices, in order (the model picks one). */
  letters?: string[];
}

export interface TaskSlice {
  start?: number;
  stop?: number;
  step?: number;
}

/** A task that cannot be used as asked (missing data, a bad slice); the message says what to do. */
export class TaskError extends UserError {
  override name = "TaskError";
}

/** Anything with examples: a Task, a TaskMixture, a TaskSequence. */
export interface ExampleSource {
  readonly name: string;
  readonly length: number;
  example(i: number): TaskExample;
}

export abstract class Task implements ExampleSource {
  abstract readonly name: string;
  abstract readonly evalType: EvalType;
  private readonly start: number;
  private readonly stop: number | undefined;
  private readonly step: number;

  constructor(slice: TaskSlice = {}) {
    this.start = slice.start ?? 0;
    this.stop = slice.stop;
    this.step = slice.step ?? 1;
    for (const [k, v] of Object.entries({ start: this.start, step: this.step })) {
      if (!Number.isInteger(v) || v < (k === "step" ? 1 : 0)) throw new TaskError(`task slice: ${k} must be an integer ≥ ${k === "step" ? 1 : 0}, got ${v}`);
    }
    if (this.stop !== undefined && (!Number.isInteger(this.stop) || this.stop < this.start)) {
      throw new TaskError(`task slice: stop must be an integer ≥ start (${this.start}), got ${this.stop}`);
    }
  }

  /** Rows of the whole dataset, before slicing. */
  abstract numExamples(): number;

  /** Row `index` of the whole dataset as a conversation. */
  protected abstract getExample(index: number): TaskExample;

  get length(): number {
    const stop = Math.min(this.stop ?? this.numExamples(), this.numExamples());
    return Math.max(0, Math.ceil((stop - this.start) / this.step));
  }

  example(i: number): TaskExample {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`${this.name}: example ${i} is outside 0 … ${this.length - 1}`);
    return this.getExample(this.start + i * this.step);
  }

  /** Whether `response` (the assistant's reply text) answers `conversation` correctly. */
  evaluate(_conversation: TaskExample, _response: string): boolean | Promise<boolean> {
    throw new TaskError(`${this.name} is a training task: it has no evaluation`);
  }

  async reward(conversation: TaskExample, response: string): Promise<number> {
    return (await this.evaluate(conversation, response)) ? 1 : 0;
  }
}

/**
 * Several tasks as one, in a seeded shuffle of all (task, index) pairs: deterministic
 * for a seed, every example exactly once per listing of its task.
 */
export class TaskMixture implements ExampleSource {
  readonly name: string;
  private readonly index: [number, number][] = [];

  constructor(readonly tasks: readonly ExampleSource[], seed = 42) {
    if (tasks.length === 0) throw new TaskError("a task mixture needs at least one task");
    this.name = `mixture(${tasks.map((t) => t.name).join(", ")})`;
    tasks.forEach((t, k) => {
      // An empty member is a mistake (a slice starting past the task's end), not a choice.
      if (t.length === 0) throw new TaskError(`a task mixture member has no examples: ${t.name} (does its slice start past its end?)`);
      for (let i = 0; i < t.length; i++) this.index.push([k, i]);
    });
    new Rng(seed).shuffle(this.index);
  }

  get length(): number {
    return this.index.length;
  }

  example(i: number): TaskExample {
    const pair = this.index[i];
    if (!pair) throw new RangeError(`${this.name}: example ${i} is outside 0 … ${this.length - 1}`);
    return this.tasks[pair[0]].example(pair[1]);
  }

  /** Which task example i comes from (for logging the mixture's make-up). */
  taskOf(i: number): ExampleSource {
    return this.tasks[this.index[i][0]];
  }
}

/** Tasks one after another. */
export class TaskSequence implements ExampleSource {
  readonly name: string;

  constructor(readonly tasks: readonly ExampleSource[]) {
    this.name = `sequence(${tasks.map((t) => t.name).join(", ")})`;
  }

  get length(): number {
    return this.tasks.reduce((n, t) => n + t.length, 0);
  }

  example(i: number): TaskExample {
    let j = i;
    for (const t of this.tasks) {
      if (j >= 0 && j < t.length) return t.example(j);
      j -= t.length;
    }
    throw new RangeError(`${this.name}: example ${i} is outside 0 … ${this.length - 1}`);
  }
}

/** The multiple-choice prompt of the reference: question, "- choice=letter" lines, the instruction. */
export function renderMultipleChoice(question: string, choices: readonly string[], letters: readonly string[]): string {
  if (choices.length !== letters.length) throw new TaskError(`multiple choice: ${choices.length} choices but ${letters.length} letters`);
  const lines = choices.map((c, i) => `- ${c}=${letters[i]}`).join("\n");
  return `Multiple Choice question: ${question}\n${lines}\n\nRespond only with the letter of the correct answer.`;
}

/** A message list's last assistant message as plain text (parts joined). */
export function assistantText(example: TaskExample): string {
  const last = example.messages[example.messages.length - 1];
  if (!last || last.role !== "assistant") throw new TaskError("the example does not end with an assistant message");
  return typeof last.content === "string" ? last.content : last.content.map((p) => p.text).join("");
}

/** The reference's GSM8K answer: the number after "#### ", commas removed; null when there is none. */
export function extractHashAnswer(text: string): string | null {
  const m = text.match(/#### (-?[0-9.,]+)/);
  return m ? m[1].replaceAll(",", "") : null;
}
