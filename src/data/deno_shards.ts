// DENO-ONLY: where the shards live and how Deno code (CLIs, training, benches) gets a
// loader over them. The data directory is, in order of precedence: an explicit path
// (a --dir flag), $NANOCHAT_DATA_DIR, or data/base_data/ in the repository (git-ignored).
// Relative paths are taken from the repository root, as the other `deno task`s do.

import { createLoader, type DataLoader, type LoaderOptions, type LoaderState, splitShards } from "./loader.ts";
import { DataError } from "./errors.ts";
import { openLocalShard } from "./deno_source.ts";
import { MANIFEST, type Manifest, MANIFEST_FORMAT, sha256Hex } from "./prepare.ts";
import type { ShardSource } from "./sources.ts";
import { DOWNLOADS, readDownloads } from "./deno_download.ts";

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

// ---------------------------------------------------------------- verified opening
//
// A few flipped bytes inside a data page still decode (into changed text), so the parquet
// checks alone cannot catch them. The manifest `data prepare` writes records each shard's
// size and SHA-256 (and downloads.json does the same for `data download`'s shards); the
// first time a process opens a shard (of a given size and mtime) it hashes the whole file
// and compares, before any of its rows reach the loader.

/** Shards already verified in this process: path → "size:mtime" of the verified file. */
const verified = new Map<string, string>();
/** Directories we have already said are not verifiable (said once per process). */
const unverifiable = new Set<string>();

async function readManifestOf(dir: string): Promise<Manifest | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/${MANIFEST}`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new DataError(`${dir}/${MANIFEST}: cannot read (${(err as Error).message})`, `${dir}/${MANIFEST}`);
  }
  try {
    const m = JSON.parse(text) as Manifest;
    if (m?.format === MANIFEST_FORMAT && Array.isArray(m.shards)) return m;
  } catch { /* reported below */ }
  throw new DataError(`${dir}/${MANIFEST} is not a shard manifest of this lab; rebuild the shards with 'deno task data prepare --dir ${dir}'`, `${dir}/${MANIFEST}`);
}

/** What vouches for a shard: its size and SHA-256, the file that records them, and how to get a good copy. */
interface Vouch {
  entry: { bytes: number; sha256?: string } | undefined;
  file: string;
  fix: string;
  /** Said once per directory when the entry has no hash. */
  noHash: string;
}

async function vouchFor(dir: string, name: string): Promise<Vouch | null> {
  const manifest = await readManifestOf(dir);
  if (manifest) {
    return {
      entry: manifest.shards.find((s) => s.name === name),
      file: MANIFEST,
      fix: `rebuild the shards with 'deno task data prepare --dir ${dir}' (it notices the damage and rebuilds), or delete the file and re-download it with 'deno task data download --dir ${dir}' if it was downloaded`,
      noHash: `note: ${dir}/${MANIFEST} has no SHA-256 for ${name} (and maybe others): those shards are used unverified; 'deno task data prepare --dir ${dir} --force' rebuilds them with hashes`,
    };
  }
  const downloads = await readDownloads(dir);
  if (downloads) {
    return {
      entry: downloads.shards.find((s) => s.name === name),
      file: DOWNLOADS,
      fix: `run 'deno task data download --dir ${dir}' with the same --shards again (it re-checks every shard and fetches a damaged one again)`,
      noHash: `note: ${dir}/${DOWNLOADS} has no entry for ${name} (and maybe others): those shards are used unverified; 'deno task data download --dir ${dir}' with the same --shards records them`,
    };
  }
  return null;
}

/**
 * Checks `path` (a shard of `dir`) against its manifest.json (data prepare) or
 * downloads.json (data download) entry: size, then SHA-256. Throws a DataError naming the
 * shard and how to get a good copy. Shards nothing vouches for (a directory without
 * either file, or an entry without a hash) are said once and let through.
 */
export async function verifyShard(path: string, warn: (line: string) => void = console.warn): Promise<void> {
  const st = await Deno.stat(path);
  const key = `${st.size}:${st.mtime?.getTime()}`;
  if (verified.get(path) === key) return;
  const dir = path.slice(0, path.lastIndexOf("/")), name = path.slice(path.lastIndexOf("/") + 1);
  const vouch = await vouchFor(dir, name);
  const entry = vouch?.entry;
  if (!vouch || !entry || typeof entry.sha256 !== "string") {
    if (!unverifiable.has(dir)) {
      unverifiable.add(dir);
      warn(vouch ? vouch.noHash : `note: ${dir} has no ${MANIFEST} or ${DOWNLOADS}, so its shards' contents cannot be verified`);
    }
    return;
  }
  const bytes = await Deno.readFile(path);
  if (bytes.length !== entry.bytes) throw new DataError(`${path}: has ${bytes.length} bytes, but ${vouch.file} says ${entry.bytes} (truncated or changed); ${vouch.fix}`, path);
  if ((await sha256Hex(bytes)) !== entry.sha256) {
    throw new DataError(`${path}: its contents do not match the SHA-256 in ${dir}/${vouch.file} (the file is corrupt or was changed); ${vouch.fix}`, path);
  }
  verified.set(path, key);
}

/** Opens a local shard after verifying it (the loader's `open` for training and evaluation). */
export async function openVerifiedShard(path: string): Promise<ShardSource> {
  await verifyShard(path);
  return openLocalShard(path);
}

/** A loader over the local train or val shards of `dir`; each shard is verified when first opened. */
export async function createLocalLoader(
  dir: string,
  split: "train" | "val",
  opts: Omit<LoaderOptions, "shards" | "open">,
  state?: LoaderState,
): Promise<DataLoader> {
  const shards = (await localSplit(dir))[split];
  return createLoader({ ...opts, shards, open: openVerifiedShard }, state);
}
