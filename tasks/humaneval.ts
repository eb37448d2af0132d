// HumanEval (openai/openai_humaneval, 164 problems): the model is given the start of a
// Python program (imports, a signature, a docstring) and writes the function. A reply
// passes when the program built from it runs the problem's own tests cleanly:
//
//   program = the prompt's import lines
//             + "\n\n" + the first ``` / ```python block of the reply (else the whole reply)
//             + "\n\n" + the row's test (which defines check(candidate))
//             + "\n\n" + "check(<entry_point>)"
//
// The imports are carried over because replies often restate the function without them.
// Running the program is not this module's business: the caller passes `run` (on Deno,
// runPython from tasks/deno_execution.ts), so the task itself stays runtime-agnostic.
// Rows are used in the order given; the reference also shuffles the dataset with HF's
// shuffle(seed=42), which only matters when evaluating a slice of the 164.
import { Task, TaskError, type TaskExample, type TaskSlice } from "./common.ts";

/** One row of the HumanEval test parquet, with the column names of the dataset. */
export interface HumanEvalRow {
  task_id: string;
  prompt: string;
  canonical_solution: string;
  test: string;
  entry_point: string;
}

/** What running one program gave (runPython returns this). */
export interface ExecutionResult {
  /** Ran to its end: exit status 0 and not stopped by the timeout. */
  ok: boolean;
  /** The exit status; null when the process ended by a signal. */
  exitCode: number | null;
  timedOut: boolean;
  /** Both truncated to a few KB. */
  stdout: string;
  stderr: string;
  /** A short reason when it did not run cleanly (timeout, memory, an exception's last line). */
  error?: string;
}

export type RunProgram = (program: string) => Promise<ExecutionResult>;

export interface HumanEvalOptions extends TaskSlice {
  /** The dataset's rows (each one is checked). */
  rows: readonly unknown[];
  /** Runs a Python program in a sandbox; called once per evaluate(). */
  run: RunProgram;
}

/** A HumanEval example: the conversation plus what evaluate() needs to build the program. */
export interface HumanEvalExample extends TaskExample {
  taskId: string;
  entryPoint: string;
  test: string;
}

const FIELDS = ["task_id", "prompt", "canonical_solution", "test", "entry_point"] as const;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Checks one row's fields, naming the row and the field at fault. */
export function validateRow(row: unknown, index: number): HumanEvalRow {
  const where = `humaneval row ${index}`;
  if (typeof row !== "object" || row === null || Array.isArray(row)) throw new TaskError(`${where}: expected an object with ${FIELDS.join(", ")}, got ${Array.isArray(row) ? "an array" : typeof row}`);
  const r = row as Record<string, unknown>;
  const id = typeof r.task_id === "string" && r.task_id ? ` (${r.task_id})` : "";
  for (const f of FIELDS) {
    const v = r[f];
    if (typeof v !== "string") throw new TaskError(`${where}${id}: field ${f} must be a string, got ${v === undefined ? "nothing (is this the openai_humaneval test split?)" : typeof v}`);
    if (v.trim() === "") throw new TaskError(`${where}${id}: field ${f} is empty`);
  }
  // The entry point is pasted into `check(...)`, so it must be a bare name, not code.
  if (!IDENTIFIER.test(r.entry_point as string)) throw new TaskError(`${where}${id}: field entry_point must be a Python identifier, got ${JSON.stringify(r.entry_point)}`);
  if (!/^\s*def check\s*\(/m.test(r.test as string)) throw new TaskError(`${where}${id}: field test does not define check(candidate), which the program calls`);
  return { task_id: r.task_id as string, prompt: r.prompt as string, canonical_solution: r.canonical_solution as string, test: r.test as string, entry_point: r.entry_point as string };
}

/** The import lines at the top of a prompt (comments and blank lines skipped, stops at the first other line). */
export function extractImports(prompt: string): string {
  const imports: string[] = [];
  for (const line of prompt.split("\n")) {
    const s = line.trim();
    if (s.startsWith("import ") || s.startsWith("from ")) imports.push(s);
    else if (s !== "" && !s.startsWith("#")) break;
  }
  return imports.join("\n");
}

/** The code of a reply: its first ``` or ```python fenced block, else the whole reply (trimmed either way). */
export function extractCode(response: string): string {
  const m = response.match(/```(?:python)?\s*\n([\s\S]*?)\n```/);
  return (m ? m[1] : response).trim();
}

/** The program evaluate() runs for a reply. */
export function buildProgram(prompt: string, response: string, test: string, entryPoint: string): string {
  return `${extractImports(prompt)}\n\n${extractCode(response)}\n\n${test}\n\n${`check(${entryPoint})`}`;
}

/** The program for a reply to a HumanEval example (as example() returned it). */
export function extractProgram(example: TaskExample, response: string): string {
  const ex = example as Partial<HumanEvalExample>;
  const prompt = example.messages?.[0]?.content;
  if (typeof prompt !== "string" || typeof ex.test !== "string" || typeof ex.entryPoint !== "string") {
    throw new TaskError("humaneval: evaluate() needs the example as HumanEval.example() returned it (a user prompt, test and entryPoint)");
  }
  return buildProgram(prompt, response, ex.test, ex.entryPoint);
}

export class HumanEval extends Task {
  readonly name = "humaneval";
  readonly evalType = "generative" as const;
  private readonly rows: HumanEvalRow[];
  private readonly run: RunProgram;

  constructor(options: HumanEvalOptions) {
    super(options);
    if (!Array.isArray(options.rows) || options.rows.length === 0) throw new TaskError("humaneval: no rows; load the openai/openai_humaneval test split first");
    if (typeof options.run !== "function") throw new TaskError("humaneval: options.run (a function that runs a Python program) is required");
    this.rows = options.rows.map(validateRow);
    this.run = options.run;
  }

  numExamples(): number {
    return this.rows.length;
  }

  protected getExample(index: number): HumanEvalExample {
    const row = this.rows[index];
    return {
      messages: [
        { role: "user", content: row.prompt },
        // The reference's reference answer: the prompt continued by the canonical body.
        { role: "assistant", content: `${row.prompt}\n${row.canonical_solution}` },
      ],
      taskId: row.task_id,
      entryPoint: row.entry_point,
      test: row.test,
    };
  }

  override async evaluate(example: TaskExample, response: string): Promise<boolean> {
    const result = await this.run(extractProgram(example, response));
    return result.ok && result.exitCode === 0 && !result.timedOut;
  }
}
