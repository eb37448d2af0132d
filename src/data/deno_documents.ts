// DENO-ONLY: documents for `deno task tok train|eval` (and the tokenizer bench) from
// local files. Sources yield batches of documents (string[]):
//   - parquet shards in data/base_data/, one batch per row group of the `text` column
//   - text files: .txt (documents of whole paragraphs, up to doc-cap characters each, so
//     the blank lines between paragraphs stay in the training text) and .jsonl (one JSON
//     object per line with a "text" field).
import { readShardFile } from "./deno_source.ts";
import { DEFAULT_DATA_DIR, listShardFiles } from "./deno_shards.ts";
import { DataError } from "./errors.ts";

export { DEFAULT_DATA_DIR };

export type DocBatches = AsyncIterable<string[]>;

/** Parquet shards in `dir`, sorted; the last one is validation, the rest train (as the reference). */
export async function listShards(dir: string): Promise<{ train: string[]; val: string | null }> {
  const paths = await listShardFiles(dir.replace(/\/+$/, ""));
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
    if (err instanceof Deno.errors.NotFound) throw new DataError(`input file not found: ${path}`, path);
    throw new DataError(`cannot read input file ${path}: ${(err as Error).message}`, path);
  }
}

/** Documents of .txt / .jsonl / .parquet files, one batch per file (per 1024 jsonl lines, per row group). */
export async function* textFileBatches(paths: readonly string[], docCap: number): DocBatches {
  for (const path of paths) {
    if (path.endsWith(".parquet")) {
      yield* readShardFile(path);
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
        throw new DataError(`${path} line ${i + 1} is not JSON`, path);
      }
      if (typeof doc !== "string") throw new DataError(`${path} line ${i + 1} has no string "text" field`, path);
      batch.push(doc);
      if (batch.length === 1024) yield batch, batch = [];
    }
    if (batch.length) yield batch;
  }
}

/** Documents of the train shards (all but the last), one batch per row group. */
export async function* shardBatches(dataDir: string): DocBatches {
  const { train } = await listShards(dataDir);
  for (const path of train) yield* readShardFile(path);
}
