// Writes shards in the reference schema: one required string column `text`, fixed-size
// row groups, one codec. Runtime-agnostic: it returns the file's bytes and the caller
// stores them (atomically). hyparquet-writer compresses SNAPPY itself; other codecs need
// a compressor passed in (zstd comes from node:zlib in zstd_node.ts, Deno/Node only).

import { parquetWriteBuffer } from "hyparquet-writer";

export type ShardCodec = "UNCOMPRESSED" | "SNAPPY" | "ZSTD" | "GZIP";
export type Compressor = (input: Uint8Array) => Uint8Array;

export interface ShardWriteOptions {
  /** Rows per row group (the reference uses 1024). */
  rowGroupSize?: number;
  codec?: ShardCodec;
  /** Compressors by codec, for codecs other than UNCOMPRESSED and SNAPPY. */
  compressors?: Partial<Record<ShardCodec, Compressor>>;
  /** Extra columns (tests: shards with more than `text`, or without it). */
  extraColumns?: { name: string; data: string[] }[];
  /** Leave out the `text` column (tests of the missing-column error). */
  omitText?: boolean;
}

/** The bytes of a parquet file holding `texts`; the same input always gives the same bytes. */
export function encodeShard(texts: readonly string[], opts: ShardWriteOptions = {}): Uint8Array {
  const codec = opts.codec ?? "ZSTD";
  const rowGroupSize = opts.rowGroupSize ?? 1024;
  if (!Number.isInteger(rowGroupSize) || rowGroupSize < 1) throw new Error(`rowGroupSize must be a positive integer, got ${rowGroupSize}`);
  if (codec !== "UNCOMPRESSED" && codec !== "SNAPPY" && !opts.compressors?.[codec]) {
    throw new Error(`no compressor for ${codec}: pass compressors.${codec} (e.g. zstdCompressor() from src/data/zstd_node.ts)`);
  }
  const columnData = [
    ...(opts.omitText ? [] : [{ name: "text", data: [...texts], type: "STRING" as const, nullable: false }]),
    ...(opts.extraColumns ?? []).map((c) => ({ name: c.name, data: [...c.data], type: "STRING" as const, nullable: false })),
  ];
  const buffer = parquetWriteBuffer({
    columnData,
    codec,
    compressors: opts.compressors,
    rowGroupSize,
    createdBy: "webgpu-nanochat",
  });
  return new Uint8Array(buffer);
}
