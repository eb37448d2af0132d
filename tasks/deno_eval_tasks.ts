// DENO-ONLY: the tasks `deno task eval chat -a …` knows, each on its test split: the
// reference's (their datasets must be downloaded first) and the generated offline ones.
import { Arithmetic } from "./arithmetic.ts";
import { ARC } from "./arc.ts";
import { type Task, TaskError } from "./common.ts";
import { loadDataset } from "./deno_datasets.ts";
import { runPython } from "./deno_execution.ts";
import { GSM8K } from "./gsm8k.ts";
import { HumanEval } from "./humaneval.ts";
import { MMLU } from "./mmlu.ts";
import { SimpleSpelling, SpellingBee } from "./spelling.ts";
import { loadWords } from "./words.ts";

export interface EvalTaskOptions {
  /** Where the downloaded datasets are cached (default data/tasks). */
  dataDir?: string;
}

/** Held-out problems of the generated tasks (test streams never used for training). */
export const OFFLINE_TEST_SIZE = { arithmetic: 200, "spelling-bee": 256, "simple-spelling": 256 };

async function withSource<T>(name: string, o: EvalTaskOptions, make: (rows: Record<string, unknown>[], source: (row: number) => string) => T): Promise<T> {
  const d = await loadDataset(name, o);
  return make(d.rows, d.locate);
}

const EVAL_TASKS: Record<string, { help: string; make(opts: EvalTaskOptions): Promise<Task> }> = {
  "arc-easy": { help: "ARC-Easy test (categorical; download arc-easy-test)", make: async (o) => await withSource("arc-easy-test", o, (rows, source) => new ARC(rows, { name: "arc-easy", source })) },
  "arc-challenge": { help: "ARC-Challenge test (categorical)", make: async (o) => await withSource("arc-challenge-test", o, (rows, source) => new ARC(rows, { name: "arc-challenge", source })) },
  mmlu: { help: "MMLU all/test (categorical)", make: async (o) => await withSource("mmlu-test", o, (rows, source) => new MMLU(rows, { name: "mmlu", source })) },
  gsm8k: { help: "GSM8K test (generative, calculator)", make: async (o) => await withSource("gsm8k-test", o, (rows, source) => new GSM8K(rows, { name: "gsm8k", source })) },
  humaneval: { help: "HumanEval (generative; programs run in a python3 sandbox)", make: async (o) => new HumanEval({ rows: (await loadDataset("humaneval", o)).rows, run: (p) => runPython(p) }) },
  "spelling-bee": { help: "SpellingBee, 256 generated test problems (generative)", make: async () => new SpellingBee(await loadWords(), "test", OFFLINE_TEST_SIZE["spelling-bee"]) },
  "simple-spelling": { help: "SimpleSpelling, 256 generated test words", make: async () => new SimpleSpelling(await loadWords(), "test", OFFLINE_TEST_SIZE["simple-spelling"]) },
  arithmetic: { help: "the generated arithmetic word problems, 200 held out (generative, calculator)", make: () => Promise.resolve(new Arithmetic("test", OFFLINE_TEST_SIZE.arithmetic)) },
  "arithmetic-long": { help: "the same over longer numbers (3–5 digits), 200 held out: RL's offline task", make: () => Promise.resolve(new Arithmetic("test", OFFLINE_TEST_SIZE.arithmetic, {}, "long")) },
};

export const EVAL_TASK_NAMES = Object.keys(EVAL_TASKS);

export function evalTaskHelp(): string {
  return Object.entries(EVAL_TASKS).map(([n, t]) => `  ${n.padEnd(16)} ${t.help}`).join("\n");
}

export async function createEvalTask(name: string, opts: EvalTaskOptions = {}): Promise<Task> {
  const spec = EVAL_TASKS[name];
  if (!spec) throw new TaskError(`unknown task '${name}'; the tasks are: ${EVAL_TASK_NAMES.join(", ")}`);
  return await spec.make(opts);
}
