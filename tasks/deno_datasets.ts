// DENO-ONLY: the task datasets on the Hugging Face Hub, cached as their original parquet
// files under data/tasks/<repo>/<path>, and read back as plain rows for the tasks.
//
// Each entry names the exact parquet files of one split (the files the datasets library
// would resolve the same split to) and the columns the task reads. Nothing is fetched unless
// asked: loading a missing file fails with the one command that fetches it, because a
// training run should never start a download (or stall offline) by surprise. Downloads
// go through the shard downloader's downloadFile: resumable, retried, size-checked,
// verified as parquet with the expected columns, renamed into place.
import { type FileMetaData, parquetMetadataAsync, parquetReadObjects, parquetSchema } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { downloadFile, type FetchOptions } from "../src/data/deno_download.ts";
import { fileSource } from "../src/data/deno_source.ts";
import { Progress } from "../src/data/deno_progress.ts";
import { errorMessage } from "../src/util/errors.ts";
import { TaskError } from "./common.ts";

export const HF_DATASETS_URL = "https://huggingface.co/datasets";
export const DEFAULT_TASK_DATA_DIR = "data/tasks";

export interface DatasetSpec {
  /** The Hub dataset repository. */
  repo: string;
  /** Parquet files of the split, in order, as paths inside the repository. */
  files: readonly string[];
  /** Top-level columns the task reads (the files may hold more). */
  columns: readonly string[];
  /** Rows of the split per the dataset card (for listings; not checked). */
  rows: number;
}

const ARC = ["id", "question", "choices", "answerKey"];
const MMLU = ["question", "subject", "choices", "answer"];
const GSM8K = ["question", "answer"];
const SMOLTALK = ["messages"];
const arc = (subset: string, split: string, rows: number): DatasetSpec => ({
  repo: "allenai/ai2_arc",
  files: [`${subset}/${split}-00000-of-00001.parquet`],
  columns: ARC,
  rows,
});

export const DATASETS = {
  "arc-easy-train": arc("ARC-Easy", "train", 2251),
  "arc-easy-validation": arc("ARC-Easy", "validation", 570),
  "arc-easy-test": arc("ARC-Easy", "test", 2376),
  "arc-challenge-train": arc("ARC-Challenge", "train", 1119),
  "arc-challenge-validation": arc("ARC-Challenge", "validation", 299),
  "arc-challenge-test": arc("ARC-Challenge", "test", 1172),
  "mmlu-test": { repo: "cais/mmlu", files: ["all/test-00000-of-00001.parquet"], columns: MMLU, rows: 14042 },
  "mmlu-validation": { repo: "cais/mmlu", files: ["all/validation-00000-of-00001.parquet"], columns: MMLU, rows: 1531 },
  "mmlu-dev": { repo: "cais/mmlu", files: ["all/dev-00000-of-00001.parquet"], columns: MMLU, rows: 285 },
  // The auxiliary_train subset keeps its four fields inside one struct column `train`.
  "mmlu-auxiliary-train": { repo: "cais/mmlu", files: ["auxiliary_train/train-00000-of-00001.parquet"], columns: ["train"], rows: 99842 },
  "gsm8k-train": { repo: "openai/gsm8k", files: ["main/train-00000-of-00001.parquet"], columns: GSM8K, rows: 7473 },
  "gsm8k-test": { repo: "openai/gsm8k", files: ["main/test-00000-of-00001.parquet"], columns: GSM8K, rows: 1319 },
  "smoltalk-train": {
    repo: "HuggingFaceTB/smol-smoltalk",
    files: [0, 1, 2, 3].map((i) => `data/train-0000${i}-of-00004.parquet`),
    columns: SMOLTALK,
    rows: 460341,
  },
  "smoltalk-test": { repo: "HuggingFaceTB/smol-smoltalk", files: ["data/test-00000-of-00001.parquet"], columns: SMOLTALK, rows: 24229 },
  "humaneval": {
    repo: "openai/openai_humaneval",
    files: ["openai_humaneval/test-00000-of-00001.parquet"],
    columns: ["task_id", "prompt", "canonical_solution", "test", "entry_point"],
    rows: 164,
  },
} as const satisfies Record<string, DatasetSpec>;

export type DatasetName = keyof typeof DATASETS;

export interface DatasetFile {
  /** Path inside the repository. */
  file: string;
  url: string;
  /** Where it is cached. */
  path: string;
}

export interface DatasetOptions {
  /** Cache root; default data/tasks. */
  dataDir?: string;
  /** Hub root the URLs start with (a local server in tests); default https://huggingface.co/datasets. */
  baseUrl?: string;
}

export interface LoadOptions extends DatasetOptions, FetchOptions {
  /** Fetch missing files (default false: a missing file is an error naming the command). */
  download?: boolean;
}

/** A dataset's rows, and which file each came from. */
export interface LoadedDataset {
  name: DatasetName;
  rows: Record<string, unknown>[];
  files: { path: string; rows: number }[];
  /** "<file> row <k>" for row i of `rows` (k counts within that file, from 0). */
  locate(row: number): string;
}

