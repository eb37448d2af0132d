// `deno task bench data`: how fast the pretraining loader delivers tokens, next to how
// fast the tiny model consumes them (default 2,000 tokens/s on a software adapter,
// --model-tps), so the loader is never the bottleneck.
//
// Shards: --dir, else the data directory if it has shards, else the embedded corpus is
// prepared into a temporary directory. Rows: parquet decoding alone; the loader with a
// byte-level encoder (ids = UTF-8 bytes: parquet + packing cost only); the loader with
// the BPE tokenizer from src/tokenizer/ (loaded from --tokenizer-dir, or trained on
// the first train shard), in this thread and in workers (EncoderPool).
import { parseFlags, UsageError } from "../args.ts";
import { denoFiles } from "../../io/deno_files.ts";
import { createLoader, type LoaderOptions, type TokenizerLike } from "../../data/loader.ts";
import { openLocalShard, openShardFile } from "../../data/deno_source.ts";
import { listShardFiles, localSplit, resolveDataDir } from "../../data/deno_shards.ts";
import { prepareCorpus } from "../../data/prepare.ts";
import { locateCorpus, readCorpusFiles } from "../../data/deno_corpus.ts";
import { zstdCompressor } from "../../data/zstd_node.ts";

const FLAGS = {
  dir: { type: "string", default: "", help: "shard directory (default: the data directory, else the embedded corpus in a temp dir)" },
  batch: { type: "number", default: 8, help: "B, rows per batch" },
  seq: { type: "number", default: 256, help: "T, tokens per row" },
  seconds: { type: "number", default: 3, help: "time budget per row (stops earlier after one pass over the train shards)" },
  "model-tps": { type: "number", default: 2000, help: "tokens/s the model consumes (tiny config on a software adapter)" },
  workers: { type: "number", default: 2, help: "workers for the pooled BPE row (0 skips it)" },
  "tokenizer-dir": { type: "string", default: "data/tokenizer", help: "trained tokenizer to use; trained on the fly (vocab 4096) when absent" },
} as const;

const ROOT = new URL("../../../", import.meta.url).pathname;
const int = (n: number) => Math.round(n).toLocaleString("en-US");

class ByteTokenizer implements TokenizerLike {
  readonly bosId = 256;
  private enc = new TextEncoder();
  encodeOrdinary(text: string): number[] {
    return Array.from(this.enc.encode(text));
  }
}

interface Row {
  name: string;
  tokensPerSec: number;
  detail: string;
}

async function shardDir(flag: string): Promise<{ dir: string; cleanup: () => Promise<void>; what: string }> {
  const dir = flag ? resolveDataDir(flag) : resolveDataDir();
  if ((await listShardFiles(dir)).length >= 2) return { dir, cleanup: async () => {}, what: dir };
  if (flag) throw new UsageError(`no shards in ${dir}: run 'deno task data prepare --dir ${flag}' first`);
  const tmp = await Deno.makeTempDir({ prefix: "bench-data-" });
  const corpus = await locateCorpus();
  await prepareCorpus({
    store: denoFiles(),
    dir: tmp,
    source: corpus.source,
    loadFiles: () => readCorpusFiles(corpus),
    compressors: { ZSTD: zstdCompressor(3) },
  });
  return { dir: tmp, cleanup: () => Deno.remove(tmp, { recursive: true }), what: `${corpus.source} prepared into a temp dir` };
}

async function timeLoader(opts: LoaderOptions, seconds: number): Promise<{ tps: number; batches: number; firstMs: number }> {
  const t0 = performance.now();
  const loader = await createLoader({ ...opts, maxEpochs: 1 });
  let batches = 0, firstMs = 0;
  try {
    for (;;) {
      const b = await loader.next();
      if (!b) break;
      if (batches++ === 0) firstMs = performance.now() - t0;
      if (performance.now() - t0 > seconds * 1000) break;
    }
  } finally {
    loader.close();
  }
  return { tps: loader.tokensServed / ((performance.now() - t0) / 1000), batches, firstMs };
}

/** The BPE tokenizer, if src/tokenizer/ is there: a saved one, else one trained on `texts`. */
async function bpe(dir: string, texts: () => Promise<string[]>) {
  let mod: typeof import("../../tokenizer/mod.ts");
  try {
    mod = await import(new URL("../../tokenizer/mod.ts", import.meta.url).href);
  } catch {
    return null;
  }
  const path = dir.startsWith("/") ? dir : `${ROOT}${dir}`;
  try {
    return { tok: await mod.loadTokenizer(denoFiles(), path), how: `loaded from ${path}`, mod };
  } catch {
    const t0 = performance.now();
    const tok = mod.Tokenizer.train(await texts(), 4096);
    return { tok, how: `vocab 4096 trained on the first train shard in ${((performance.now() - t0) / 1000).toFixed(1)} s`, mod };
  }
}

