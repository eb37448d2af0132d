// `deno task tok <train|eval|files> [flags]`: train the BPE tokenizer on the data shards (or
// given text files) and save it; compare its compression with GPT-2's and GPT-4's; write
// tokenizer.tiktoken and token_bytes.json again from tokenizer.json.
import { parseFlags, runMain, UsageError } from "./args.ts";
import { denoFiles, writeFileAtomic } from "../io/deno_files.ts";
import { type TokenizerRow, tokenizerTable } from "../report/report.ts";
import { Tokenizer } from "../tokenizer/tokenizer.ts";
import { capTexts } from "../tokenizer/train.ts";
import { CountingPool } from "../tokenizer/pool.ts";
import { DEFAULT_TOKENIZER_DIR, loadTokenizer, saveTokenizer, TOKEN_BYTES_JSON, TOKENIZER_TIKTOKEN } from "../tokenizer/store.ts";
import { SAMPLE_TEXTS } from "../tokenizer/sample_texts.ts";
import { DEFAULT_DATA_DIR, type DocBatches, listShards, shardBatches, textFileBatches } from "../data/deno_documents.ts";
import { readShardFile } from "../data/deno_source.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const USAGE = `usage: deno task tok <command> [flags]   (deno task tok <command> --help for its flags)

commands:
  train   train the BPE tokenizer on the data shards or text files and save it
  eval    compression (bytes per token) vs the GPT-2 and GPT-4 tokenizers
  files   write tokenizer.tiktoken and token_bytes.json again from tokenizer.json`;

const TRAIN_FLAGS = {
  vocab: { type: "number", default: 65536, help: "vocabulary size, including the 256 byte tokens and 9 special tokens", integer: true },
  "max-chars": { type: "number", default: 2_000_000_000, help: "stop reading after this many characters (or at the end of the data)", min: 1, integer: true },
  "doc-cap": { type: "number", default: 10_000, help: "crop each document to this many characters", min: 1, integer: true },
  input: { type: "string", default: "", help: "comma-separated .txt/.jsonl/.parquet files to train on instead of the shards (files may also follow the flags)" },
  "data-dir": { type: "string", default: DEFAULT_DATA_DIR, help: "directory of parquet shards (all but the last are train)" },
  dir: { type: "string", default: DEFAULT_TOKENIZER_DIR, help: "where to save tokenizer.json, tokenizer.tiktoken, token_bytes.json" },
  workers: { type: "number", default: 0, help: "workers counting chunks (0 = one per hardware thread)", min: 0, max: 1024, integer: true },
} as const;

const EVAL_FLAGS = {
  dir: { type: "string", default: DEFAULT_TOKENIZER_DIR, help: "tokenizer directory to evaluate" },
  "data-dir": { type: "string", default: DEFAULT_DATA_DIR, help: "parquet shards: first row group of the first train and the val shard are added" },
  json: { type: "string", default: "", help: "also write the counts to this JSON file (the pipeline's report reads it)" },
} as const;

const FILES_FLAGS = {
  dir: { type: "string", default: DEFAULT_TOKENIZER_DIR, help: "tokenizer directory whose tokenizer.json the other two files are written from" },
} as const;

const resolve = (p: string) => (p.startsWith("/") ? p : `${ROOT}${p}`);
const secs = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
const int = (n: number) => n.toLocaleString("en-US");

async function train(args: string[]): Promise<void> {
  const parsed = parseFlags(args, "tok train", "Train the byte-level BPE tokenizer (deterministic) and save it.", TRAIN_FLAGS, "[files...]");
  if (!parsed) return;
  const f = parsed.flags;
  Tokenizer.checkVocabSize(f.vocab); // fail before reading any data
  for (const k of ["max-chars", "doc-cap"] as const) {
    if (!(f[k] > 0)) throw new UsageError(`--${k} must be a positive number, got ${f[k]}`);
  }
  const inputs = [...f.input.split(",").filter(Boolean), ...parsed.positionals].map(resolve);
  const dataDir = resolve(f["data-dir"]);
  let source: DocBatches;
  let sourceName: string;
  if (inputs.length > 0) {
    source = textFileBatches(inputs, f["doc-cap"]);
    sourceName = inputs.length === 1 ? inputs[0] : `${inputs.length} files`;
  } else {
    const shards = await listShards(dataDir);
    if (shards.val === null) {
      throw new UsageError(`no parquet shards in ${dataDir} and no --input files: download shards ('deno task data') or pass --input FILE.txt`);
    }
    if (shards.train.length === 0) throw new UsageError(`only one shard in ${dataDir}: the last shard is validation, so there is no training shard`);
    source = shardBatches(dataDir);
    sourceName = `${shards.train.length} train shards in ${dataDir}`;
  }

  console.log(`[tok train] vocab ${int(f.vocab)}, max chars ${int(f["max-chars"])}, doc cap ${int(f["doc-cap"])}; reading ${sourceName}`);
  const t0 = performance.now();
  const pool = await CountingPool.create(f.workers > 0 ? { workers: f.workers } : {});
  let counter;
  try {
    // Batches are cropped and capped exactly like capTexts over the whole stream.
    let total = 0, lastLog = performance.now();
    for await (const batch of source) {
      const docs = [...capTexts(batch, f["doc-cap"], f["max-chars"] - total)];
      for (const d of docs) total += d.length;
      await pool.add(docs);
      if (performance.now() - lastLog > 2000) {
        lastLog = performance.now();
        console.log(`  read ${int(pool.texts)} docs, ${int(total)} chars, ${secs(t0)}`);
      }
      if (total > f["max-chars"]) break;
    }
    counter = await pool.finish();
  } finally {
    pool.close();
  }
  console.log(`  counted ${int(counter.texts)} docs, ${int(counter.chars)} chars, ${int(counter.distinct)} distinct chunks in ${secs(t0)}`);

  const t1 = performance.now();
  const merges = f.vocab - Tokenizer.minVocabSize();
  const tok = Tokenizer.fromCounter(counter, f.vocab, {
    onProgress: (done, all) => console.log(`  merges ${int(done)}/${int(all)} (${((100 * done) / all || 0).toFixed(1)}%), ${secs(t1)}`),
  });
  console.log(`  trained in ${secs(t1)} (total ${secs(t0)})`);
  if (tok.numMerges < merges) {
    console.warn(`warning: the corpus ran out of pairs after ${int(tok.numMerges)} merges; the vocabulary has ${int(tok.vocabSize)} tokens, not ${int(f.vocab)}`);
  }
  const sample = Object.values(SAMPLE_TEXTS).join("\n");
  if (tok.decode(tok.encodeOrdinary(sample)) !== sample) throw new Error("encode/decode round trip failed on the sample texts");

  const dir = resolve(f.dir);
  const paths = await saveTokenizer(denoFiles(), dir, tok);
  const bytes = Array.from(tok.tokenBytes()).filter((n) => n > 0);
  const mean = bytes.reduce((s, n) => s + n, 0) / bytes.length;
  const std = Math.sqrt(bytes.reduce((s, n) => s + (n - mean) ** 2, 0) / (bytes.length - 1));
  console.log(`vocab ${int(tok.vocabSize)} = 256 bytes + ${int(tok.numMerges)} merges + ${tok.specialTokens.length} specials; hash ${tok.hash}`);
  console.log(`token bytes: min ${Math.min(...bytes)}, max ${Math.max(...bytes)}, mean ${mean.toFixed(4)}, std ${std.toFixed(4)}`);
  for (const p of paths) console.log(`wrote ${p}`);
}

async function evaluate(args: string[]): Promise<void> {
  const parsed = parseFlags(args, "tok eval", "Bytes per token of our tokenizer vs GPT-2 and GPT-4 on several kinds of text.", EVAL_FLAGS);
  if (!parsed) return;
  const f = parsed.flags;
  const tok = await loadTokenizer(denoFiles(), resolve(f.dir));
  const texts: [string, string][] = Object.entries(SAMPLE_TEXTS);
  const dataDir = resolve(f["data-dir"]);
  const shards = await listShards(dataDir);
  if (shards.val) {
    for (const [kind, path] of [["fwe-train", shards.train[0]], ["fwe-val", shards.val]] as const) {
      if (!path) continue;
      for await (const group of readShardFile(path)) {
        texts.push([kind, group.join("\n")]);
        break; // first row group only
      }
    }
  } else {
    console.log(`(no shards in ${dataDir}: fwe-train / fwe-val rows skipped)`);
  }

  // Loaded here, not at the top: the rank tables are megabytes of JavaScript that
  // 'tok train' (and every error path) would otherwise parse for nothing.
  const [{ Tiktoken }, gpt2Ranks, cl100kRanks] = await Promise.all([
    import("js-tiktoken/lite"),
    import("js-tiktoken/ranks/gpt2"),
    import("js-tiktoken/ranks/cl100k_base"),
  ]);
  const gpt2 = new Tiktoken(gpt2Ranks.default), gpt4 = new Tiktoken(cl100kRanks.default);
  const utf8 = new TextEncoder();
  const rows: TokenizerRow[] = texts.map(([kind, text]) => ({
    kind,
    bytes: utf8.encode(text).length,
    // [] / [] : encode special-token strings as plain text, like encode_ordinary.
    tokens: { gpt2: gpt2.encode(text, [], []).length, gpt4: gpt4.encode(text, [], []).length, ours: tok.encodeOrdinary(text).length },
  }));
  console.log(`tokenizer ${resolve(f.dir)} (vocab ${int(tok.vocabSize)}, hash ${tok.hash.slice(0, 12)})\n`);
  for (const [name, key] of [["GPT-2", "gpt2"], ["GPT-4", "gpt4"]] as const) {
    console.log(`Comparison with ${name}:`);
    console.log(formatTable(rows, name, key));
    console.log("");
  }
  if (f.json) {
    await writeFileAtomic(resolve(f.json), JSON.stringify({ tokenizer: resolve(f.dir), vocab: tok.vocabSize, hash: tok.hash, rows }, null, 2) + "\n");
    console.log(`wrote ${resolve(f.json)}`);
  }
}

/** The reference's table: tokens and ratio for the baseline and ours, relative diff, better. */
function formatTable(rows: TokenizerRow[], name: string, key: "gpt2" | "gpt4"): string {
  const header = ["Text Type", "Bytes", `${name} Tokens`, `${name} Ratio`, "Ours Tokens", "Ours Ratio", "Relative Diff %", "Better"];
  const body = tokenizerTable(rows, key).map((cells, i) => {
    const base = rows[i].tokens[key], ours = rows[i].tokens.ours;
    return [...cells, ours < base ? "Ours" : ours > base ? name : "Tie"];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

/** tokenizer.json is the source of truth: the other two files are rewritten from it (after a mismatch, a hand edit, a bad copy). */
async function files(args: string[]): Promise<void> {
  const parsed = parseFlags(args, "tok files", "Write tokenizer.tiktoken and token_bytes.json again from the directory's tokenizer.json.", FILES_FLAGS);
  if (!parsed) return;
  const dir = resolve(parsed.flags.dir);
  const tok = await loadTokenizer(denoFiles(), dir, { checkDerived: false }); // they may be the broken ones
  const out: [string, string][] = [[TOKENIZER_TIKTOKEN, tok.toTiktoken()], [TOKEN_BYTES_JSON, tok.tokenBytesJSON()]];
  for (const [name, text] of out) {
    await writeFileAtomic(`${dir}/${name}`, text);
    console.log(`wrote ${dir}/${name} (tokenizer ${tok.hash.slice(0, 12)}…, ${int(tok.vocabSize)} tokens)`);
  }
}

export async function main(args: string[]): Promise<void> {
  const [cmd, ...rest] = args;
  if (!cmd || cmd === "-h" || cmd === "--help") return console.log(USAGE);
  if (cmd === "train") return await train(rest);
  if (cmd === "eval") return await evaluate(rest);
  if (cmd === "files") return await files(rest);
  throw new UsageError(`unknown command '${cmd}'\n${USAGE}`);
}

if (import.meta.main) runMain(main);
