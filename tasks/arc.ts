// ARC (allenai/ai2_arc, subsets ARC-Easy and ARC-Challenge): grade-school science
// questions with 3-5 labelled choices. Categorical: the prompt lists every choice with its
// label and the answer is the bare label (the labels come from the data: mostly A-D, a
// few rows use 1-4).
//
// Rows are those of the dataset's parquet files (id, question, choices {text, label},
// answerKey), already loaded; every row is checked when the task is built, so a wrong or
// damaged file fails at once, naming the row and field, not halfway through training.
import { assistantText, renderMultipleChoice, Task, TaskError, type TaskExample, type TaskSlice } from "./common.ts";

/** Names row i in error messages: a file (rows are numbered from 0), or a function saying it all. */
export type RowSource = string | ((row: number) => string);

export interface ArcOptions extends TaskSlice {
  source?: RowSource;
  /** Shown in logs and mixtures; default "ARC". */
  name?: string;
}

interface ArcRow {
  question: string;
  choices: string[];
  labels: string[];
  answer: string;
}

const FIX = "is it the allenai/ai2_arc parquet file? Delete it and download it again";

const kind = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "a list" : typeof v);

function where(source: RowSource | undefined, row: number): string {
  if (typeof source === "function") return source(row);
  return `${source ?? "ARC"} row ${row}`;
}

function stringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === "string");
}

function parseRow(raw: Record<string, unknown>, at: string): ArcRow {
  const bad = (field: string, problem: string) => new TaskError(`${at}: field '${field}' ${problem}; ${FIX}`);
  const { question, choices, answerKey } = raw;
  if (typeof question !== "string") throw bad("question", `must be a string, got ${kind(question)}`);
  if (typeof choices !== "object" || choices === null || Array.isArray(choices)) {
    throw bad("choices", `must be a struct {text, label}, got ${kind(choices)}`);
  }
  const { text, label } = choices as Record<string, unknown>;
  if (!stringList(text)) throw bad("choices.text", `must be a list of strings, got ${kind(text)}`);
  if (!stringList(label)) throw bad("choices.label", `must be a list of strings, got ${kind(label)}`);
  if (text.length < 2 || text.length !== label.length) {
    throw bad("choices", `has ${text.length} texts and ${label.length} labels (needs two or more of each, as many labels as texts)`);
  }
  if (typeof answerKey !== "string") throw bad("answerKey", `must be a string, got ${kind(answerKey)}`);
  if (!label.includes(answerKey)) throw bad("answerKey", `is '${answerKey}', not one of the labels ${label.join(", ")}`);
  return { question, choices: [...text], labels: [...label], answer: answerKey };
}

export class ARC extends Task {
  readonly name: string;
  readonly evalType = "categorical" as const;
  private readonly rows: ArcRow[];

  constructor(rows: readonly Record<string, unknown>[], opts: ArcOptions = {}) {
    super(opts);
    this.name = opts.name ?? "ARC";
    this.rows = rows.map((r, i) => parseRow(r, where(opts.source, i)));
  }

  numExamples(): number {
    return this.rows.length;
  }

  protected getExample(index: number): TaskExample {
    const r = this.rows[index];
    return {
      messages: [
        { role: "user", content: renderMultipleChoice(r.question, r.choices, r.labels) },
        { role: "assistant", content: r.answer },
      ],
      letters: [...r.labels],
    };
  }

  /** Correct when the reply, trimmed, is the answer's label. */
  override evaluate(conversation: TaskExample, response: string): boolean {
    return response.trim() === assistantText(conversation);
  }
}
