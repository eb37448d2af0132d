// DENO-ONLY: document sources for `deno task tok train|eval` (reads files with Deno APIs).
// The browser never imports this module; everything else in src/tokenizer/ is portable.
//
// Sources yield batches of documents (string[]):
//   - parquet shards in data/base_data/ through the data package's reader (see shardReader)
//   - text files: .txt (documents of whole paragraphs, up to doc-cap characters each, so
//     the blank lines between paragraphs stay in the training text) and .jsonl (one JSON
//     object per line with a "text" field).

import { TokenizerError } from "./tokenizer.ts";

export type DocBatches = AsyncIterable<string[]>;
/** One batch per row group of the parquet file's `text` column. */
export type ShardReader = (path: string) => DocBatches;

/** Default shard directory, relative to the repository root. */
export const DEFAULT_DATA_DIR = "data/base_data";

/**
 * The data package's streaming parquet reader, when it is built. Contract expected from
 * src/data/parquet.ts: `export function readTextBatches(path: string): AsyncIterable<string[]>`
 * yielding the `text` column one row group at a time. Returns null when absent.
 */
export async function shardReader(): Promise<ShardReader | null> {
  const url = new URL("../data/parquet.ts", import.meta.url).href; // computed: optional module
  try {
    const mod = await import(url);
    return typeof mod.readTextBatches === "function" ? (mod.readTextBatches as ShardReader) : null;
  } catch {
    return null;
  }
}

/** Parquet shards in `dir`, sorted; the last one is validation, the rest train (as the reference). */
export async function listShards(dir: string): Promise<{ train: string[]; val: string | null }> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (e.isFile && e.name.endsWith(".parquet")) names.push(e.name);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const paths = names.sort().map((n) => `${dir.replace(/\/+$/, "")}/${n}`);
  return { train: paths.slice(0, -1), val: paths.length ? paths[paths.length - 1] : null };
}

/** Splits a text file into documents of whole paragraphs of at most ~docCap characters. */
export function paragraphDocuments(text: string, docCap: number): string[] {
  const docs: string[] = [];
  let cur = "";
  // Split after each blank line, keeping it with the paragraph before: the pieces
  // concatenate back to the file exactly.
  for (const piece of text.split(/(?<=\n[ \t\r]*\n)/)) {
    if (cur.length > 0 && cur.length + piece.length > docCap) {
      docs.push(cur);
      cur = "";
    }
    cur += piece;
  }
  if (cur.length > 0) docs.push(cur);
  return docs;
}

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new TokenizerError(`input file not found: ${path}`);
    throw new TokenizerError(`cannot read input file ${path}: ${(err as Error).message}`);
  }
}

/** Documents of .txt / .jsonl files, one batch per file (or per 1024 jsonl lines). */
export async function* textFileBatches(paths: readonly string[], docCap: number): DocBatches {
  for (const path of paths) {
    if (path.endsWith(".parquet")) {
      const read = await shardReader();
      if (!read) throw new TokenizerError(`${path}: reading parquet needs src/data/parquet.ts (readTextBatches), which is not built yet`);
      yield* read(path);
      continue;
    }
    const text = await readText(path);
    if (!path.endsWith(".jsonl")) {
      yield paragraphDocuments(text, docCap);
      continue;
    }
    let batch: string[] = [];
    for (const [i, line] of text.split("\n").entries()) {
      if (line.trim() === "") continue;
      let doc: unknown;
      try {
        doc = (JSON.parse(line) as { text?: unknown }).text;
      } catch {
        throw new TokenizerError(`${path} line ${i + 1} is not JSON`);
      }
      if (typeof doc !== "string") throw new TokenizerError(`${path} line ${i + 1} has no string "text" field`);
      batch.push(doc);
      if (batch.length === 1024) yield batch, batch = [];
    }
    if (batch.length) yield batch;
  }
}

/** Documents of the train shards (all but the last), one batch per row group. */
export async function* shardBatches(dataDir: string, read: ShardReader): DocBatches {
  const { train } = await listShards(dataDir);
  for (const path of train) yield* read(path);
}
