// Public surface of the data package that runs anywhere (Deno and the browser). The
// Deno-only helpers are imported from their own modules: deno_source.ts (local files),
// deno_shards.ts (data directory, createLocalLoader), deno_corpus.ts, deno_download.ts.
export { DataError } from "./errors.ts";
export { blobSource, bytesSource, type OpenShard, type ShardSource, urlSource } from "./sources.ts";
export { openShard, openSource, ParquetShard, readTextBatches, type ShardInfo, type ShardInput, TEXT_COLUMN } from "./parquet.ts";
export { encodeShard, type ShardCodec, type ShardWriteOptions } from "./shard_writer.ts";
export { type Batch, toBatch, TokenQueue } from "./packing.ts";
export { createLoader, type DataLoader, type FlatIds, type LoaderOptions, type LoaderState, splitShards, type TokenizerLike } from "./loader.ts";
export { type ConversationSource, type MidBatch, MidPacker, type MidState, type RenderedLike, sftBatch, sftBatches } from "./chat_batches.ts";
export { type CorpusFile, type CorpusOptions, DEFAULT_CORPUS_OPTIONS, planCorpus, shardName } from "./corpus.ts";
export { MANIFEST, type Manifest, prepareCorpus, type PrepareResult } from "./prepare.ts";