export function datasetSpec(name: string): DatasetSpec {
  if (!Object.hasOwn(DATASETS, name)) {
    throw new TaskError(`unknown task dataset '${name}'; the known ones are ${Object.keys(DATASETS).join(", ")}`);
  }
  return DATASETS[name as DatasetName];
}

export function datasetFiles(name: string, opts: DatasetOptions = {}): DatasetFile[] {
  const spec = datasetSpec(name);
  const root = (opts.dataDir ?? DEFAULT_TASK_DATA_DIR).replace(/\/+$/, "");
  const base = (opts.baseUrl ?? HF_DATASETS_URL).replace(/\/+$/, "");
  return spec.files.map((file) => ({ file, url: `${base}/${spec.repo}/resolve/main/${file}`, path: `${root}/${spec.repo}/${file}` }));
}

/** The command that fetches a dataset (what a missing-file error tells the user to run). */
export const downloadCommand = (name: string): string => `deno task data tasks --download ${name}`;

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

const redo = (name: string) => `delete it and run '${downloadCommand(name)}'`;

/** The file's footer, once it is known to be parquet with the columns (else a TaskError naming the file). */
async function openChecked(name: string, path: string, columns: readonly string[]) {
  const source = await fileSource(path);
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(source);
  } catch (err) {
    source.close?.();
    throw new TaskError(`${path}: not a readable parquet file (${errorMessage(err)}); ${redo(name)}`);
  }
  const present = parquetSchema(metadata).children.map((c) => c.element.name);
  const missing = columns.filter((c) => !present.includes(c));
  if (missing.length > 0) {
    source.close?.();
    const list = missing.map((c) => `'${c}'`).join(", ");
    throw new TaskError(`${path}: has no column${missing.length > 1 ? "s" : ""} ${list} (it has ${present.join(", ") || "none"}); is it the right file? ${redo(name)}`);
  }
  return { source, metadata };
}

/** What a download must pass: parquet, with the columns the task reads. */
async function verifyTaskFile(name: string, path: string, columns: readonly string[]): Promise<void> {
  (await openChecked(name, path, columns)).source.close?.();
}

/** Every row group of a cached file, only the task's columns (nested ones as arrays and objects). */
async function readRows(name: string, path: string, columns: readonly string[]): Promise<Record<string, unknown>[]> {
  const { source, metadata } = await openChecked(name, path, columns);
  try {
    return await parquetReadObjects({ file: source, metadata, columns: [...columns], compressors }) as Record<string, unknown>[];
  } catch (err) {
    throw new TaskError(`${path}: cannot decode its rows (${errorMessage(err)}); the file is damaged: ${redo(name)}`);
  } finally {
    source.close?.();
  }
}

/** Fetches the dataset's files that are not cached yet (or no longer verify); returns the paths fetched and those kept. */
export async function downloadDataset(
  name: string,
  opts: DatasetOptions & FetchOptions = {},
): Promise<{ downloaded: string[]; skipped: string[] }> {
  const spec = datasetSpec(name);
  const files = datasetFiles(name, opts);
  const progress = opts.progress ?? new Progress(files.length, { unit: "files" });
  const result = { downloaded: [] as string[], skipped: [] as string[] };
  try {
    for (const f of files) {
      const outcome = await downloadFile(f.url, f.path, {
        ...opts,
        progress,
        verify: (p) => verifyTaskFile(name, p, spec.columns),
        offlineHint: `Without network access, fetch ${f.url} on another machine and copy it to ${f.path}`,
      });
      result[outcome].push(f.path);
    }
  } finally {
    if (!opts.progress) progress.end();
  }
  return result;
}

/**
 * Every row of a dataset, its files read in order (all row groups; the table's columns,
 * nested ones as arrays and objects). Missing files are fetched only with download: true.
 */
export async function loadDataset(name: string, opts: LoadOptions = {}): Promise<LoadedDataset> {
  const spec = datasetSpec(name);
  const files = datasetFiles(name, opts);
  if (opts.download) {
    await downloadDataset(name, opts); // also replaces a cached file that no longer verifies
  } else {
    const absent = [];
    for (const f of files) if (!(await exists(f.path))) absent.push(f);
    if (absent.length > 0) {
      const more = absent.length > 1 ? ` (and ${absent.length - 1} more of its ${files.length} files)` : "";
      throw new TaskError(`${name}: ${absent[0].path} is missing${more}; fetch it with '${downloadCommand(name)}' (from ${absent[0].url})`);
    }
  }
  const rows: Record<string, unknown>[] = [];
  const counts: { path: string; rows: number }[] = [];
  for (const f of files) {
    const part = await readRows(name, f.path, spec.columns);
    counts.push({ path: f.path, rows: part.length });
    for (const r of part) rows.push(r);
  }
  const locate = (row: number): string => {
    let k = row;
    for (const c of counts) {
      if (k < c.rows) return `${c.path} row ${k}`;
      k -= c.rows;
    }
    return `${name} row ${row}`;
  };
  return { name: name as DatasetName, rows, files: counts, locate };
}

/** The rows of a dataset (see loadDataset). */
export async function loadDatasetRows(name: string, opts: LoadOptions = {}): Promise<Record<string, unknown>[]> {
  return (await loadDataset(name, opts)).rows;
}
