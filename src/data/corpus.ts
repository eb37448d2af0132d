// The embedded corpus as shards in the reference format. Pure and deterministic: the
// same corpus files and options give the same documents, order and shard bytes.
//
//   1. Each Brown file becomes documents of whole paragraphs (~2,000 characters each).
//   2. Train/validation are split by *file*, ~5% of each genre to validation, so no
//      validation paragraph comes from a text the model trained on.
//   3. Documents are shuffled with a fixed seed (the reference shuffles with seed 42).
//   4. Train shards close once they hold >= shardChars characters and a whole number of
//      row groups (the reference rule, scaled down); validation is one last shard.

import { Rng } from "../util/rng.ts";
import { brownGenre, brownParagraphs, groupParagraphs, isBrownFile } from "./brown.ts";
import { type Compressor, encodeShard, type ShardCodec } from "./shard_writer.ts";

export interface CorpusFile {
  name: string;
  text: string;
}

export interface CorpusOptions {
  seed: number;
  /** Target document size in characters (whole paragraphs). */
  docChars: number;
  /** Rows per row group. The reference uses 1024; the corpus has ~2,700 documents, so smaller. */
  rowGroupSize: number;
  /** A train shard closes at >= this many characters (and a whole number of row groups). */
  shardChars: number;
  /** Fraction of each genre's files that goes to validation (at least one file per genre). */
  valFraction: number;
  codec: ShardCodec;
}

export const DEFAULT_CORPUS_OPTIONS: CorpusOptions = {
  seed: 42,
  docChars: 2000,
  rowGroupSize: 128,
  shardChars: 1_500_000,
  valFraction: 0.05,
  codec: "ZSTD",
};

export interface ShardPlan {
  name: string;
  split: "train" | "val";
  docs: string[];
  chars: number;
}

export interface CorpusPlan {
  shards: ShardPlan[];
  valFiles: string[];
  files: number;
  docs: number;
  chars: number;
}

/** Reference shard names: shard_00000.parquet, shard_00001.parquet, ... */
export function shardName(index: number): string {
  return `shard_${String(index).padStart(5, "0")}.parquet`;
}

/** Validation files: a seeded pick of ~valFraction of each genre (at least one). */
export function pickValFiles(names: readonly string[], seed: number, valFraction: number): Set<string> {
  const byGenre = new Map<string, string[]>();
  for (const n of [...names].sort()) {
    const g = brownGenre(n);
    byGenre.set(g, [...(byGenre.get(g) ?? []), n]);
  }
  const rng = new Rng(seed);
  const val = new Set<string>();
  for (const g of [...byGenre.keys()].sort()) {
    const files = rng.shuffle([...byGenre.get(g)!]);
    const k = Math.max(1, Math.round(files.length * valFraction));
    for (const f of files.slice(0, k)) val.add(f);
  }
  return val;
}

/** Documents, split and shard assignment, without writing anything. */
export function planCorpus(files: readonly CorpusFile[], opts: CorpusOptions = DEFAULT_CORPUS_OPTIONS): CorpusPlan {
  const usable = files.filter((f) => isBrownFile(f.name)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (usable.length < 2) throw new Error(`the corpus needs at least 2 text files (named like ca01), got ${usable.length}`);
  const valFiles = pickValFiles(usable.map((f) => f.name), opts.seed, opts.valFraction);
  const train: string[] = [], val: string[] = [];
  for (const f of usable) {
    const docs = groupParagraphs(brownParagraphs(f.text), opts.docChars);
    (valFiles.has(f.name) ? val : train).push(...docs);
  }
  // One generator, train first then val: adding a file changes everything, but the same
  // files always give the same order.
  const rng = new Rng(opts.seed);
  rng.shuffle(train);
  rng.shuffle(val);

  const shards: ShardPlan[] = [];
  let cur: string[] = [], chars = 0;
  const close = (split: "train" | "val") => {
    shards.push({ name: shardName(shards.length), split, docs: cur, chars });
    cur = [];
    chars = 0;
  };
  for (const d of train) {
    cur.push(d);
    chars += d.length;
    if (chars >= opts.shardChars && cur.length % opts.rowGroupSize === 0) close("train");
  }
  if (cur.length > 0) close("train");
  cur = val;
  chars = val.reduce((s, d) => s + d.length, 0);
  close("val");
  const all = shards.reduce((s, p) => s + p.docs.length, 0);
  return { shards, valFiles: [...valFiles].sort(), files: usable.length, docs: all, chars: shards.reduce((s, p) => s + p.chars, 0) };
}

/** The parquet bytes of one planned shard. */
export function encodePlannedShard(
  plan: ShardPlan,
  opts: CorpusOptions,
  compressors: Partial<Record<ShardCodec, Compressor>> = {},
): Uint8Array {
  return encodeShard(plan.docs, { rowGroupSize: opts.rowGroupSize, codec: opts.codec, compressors });
}
