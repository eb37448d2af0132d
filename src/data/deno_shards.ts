// DENO-ONLY: where the shards live and how Deno code (CLIs, training, benches) gets a
// loader over them. The data directory is, in order of precedence: an explicit path
// (a --dir flag), $NANOCHAT_DATA_DIR, or data/base_data/ in the repository (git-ignored).
// Relative paths are taken from the repository root, as the other `deno task`s do.

import { createLoader, type DataLoader, type LoaderOptions, type LoaderState, splitShards } from "./loader.ts";
import { DataError } from "./errors.ts";
import { openLocalShard } from "./deno_source.ts";

export const DEFAULT_DATA_DIR = "data/base_data";
export const DATA_DIR_ENV = "NANOCHAT_DATA_DIR";
const ROOT = new URL("../../", import.meta.url).pathname;

export function resolveDataDir(flag = ""): string {
  const dir = flag || Deno.env.get(DATA_DIR_ENV) || DEFAULT_DATA_DIR;
  return (dir.startsWith("/") ? dir : `${ROOT}${dir}`).replace(/\/+$/, "");
}

/** Full paths of the *.parquet files in dir, sorted by name; [] when dir does not exist. */
export async function listShardFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (e.isFile && e.name.endsWith(".parquet")) names.push(e.name);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return names.sort().map((n) => `${dir}/${n}`);
}

/** train = all but the last shard, val = the last (the reference split). */
export async function localSplit(dir: string): Promise<{ train: string[]; val: string[] }> {
  const files = await listShardFiles(dir);
  if (files.length === 0) {
    throw new DataError(`no parquet shards in ${dir}: run 'deno task data prepare' (embedded corpus, no network) or 'deno task data download'`, dir);
  }
  if (files.length === 1) {
    throw new DataError(`only one shard in ${dir} (${files[0]}): the last shard is validation, so there is nothing to train on; add shards`, dir);
  }
  return splitShards(files);
}

/** A loader over the local train or val shards of `dir`. */
export async function createLocalLoader(
  dir: string,
  split: "train" | "val",
  opts: Omit<LoaderOptions, "shards" | "open">,
  state?: LoaderState,
): Promise<DataLoader> {
  const shards = (await localSplit(dir))[split];
  return createLoader({ ...opts, shards, open: openLocalShard }, state);
}