export async function main(args: string[]): Promise<void> {
  const parsed = parseFlags(args, "bench data", "Data loader throughput (tokens/s) vs what the model consumes.", FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  for (const k of ["batch", "seq", "seconds", "model-tps"] as const) if (!(f[k] > 0)) throw new UsageError(`--${k} must be positive, got ${f[k]}`);
  const { dir, cleanup, what } = await shardDir(f.dir);
  try {
    const { train } = await localSplit(dir);
    console.log(`[bench data] ${train.length} train shards from ${what}; B=${f.batch} T=${f.seq}; up to ${f.seconds} s per row`);
    const rows: Row[] = [];

    // Parquet decoding alone (no tokenizing): characters per second.
    let chars = 0, docs = 0;
    const t0 = performance.now();
    for (const path of train) {
      const shard = await openShardFile(path);
      for (let g = 0; g < shard.numRowGroups; g++) for (const d of await shard.readRowGroup(g)) chars += d.length, docs++;
      shard.close();
    }
    const parquetSecs = (performance.now() - t0) / 1000;
    console.log(`parquet read: ${int(docs)} docs, ${int(chars)} chars in ${parquetSecs.toFixed(2)} s = ${(chars / parquetSecs / 1e6).toFixed(1)} M chars/s`);

    const common = { shards: train, open: openLocalShard, B: f.batch, T: f.seq };
    const bytes = new ByteTokenizer();
    // One untimed pass first: otherwise the first row also pays for JIT warm-up.
    await timeLoader({ ...common, tokenizer: bytes }, 1);
    for (const prefetch of [false, true]) {
      const r = await timeLoader({ ...common, tokenizer: bytes, prefetch }, f.seconds);
      rows.push({
        name: `byte-level encoder${prefetch ? ", prefetch" : ""}`,
        tokensPerSec: r.tps,
        detail: `${r.batches} batches, first after ${r.firstMs.toFixed(0)} ms`,
      });
    }

    const firstShardTexts = async () => {
      const out: string[] = [];
      const s = await openShardFile(train[0]);
      for (let g = 0; g < s.numRowGroups; g++) out.push(...await s.readRowGroup(g));
      s.close();
      return out;
    };
    const b = await bpe(f["tokenizer-dir"], firstShardTexts);
    if (!b) {
      console.log("BPE tokenizer: src/tokenizer/ is not available; only the byte-level rows are measured");
    } else {
      console.log(`BPE tokenizer (src/tokenizer/): ${b.how}; vocab ${int(b.tok.vocabSize)}`);
      const r = await timeLoader({ ...common, tokenizer: b.tok }, f.seconds);
      rows.push({ name: "BPE, this thread", tokensPerSec: r.tps, detail: `${r.batches} batches, first after ${r.firstMs.toFixed(0)} ms` });
      if (f.workers > 0) {
        const pool = await b.mod.EncoderPool.create(b.tok, { workers: f.workers, minChars: 0 });
        try {
          const rp = await timeLoader({ ...common, tokenizer: b.tok, encodeBatch: (t) => pool.encodeBatchFlat(t) }, f.seconds);
          rows.push({
            name: `BPE, ${pool.workerCount} workers + prefetch`,
            tokensPerSec: rp.tps,
            detail: `${rp.batches} batches, first after ${rp.firstMs.toFixed(0)} ms`,
          });
        } finally {
          pool.close();
        }
      }
    }

    const need = f["model-tps"];
    console.log("");
    console.log(`| loader | tokens/s | × model (${int(need)} tokens/s) | notes |`);
    console.log("|---|---:|---:|---|");
    for (const r of rows) console.log(`| ${r.name} | ${int(r.tokensPerSec)} | ${(r.tokensPerSec / need).toFixed(0)}× | ${r.detail} |`);
    const slowest = Math.min(...rows.map((r) => r.tokensPerSec));
    console.log("");
    console.log(
      slowest > need
        ? `the slowest loader row delivers ${(slowest / need).toFixed(0)}× what the model consumes: the loader is not the bottleneck`
        : `WARNING: the slowest loader row (${int(slowest)} tokens/s) is below the model's ${int(need)} tokens/s`,
    );
  } finally {
    await cleanup();
  }
}
