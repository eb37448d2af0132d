// Streaming reader for FineWeb-Edu-format shards: parquet files with one string column
// `text`, read one row group at a time. Runtime-agnostic: it reads through a ShardSource
// (sources.ts), so the same code serves local files in Deno, URLs and Files in the browser.
//
// Memory stays bounded by one row group: opening a shard fetches only the footer, and
// readRowGroup(i) fetches only that row group's `text` column chunk. Every failure
// (truncated file, bad footer, missing column, undecodable page) becomes a DataError
// that names the file, the row group where relevant, and what to do about it.

import { type FileMetaData, parquetMetadataAsync, parquetRead, parquetSchema } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { DataError, shardError } from "./errors.ts";
import { errorMessage } from "../util/errors.ts";
import { blobSource, bytesSource, type ShardSource, urlSource } from "./sources.ts";

export const TEXT_COLUMN = "text";
const MAGIC = 0x31524150; // "PAR1" read as a little-endian uint32

export interface ShardInfo {
  name: string;
  byteLength: number;
  numRows: number;
  /** Rows in each row group, in file order. */
  rowGroups: number[];
  /** Compression codec of the `text` column (first row group). */
  codec: string;
}

/** One open parquet shard: validated footer, row groups read on demand. */
export class ParquetShard {
  private constructor(
    readonly source: ShardSource,
    readonly metadata: FileMetaData,
    readonly info: ShardInfo,
  ) {}

  /** Checks magic numbers, footer and schema; throws a DataError naming the file. */
  static async open(source: ShardSource): Promise<ParquetShard> {
    const name = source.name;
    const size = source.byteLength;
    if (size < 12) throw shardError(name, `only ${size} bytes: too short to be a parquet file (truncated or empty)`);
    let head: DataView, tail: DataView;
    try {
      head = new DataView(await source.slice(0, 4));
      tail = new DataView(await source.slice(size - 8, size));
    } catch (err) {
      throw err instanceof DataError ? err : shardError(name, `cannot read (${errorMessage(err)})`);
    }
    if (head.getUint32(0, true) !== MAGIC) throw shardError(name, "does not start with the parquet magic 'PAR1': not a parquet file");
    if (tail.getUint32(4, true) !== MAGIC) {
      throw shardError(name, "does not end with the parquet magic 'PAR1': the file is truncated (an interrupted download or write?)");
    }
    const footerLength = tail.getUint32(0, true);
    if (footerLength > size - 12) throw shardError(name, `footer length ${footerLength} does not fit in a ${size}-byte file: corrupt`);
    let metadata: FileMetaData;
    try {
      metadata = await parquetMetadataAsync(source);
    } catch (err) {
      throw shardError(name, `cannot parse the parquet footer (${errorMessage(err)}): corrupt`);
    }
    const columns = parquetSchema(metadata).children;
    const text = columns.find((c) => c.element.name === TEXT_COLUMN);
    if (!text) {
      const names = columns.map((c) => c.element.name).join(", ") || "none";
      throw shardError(
        name,
        `has no '${TEXT_COLUMN}' column (columns: ${names}); shards need one string column named '${TEXT_COLUMN}' (FineWeb-Edu format)`,
        "",
      );
    }
    if (text.children.length > 0 || text.element.type !== "BYTE_ARRAY") {
      throw shardError(name, `column '${TEXT_COLUMN}' is ${text.element.type ?? "a group"}, not a string (BYTE_ARRAY) column`, "");
    }
    const rowGroups = metadata.row_groups.map((g) => Number(g.num_rows));
    const numRows = Number(metadata.num_rows);
    if (rowGroups.reduce((s, n) => s + n, 0) !== numRows) {
      throw shardError(name, `row groups hold ${rowGroups.reduce((s, n) => s + n, 0)} rows but the footer says ${numRows}: corrupt`);
    }
    const chunk = metadata.row_groups[0]?.columns.find((c) => c.meta_data?.path_in_schema[0] === TEXT_COLUMN);
    const info = { name, byteLength: size, numRows, rowGroups, codec: chunk?.meta_data?.codec ?? "UNCOMPRESSED" };
    return new ParquetShard(source, metadata, info);
  }

  get numRowGroups(): number {
    return this.info.rowGroups.length;
  }

  /** First row of row group i. */
  rowStart(i: number): number {
    let start = 0;
    for (let g = 0; g < i; g++) start += this.info.rowGroups[g];
    return start;
  }

  /** The `text` values of row group i (null values read as ""). */
  async readRowGroup(i: number): Promise<string[]> {
    const name = this.info.name;
    if (!Number.isInteger(i) || i < 0 || i >= this.numRowGroups) {
      throw new DataError(`${name}: no row group ${i} (it has ${this.numRowGroups})`, name);
    }
    const rowStart = this.rowStart(i);
    const rowEnd = rowStart + this.info.rowGroups[i];
    let rows: unknown[][] = [];
    try {
      await parquetRead({
        file: this.source,
        metadata: this.metadata,
        columns: [TEXT_COLUMN],
        rowStart,
        rowEnd,
        compressors,
        onComplete: (r) => (rows = r),
      });
    } catch (err) {
      if (err instanceof DataError) throw err;
      throw shardError(name, `row group ${i} of ${this.numRowGroups} cannot be decoded (${errorMessage(err)}): the file is corrupt`);
    }
    if (rows.length !== rowEnd - rowStart) {
      throw shardError(name, `row group ${i} gave ${rows.length} rows, the footer says ${rowEnd - rowStart}: corrupt`);
    }
    const utf8 = new TextDecoder();
    return rows.map(([v]) => (typeof v === "string" ? v : v instanceof Uint8Array ? utf8.decode(v) : v == null ? "" : String(v)));
  }

  close(): void {
    this.source.close?.();
  }
}

/**
 * Anything readTextBatches accepts: an http(s) URL, a File/Blob, bytes or a ready source.
 * Local files are a source too: fileSource(path) in deno_source.ts (Deno-only, so the
 * browser bundle never carries it).
 */
export type ShardInput = string | URL | Blob | Uint8Array | ArrayBuffer | ShardSource;

/** A ShardSource for any input. */
// deno-lint-ignore require-await -- async so that a bad input rejects instead of throwing
export async function openSource(input: ShardInput): Promise<ShardSource> {
  if (input instanceof URL || (typeof input === "string" && /^https?:\/\//.test(input))) return urlSource(input);
  if (typeof input === "string") {
    throw new DataError(`${input}: a local path is read through fileSource() of src/data/deno_source.ts (Deno), not by URL`, input);
  }
  if (input instanceof Uint8Array || input instanceof ArrayBuffer) return bytesSource(input);
  if (typeof Blob !== "undefined" && input instanceof Blob) return blobSource(input);
  return input as ShardSource;
}

export async function openShard(input: ShardInput): Promise<ParquetShard> {
  const source = await openSource(input);
  try {
    return await ParquetShard.open(source);
  } catch (err) {
    source.close?.();
    throw err;
  }
}

/**
 * The `text` column one row group at a time. `rowGroups` picks which ones, e.g. the
 * rank-strided r, r+W, ...
 */
export async function* readTextBatches(input: ShardInput, opts: { rowGroups?: Iterable<number> } = {}): AsyncGenerator<string[]> {
  const shard = await openShard(input);
  try {
    const groups = opts.rowGroups ?? shard.info.rowGroups.keys();
    for (const g of groups) yield await shard.readRowGroup(g);
  } finally {
    shard.close();
  }
}
