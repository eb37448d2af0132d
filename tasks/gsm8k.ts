// GSM8K (openai/gsm8k, subset main, splits train/test): grade-school word problems whose
// worked answers mark each calculation as <<expr=result>> and end with "#### N".
// Generative. The worked answer becomes the assistant's message as parts, so that SFT and
// RL teach the calculator tool:
//
//   "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n...\n#### 72"
//   -> text "Natalia sold 48/2 = ", python "48/2", python_output "24",
//      text "24 clips in May.\n...\n#### 72"
//
// A reply is correct when its "#### N" number is the reference's (commas removed, exact
// string match): the reference implementation's rule, and also its RL reward (1 or 0).
import type { ContentPart } from "./common.ts";
import { assistantText, extractHashAnswer, Task, TaskError, type TaskExample, type TaskSlice } from "./common.ts";

/** Names row i in error messages: a file (rows are numbered from 0), or a function saying it all. */
export type RowSource = string | ((row: number) => string);

export interface Gsm8kOptions extends TaskSlice {
  source?: RowSource;
  /** Shown in logs and mixtures; default "GSM8K". */
  name?: string;
}

interface Gsm8kRow {
  question: string;
  answer: string;
}

const FIX = "is it an openai/gsm8k parquet file? Delete it and download it again";
const CALL = /(<<[^>]+>>)/;

const kind = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "a list" : typeof v);

function where(source: RowSource | undefined, row: number): string {
  if (typeof source === "function") return source(row);
  return `${source ?? "GSM8K"} row ${row}`;
}

/**
 * A worked answer as assistant parts: each <<expr=result>> becomes a python part (expr)
 * and a python_output part (result, split at the last "="); the text between stays text.
 * Empty text between two adjacent calls is left out: it would render to no tokens.
 */
export function gsm8kParts(answer: string): ContentPart[] {
  const parts: ContentPart[] = [];
  for (const piece of answer.split(CALL)) {
    if (piece.startsWith("<<") && piece.endsWith(">>")) {
      const inner = piece.slice(2, -2);
      const eq = inner.lastIndexOf("=");
      parts.push({ type: "python", text: eq < 0 ? inner : inner.slice(0, eq) });
      parts.push({ type: "python_output", text: eq < 0 ? "" : inner.slice(eq + 1) });
    } else if (piece !== "") {
      parts.push({ type: "text", text: piece });
    }
  }
  return parts;
}

function parseRow(raw: Record<string, unknown>, at: string): Gsm8kRow {
  const bad = (field: string, problem: string) => new TaskError(`${at}: field '${field}' ${problem}; ${FIX}`);
  const { question, answer } = raw;
  if (typeof question !== "string") throw bad("question", `must be a string, got ${kind(question)}`);
  if (typeof answer !== "string") throw bad("answer", `must be a string, got ${kind(answer)}`);
  // Without a final number no reply could ever be scored correct.
  if (extractHashAnswer(answer) === null) throw bad("answer", `has no final '#### <number>' line (it ends ${JSON.stringify(answer.slice(-40))})`);
  return { question, answer };
}

export class GSM8K extends Task {
  readonly name: string;
  readonly evalType = "generative" as const;
  private readonly rows: Gsm8kRow[];

  constructor(rows: readonly Record<string, unknown>[], opts: Gsm8kOptions = {}) {
    super(opts);
    this.name = opts.name ?? "GSM8K";
    this.rows = rows.map((r, i) => parseRow(r, where(opts.source, i)));
  }

  numExamples(): number {
    return this.rows.length;
  }

  protected getExample(index: number): TaskExample {
    const r = this.rows[index];
    return {
      messages: [
        { role: "user", content: r.question },
        { role: "assistant", content: gsm8kParts(r.answer) },
      ],
    };
  }

  /** Correct when the reply's "#### N" equals the reference answer's (commas removed). */
  override evaluate(conversation: TaskExample, response: string): boolean {
    const expected = extractHashAnswer(assistantText(conversation));
    const got = extractHashAnswer(response);
    return got !== null && got === expected;
  }
}
