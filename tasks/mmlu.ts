// MMLU (cais/mmlu): four-choice questions over 57 subjects. Categorical, letters A-D.
// The subset `all` (split test: the evaluation set) has the columns question, subject,
// choices and answer (0-3); the subset `auxiliary_train` (ARC, MC_TEST, OBQA, RACE
// questions used in mid-training) wraps the same four fields in one struct column
// `train`. Rows of either kind are accepted; the wrapped ones are unwrapped here.
//
// Rows are checked when the task is built, so a wrong file fails at once, naming the row
// and the field.
import { assistantText, renderMultipleChoice, Task, TaskError, type TaskExample, type TaskSlice } from "./common.ts";

export const MMLU_LETTERS: readonly string[] = ["A", "B", "C", "D"];

/** Names row i in error messages: a file (rows are numbered from 0), or a function saying it all. */
export type RowSource = string | ((row: number) => string);

export interface MmluOptions extends TaskSlice {
  source?: RowSource;
  /** Shown in logs and mixtures; default "MMLU". */
  name?: string;
}

/** An MMLU example also says its subject (for per-subject accuracy). */
export interface MmluExample extends TaskExample {
  subject: string;
  letters: string[];
}

interface MmluRow {
  question: string;
  subject: string;
  choices: string[];
  answer: number;
}

const FIX = "is it a cais/mmlu parquet file? Delete it and download it again";

const kind = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "a list" : typeof v);

function where(source: RowSource | undefined, row: number): string {
  if (typeof source === "function") return source(row);
  return `${source ?? "MMLU"} row ${row}`;
}

function parseRow(raw: Record<string, unknown>, at: string): MmluRow {
  const wrapped = typeof raw.train === "object" && raw.train !== null && !Array.isArray(raw.train) && !("question" in raw);
  const row = wrapped ? raw.train as Record<string, unknown> : raw;
  const bad = (field: string, problem: string) => new TaskError(`${at}: field '${wrapped ? "train." : ""}${field}' ${problem}; ${FIX}`);
  const { question, subject, choices, answer } = row;
  if (typeof question !== "string") throw bad("question", `must be a string, got ${kind(question)}`);
  if (typeof subject !== "string") throw bad("subject", `must be a string, got ${kind(subject)}`);
  if (!Array.isArray(choices) || !choices.every((c) => typeof c === "string")) {
    throw bad("choices", `must be a list of strings, got ${kind(choices)}`);
  }
  if (choices.length !== MMLU_LETTERS.length) throw bad("choices", `has ${choices.length} choices, MMLU questions have ${MMLU_LETTERS.length}`);
  // int64 columns arrive as bigint from parquet; JSON-made rows may hold plain numbers.
  const n = typeof answer === "bigint" ? Number(answer) : answer;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n >= MMLU_LETTERS.length) {
    throw bad("answer", `must be an integer 0-${MMLU_LETTERS.length - 1} (the index of the right choice), got ${typeof answer === "bigint" ? answer : JSON.stringify(answer) ?? kind(answer)}`);
  }
  return { question, subject, choices: [...choices], answer: n };
}

export class MMLU extends Task {
  readonly name: string;
  readonly evalType = "categorical" as const;
  private readonly rows: MmluRow[];

  constructor(rows: readonly Record<string, unknown>[], opts: MmluOptions = {}) {
    super(opts);
    this.name = opts.name ?? "MMLU";
    this.rows = rows.map((r, i) => parseRow(r, where(opts.source, i)));
  }

  numExamples(): number {
    return this.rows.length;
  }

  protected getExample(index: number): MmluExample {
    const r = this.rows[index];
    return {
      messages: [
        { role: "user", content: renderMultipleChoice(r.question, r.choices, MMLU_LETTERS) },
        { role: "assistant", content: MMLU_LETTERS[r.answer] },
      ],
      subject: r.subject,
      letters: [...MMLU_LETTERS],
    };
  }

  override example(i: number): MmluExample {
    return super.example(i) as MmluExample;
  }

  /** Correct when the reply, trimmed, is the answer's letter. */
  override evaluate(conversation: TaskExample, response: string): boolean {
    return response.trim() === assistantText(conversation);
  }
}
