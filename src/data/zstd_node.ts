// DENO/NODE-ONLY: zstd compression for writing shards, from node:zlib (Deno supports its
// zstd functions). Browsers have no zstd compressor; they only ever read shards, and
// hyparquet-compressors decompresses zstd everywhere.

import zlib from "node:zlib";
import type { Compressor } from "./shard_writer.ts";

/** zstd at `level` (the reference shards use 3). Deterministic for a given input and level. */
export function zstdCompressor(level = 3): Compressor {
  const params = { [zlib.constants.ZSTD_c_compressionLevel]: level };
  return (input) => {
    const out = zlib.zstdCompressSync(input, { params });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  };
}
