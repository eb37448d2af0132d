// The runs trained in the tab, kept in IndexedDB as the files a run directory holds under
// Deno — runs/<run>/run.json, metrics.jsonl, tokenizer/, checkpoints/step_NNNNNN/{model,
// optim}.safetensors + meta.json — so a download is that directory as it is, and
// `deno task chat --checkpoint` or `train base --resume` take it unchanged.
//
// A checkpoint is written in one IndexedDB transaction together with the metrics up to its
// step and run.json: it appears whole or not at all, and the log never runs ahead of the
// weights a resume continues from. Both the page and its training worker open the store.
import { createStore, del, delMany, get, keys, set, setMany, type UseStore } from "idb-keyval";
import { encodeCheckpoint, type CheckpointData, decodeCheckpoint, type LoadedCheckpoint, selectCheckpoints, stepDirName } from "../../src/formats/checkpoint.ts";
import { formatMetricsLine, type MetricsRecord, readMetrics, type RunInfo, validateRunInfo } from "../../src/formats/metrics.ts";
import { concatChunks, zipChunks } from "../../src/formats/zip.ts";
import { FileNotFound, type FileStore } from "../../src/io/files.ts";

export const TRAIN_DB = "nanochat-lab-train";
const utf8 = new TextEncoder();

/** A FileStore over IndexedDB: keys are paths, values the files' bytes. */
export class IdbFileStore implements FileStore {
  constructor(private store: UseStore = createStore(TRAIN_DB, "files")) {}

  async read(path: string): Promise<Uint8Array> {
    const v = await get<Uint8Array>(path, this.store);
    if (v === undefined) throw new FileNotFound(path, "not in this browser's trained runs");
    return v;
  }

  /** One IndexedDB put is one transaction: readers see the old or the new file. */
  writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
    return set(path, bytes, this.store);
  }

  /** Several files in one transaction: all of them land, or none. */
  writeAll(files: [string, Uint8Array][]): Promise<void> {
    return setMany(files, this.store);
  }

  /** Every stored path under `dir/`. */
  async paths(dir: string): Promise<string[]> {
    const prefix = `${dir.replace(/\/+$/, "")}/`;
    return ((await keys(this.store)) as string[]).filter((k) => typeof k === "string" && k.startsWith(prefix)).sort();
  }

  async list(dir: string): Promise<string[]> {
    const prefix = `${dir.replace(/\/+$/, "")}/`;
    return [...new Set((await this.paths(dir)).map((p) => p.slice(prefix.length).split("/")[0]))].sort();
  }

  async exists(path: string): Promise<boolean> {
    return (await get(path, this.store)) !== undefined;
  }

  remove(path: string): Promise<void> {
    return del(path, this.store);
  }

  async removeTree(dir: string): Promise<void> {
    await delMany(await this.paths(dir), this.store);
  }
}

export const runDirOf = (run: string) => `runs/${run}`;
const checkpointsOf = (run: string) => `${runDirOf(run)}/checkpoints`;

/** A run kept in this browser. */
export interface LocalRun {
  info: RunInfo;
  records: MetricsRecord[];
  /** Steps of its checkpoints, ascending. */
  checkpoints: number[];
}

/** The runs with a run.json, by name. */
export async function localRunNames(store: IdbFileStore): Promise<string[]> {
  const names: string[] = [];
  for (const n of await store.list("runs")) if (await store.exists(`${runDirOf(n)}/run.json`)) names.push(n);
  return names;
}

async function readText(store: IdbFileStore, path: string): Promise<string | null> {
  return await store.read(path).then((b) => new TextDecoder().decode(b), (err) => {
    if (err instanceof FileNotFound) return null;
    throw err;
  });
}

export async function readLocalRun(store: IdbFileStore, run: string): Promise<LocalRun | null> {
  const infoText = await readText(store, `${runDirOf(run)}/run.json`);
  if (infoText === null) return null;
  const info = validateRunInfo(JSON.parse(infoText), `${runDirOf(run)}/run.json (this browser's IndexedDB)`);
  const records = readMetrics((await readText(store, `${runDirOf(run)}/metrics.jsonl`)) ?? "");
  return { info, records, checkpoints: await checkpointSteps(store, run) };
}

export async function checkpointSteps(store: IdbFileStore, run: string): Promise<number[]> {
  return [...selectCheckpoints(await store.list(checkpointsOf(run))).keys()].sort((a, b) => a - b);
}

export async function readLocalCheckpoint(store: IdbFileStore, run: string, step: number): Promise<LoadedCheckpoint> {
  const dir = `${checkpointsOf(run)}/${stepDirName(step)}`;
  return await decodeCheckpoint((name) => store.read(`${dir}/${name}`).catch((err) => (err instanceof FileNotFound ? null : Promise.reject(err))), dir);
}

/** The records a resume from step `step` keeps: those logged before it (the loop logs the rest again). */
export function recordsBefore(records: readonly MetricsRecord[], step: number): MetricsRecord[] {
  return records.filter((r) => !(typeof r.step === "number" && r.step >= step));
}

export const runInfoBytes = (info: RunInfo) => utf8.encode(JSON.stringify(validateRunInfo(info), null, 2) + "\n");
export const metricsBytes = (records: readonly MetricsRecord[]) => utf8.encode(records.map(formatMetricsLine).join(""));

/**
 * Saves step `step` with the metrics so far and run.json in one transaction; then deletes
 * the oldest checkpoints beyond keepLast (> 0), as `train base` does.
 */
export async function saveLocalCheckpoint(
  store: IdbFileStore, run: string, step: number, data: CheckpointData, records: readonly MetricsRecord[], info: RunInfo, keepLast: number,
): Promise<void> {
  const dir = `${checkpointsOf(run)}/${stepDirName(step)}`;
  const files: [string, Uint8Array][] = encodeCheckpoint(step, data).map((f) => [`${dir}/${f.name}`, concatChunks(f.chunks)]);
  files.push([`${runDirOf(run)}/metrics.jsonl`, metricsBytes(records)], [`${runDirOf(run)}/run.json`, runInfoBytes(info)]);
  await store.writeAll(files); // a step saved again (a stop right after a resume) is overwritten whole
  if (keepLast > 0) {
    const older = (await checkpointSteps(store, run)).filter((s) => s !== step);
    for (const s of older.slice(0, Math.max(0, older.length - (keepLast - 1)))) await store.removeTree(`${checkpointsOf(run)}/${stepDirName(s)}`);
  }
}

/** The run directory as a ZIP (stored entries) whose top folder is the run's name: unzip it into runs/. */
export async function zipLocalRun(store: IdbFileStore, run: string): Promise<Blob> {
  const files: { name: string; data: Uint8Array }[] = [];
  for (const path of await store.paths(runDirOf(run))) files.push({ name: path.slice("runs/".length), data: await store.read(path) });
  return new Blob(zipChunks(files) as BlobPart[], { type: "application/zip" });
}
