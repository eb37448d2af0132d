// The eval bundle's contents as CORE's tasks, from its three kinds of file (read by the
// caller from wherever they live — deno_core_bundle.ts reads them from disk):
//   core.yaml          icl_tasks: label, dataset_uri, num_fewshot (a number or a list,
//                      the first taken, as the reference), icl_task_type,
//                      continuation_delimiter (default " ")
//   eval_meta_data.csv one row per task: "Eval Task" and "Random baseline" (percent)
//   eval_data/<uri>    JSONL, one item per line, fields by task type
// Each malformed input is a CoreError naming the file, the line or field, and what to do.
import { CORE_TASK_TYPES, CoreError, type CoreItem, type CoreTaskMeta, type CoreTaskType } from "./core.ts";
import { parseYamlSubset, type YamlValue } from "./core_yaml.ts";

export interface CoreTaskSpec {
  meta: Omit<CoreTaskMeta, "randomBaseline">;
  /** The task's JSONL, relative to eval_data/. */
  datasetUri: string;
}

export interface CoreTask {
  meta: CoreTaskMeta;
  datasetUri: string;
  items: CoreItem[];
}

/** What to do about a damaged bundle file; the loader passes its own (e.g. "download the bundle again"). */
export type Fix = string;

/** The tasks core.yaml lists, in its order. */
export function parseCoreYaml(text: string, where: string, fix: Fix): CoreTaskSpec[] {
  const { value, lineOf } = parseYamlSubset(text, where);
  const tasks = (value as Record<string, YamlValue> | null)?.icl_tasks;
  if (!Array.isArray(tasks) || tasks.length === 0) throw new CoreError(`${where}: no icl_tasks list; ${fix}`);
  const seen = new Set<string>();
  return tasks.map((t, i) => {
    const at = `${where} line ${(t && typeof t === "object" && lineOf.get(t)) || "?"} (task ${i + 1})`;
    if (!t || typeof t !== "object" || Array.isArray(t)) throw new CoreError(`${at}: a task must be a mapping of label, dataset_uri, …; ${fix}`);
    const field = (name: string) => {
      const v = t[name];
      if (typeof v !== "string" || !v) throw new CoreError(`${at}: field ${name} is missing or not a string; ${fix}`);
      return v;
    };
    const label = field("label");
    if (seen.has(label)) throw new CoreError(`${at}: task ${label} is listed twice; ${fix}`);
    seen.add(label);
    const datasetUri = field("dataset_uri");
    if (datasetUri.startsWith("/") || datasetUri.split("/").includes("..")) throw new CoreError(`${at}: dataset_uri ${datasetUri} leaves eval_data/; ${fix}`);
    const type = field("icl_task_type");
    if (!CORE_TASK_TYPES.includes(type as CoreTaskType)) {
      throw new CoreError(`${at}: task ${label} has icl_task_type ${type}; CORE knows ${CORE_TASK_TYPES.join(", ")}; ${fix}`);
    }
    const shots = Array.isArray(t.num_fewshot) ? t.num_fewshot[0] : t.num_fewshot;
    if (typeof shots !== "number" || !Number.isInteger(shots) || shots < 0) {
      throw new CoreError(`${at}: task ${label} needs num_fewshot, a non-negative integer or a list of them (got ${JSON.stringify(t.num_fewshot ?? null)}); ${fix}`);
    }
    const delim = t.continuation_delimiter ?? " ";
    if (typeof delim !== "string") throw new CoreError(`${at}: task ${label} has a continuation_delimiter that is not a string; ${fix}`);
    return { meta: { label, type: type as CoreTaskType, numFewshot: shots, delimiter: delim }, datasetUri };
  });
}

/** RFC 4180 CSV: quoted fields with "" for a quote, commas and newlines inside quotes. Rows with their 1-based first line. */
export function parseCsv(text: string, where: string): { line: number; cells: string[] }[] {
  const rows: { line: number; cells: string[] }[] = [];
  let cells: string[] = [], cell = "", quoted = false, line = 1, rowLine = 1, i = 0;
  const s = text.replace(/^\uFEFF/, "");
  const endRow = () => {
    cells.push(cell);
    if (cells.length > 1 || cells[0] !== "") rows.push({ line: rowLine, cells });
    cells = [], cell = "";
  };
  while (i < s.length) {
    const c = s[i];
    if (quoted) {
      if (c === '"' && s[i + 1] === '"') cell += '"', i += 2;
      else if (c === '"') quoted = false, i++;
      else {
        if (c === "\n") line++;
        cell += c, i++;
      }
    } else if (c === '"' && cell === "") quoted = true, i++;
    else if (c === ",") cells.push(cell), cell = "", i++;
    else if (c === "\n" || c === "\r") {
      endRow();
      i += c === "\r" && s[i + 1] === "\n" ? 2 : 1;
      rowLine = ++line;
    } else cell += c, i++;
  }
  if (quoted) throw new CoreError(`${where} line ${rowLine}: a quoted field does not close`);
  if (cell !== "" || cells.length) endRow();
  return rows;
}

/** Task label → random baseline in percent, from eval_meta_data.csv. */
export function parseRandomBaselines(text: string, where: string, fix: Fix): Map<string, number> {
  const rows = parseCsv(text, where);
  if (!rows.length) throw new CoreError(`${where}: empty; ${fix}`);
  const header = rows[0].cells.map((h) => h.trim());
  const task = header.indexOf("Eval Task"), base = header.indexOf("Random baseline");
  if (task < 0 || base < 0) throw new CoreError(`${where}: the header needs columns "Eval Task" and "Random baseline" (it has ${header.map((h) => JSON.stringify(h)).join(", ")}); ${fix}`);
  const out = new Map<string, number>();
  for (const r of rows.slice(1)) {
    const label = (r.cells[task] ?? "").trim(), raw = (r.cells[base] ?? "").trim();
    if (!label) continue;
    const b = Number(raw);
    if (raw === "" || !Number.isFinite(b) || b < 0 || b >= 100) throw new CoreError(`${where} line ${r.line}: task ${label} has Random baseline ${JSON.stringify(raw)}, not a percentage in [0, 100); ${fix}`);
    out.set(label, b);
  }
  return out;
}

const isStr = (v: unknown): v is string => typeof v === "string";
const isStrList = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every(isStr);

/** One JSONL line's item, checked for its task type's fields; null if valid, else what is wrong. */
function itemProblem(type: CoreTaskType, o: Record<string, unknown>): string | null {
  const gold = (n: number) => (Number.isInteger(o.gold) && (o.gold as number) >= 0 && (o.gold as number) < n ? null : `field gold must be an index into the ${n} options, got ${JSON.stringify(o.gold ?? null)}`);
  if (type === "multiple_choice") {
    if (!isStr(o.query)) return "field query is missing or not a string";
    if (!isStrList(o.choices)) return "field choices is missing or not a non-empty list of strings";
    return gold(o.choices.length);
  }
  if (type === "schema") {
    if (!isStrList(o.context_options)) return "field context_options is missing or not a non-empty list of strings";
    if (!isStr(o.continuation)) return "field continuation is missing or not a string";
    return gold(o.context_options.length);
  }
  if (!isStr(o.context)) return "field context is missing or not a string";
  if (!isStr(o.continuation)) return "field continuation is missing or not a string";
  return null;
}

/** The items of a task's JSONL (blank lines skipped), each checked for its type's fields. */
export function parseCoreItems(type: CoreTaskType, text: string, where: string, fix: Fix): CoreItem[] {
  const items: CoreItem[] = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch (err) {
      throw new CoreError(`${where} line ${i + 1}: not valid JSON (${err instanceof Error ? err.message : err}); ${fix}`);
    }
    if (!o || typeof o !== "object" || Array.isArray(o)) throw new CoreError(`${where} line ${i + 1}: a ${type} item must be a JSON object; ${fix}`);
    const problem = itemProblem(type, o as Record<string, unknown>);
    if (problem) throw new CoreError(`${where} line ${i + 1}: ${problem} (a ${type} item); ${fix}`);
    items.push(o as CoreItem);
  });
  if (!items.length) throw new CoreError(`${where}: no items; ${fix}`);
  return items;
}

export interface BundleFiles {
  /** Names for messages. */
  yamlName: string;
  csvName: string;
  /** Reads eval_data/<uri> as text; resolves to null when the file is not there. */
  readData(uri: string): Promise<string | null>;
  dataName(uri: string): string;
}

/**
 * The bundle's tasks (all, or those named in `only`, in core.yaml's order), each with its
 * random baseline and items.
 */
export async function assembleCoreTasks(yamlText: string, csvText: string, files: BundleFiles, fix: Fix, only?: readonly string[]): Promise<CoreTask[]> {
  const specs = parseCoreYaml(yamlText, files.yamlName, fix);
  const baselines = parseRandomBaselines(csvText, files.csvName, fix);
  if (only?.length) {
    const unknown = only.filter((l) => !specs.some((s) => s.meta.label === l));
    if (unknown.length) throw new CoreError(`no CORE task ${unknown.join(", ")} in ${files.yamlName}; its tasks: ${specs.map((s) => s.meta.label).join(", ")}`);
  }
  const out: CoreTask[] = [];
  for (const s of specs) {
    if (only?.length && !only.includes(s.meta.label)) continue;
    const b = baselines.get(s.meta.label);
    if (b === undefined) throw new CoreError(`${files.csvName}: no row for task ${s.meta.label} (its "Random baseline" centres the accuracy); ${fix}`);
    const text = await files.readData(s.datasetUri);
    if (text === null) throw new CoreError(`${files.dataName(s.datasetUri)}: missing (task ${s.meta.label} in ${files.yamlName}); ${fix}`);
    out.push({ meta: { ...s.meta, randomBaseline: b }, datasetUri: s.datasetUri, items: parseCoreItems(s.meta.type, text, files.dataName(s.datasetUri), fix) });
  }
  return out;
}
