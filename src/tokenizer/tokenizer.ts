// The Tokenizer: 256 byte tokens (id = byte value, no GPT-2 remap), then one token per
// learned merge (merge k -> id 256 + k), then the special tokens in the reference order.
// Runtime-agnostic: no Deno APIs here (files go through ./store.ts).

import { BpeEncoder } from "./encoder.ts";
import { capTexts, ChunkCounter, trainMerges, type TrainOptions, type TrainResult } from "./train.ts";
import { sha256Hex } from "./sha256.ts";
import { SPLIT_PATTERN } from "./regex.ts";
import { TokenizerError } from "./errors.ts";
import {
  formatTiktoken,
  formatTokenBytes,
  formatTokenizerJson,
  hashMismatch,
  mergesFromRanks,
  parseTiktoken,
  parseTokenizerJson,
  tokenizerFile,
  type TokenizerFile,
} from "./serialize.ts";

/** nanochat's special tokens; their ids follow the merges in exactly this order. */
export const SPECIAL_TOKENS = [
  "<|bos|>",
  "<|user_start|>",
  "<|user_end|>",
  "<|assistant_start|>",
  "<|assistant_end|>",
  "<|python_start|>",
  "<|python_end|>",
  "<|output_start|>",
  "<|output_end|>",
] as const;
export type SpecialToken = typeof SPECIAL_TOKENS[number];

/** The speedrun's vocabulary: 256 bytes + 65,271 merges + 9 specials. */
export const DEFAULT_VOCAB_SIZE = 65536;
export const DEFAULT_DOC_CAP = 10_000;
export const DEFAULT_MAX_CHARS = 2_000_000_000;
/** Ids must stay far below 2^31 (typed arrays, pair hashing); 2^24 is plenty. */
export const MAX_VOCAB_SIZE = 1 << 24;

export { TokenizerError };

export interface TokenizerTrainOptions extends TrainOptions {
  /** Crop each text to this many characters (default 10,000, like the reference). */
  docCap?: number;
  /** Stop reading texts after this many characters (default 2e9, the speedrun's). */
  maxChars?: number;
}

export interface EncodeOptions {
  /** Special-token strings to recognize in the text: "all", or a list. Default: none. */
  allowedSpecial?: "all" | Iterable<string>;
  /** A special token (name or id) to put before / after the ids, like nanochat's prepend/append. */
  prepend?: string | number;
  append?: string | number;
}

export class Tokenizer {
  readonly merges: Int32Array;
  readonly specialTokens: readonly string[];
  /** Extra facts from training (absent for loaded tokenizers). */
  trainInfo?: { counts: Float64Array; words: number; chars: number; texts: number };
  private enc: BpeEncoder;
  private specialIds = new Map<string, number>();
  private bytesCache?: Uint8Array[];
  private hashCache?: string;

  constructor(merges: Int32Array | readonly number[], specialTokens: readonly string[] = SPECIAL_TOKENS) {
    if (merges.length % 2 !== 0) throw new TokenizerError(`merges must be pairs of ids, got ${merges.length} numbers`);
    if (new Set(specialTokens).size !== specialTokens.length) throw new TokenizerError("special tokens must be distinct");
    this.merges = Int32Array.from(merges);
    this.specialTokens = [...specialTokens];
    this.enc = new BpeEncoder(this.merges);
    specialTokens.forEach((s, i) => this.specialIds.set(s, this.enc.size + i));
  }

  /** Smallest vocabulary that can hold the byte tokens and the given specials. */
  static minVocabSize(specials: readonly string[] = SPECIAL_TOKENS): number {
    return 256 + specials.length;
  }

  /**
   * Trains on `texts` (each cropped to docCap, stopping after maxChars) so that the
   * vocabulary has `vocabSize` tokens including the specials. Deterministic.
   */
  static train(texts: Iterable<string>, vocabSize: number, opts: TokenizerTrainOptions = {}): Tokenizer {
    Tokenizer.checkVocabSize(vocabSize);
    const counter = new ChunkCounter();
    for (const t of capTexts(texts, opts.docCap ?? DEFAULT_DOC_CAP, opts.maxChars ?? DEFAULT_MAX_CHARS)) counter.add(t);
    return Tokenizer.fromCounter(counter, vocabSize, opts);
  }

  /** Trains from chunk counts gathered elsewhere (streaming readers, workers). */
  static fromCounter(counter: ChunkCounter, vocabSize: number, opts: TrainOptions = {}): Tokenizer {
    Tokenizer.checkVocabSize(vocabSize);
    if (counter.chars === 0) {
      throw new TokenizerError(`the training corpus is empty (${counter.texts} texts, 0 characters): nothing to learn merges from`);
    }
    const r: TrainResult = trainMerges(counter, vocabSize - Tokenizer.minVocabSize(), opts);
    const tok = new Tokenizer(r.merges);
    tok.trainInfo = { counts: r.counts, words: r.words, chars: counter.chars, texts: counter.texts };
    return tok;
  }

  static checkVocabSize(vocabSize: number, specials: readonly string[] = SPECIAL_TOKENS): void {
    const min = Tokenizer.minVocabSize(specials);
    if (!Number.isInteger(vocabSize)) throw new TokenizerError(`vocab size must be a whole number, got ${vocabSize}`);
    if (vocabSize < min) {
      throw new TokenizerError(
        `vocab size ${vocabSize} is too small: it must be at least ${min} (256 byte tokens + ${specials.length} special tokens)`,
      );
    }
    if (vocabSize > MAX_VOCAB_SIZE) throw new TokenizerError(`vocab size ${vocabSize} is too large (at most ${MAX_VOCAB_SIZE})`);
  }

  get numMerges(): number {
    return this.merges.length / 2;
  }

  /** Number of ids: bytes + merges + specials. */
  get vocabSize(): number {
    return this.enc.size + this.specialTokens.length;
  }

  get bosId(): number {
    return this.specialId("<|bos|>");
  }

  specialId(name: string): number {
    const id = this.specialIds.get(name);
    if (id === undefined) throw new TokenizerError(`unknown special token ${JSON.stringify(name)} (known: ${this.specialTokens.join(" ")})`);
    return id;
  }

  isSpecial(id: number): boolean {
    return id >= this.enc.size && id < this.vocabSize;
  }

  /** Ids of `text` with no special tokens recognized (their strings encode as plain text). */
  encodeOrdinary(text: string): number[] {
    const out: number[] = [];
    this.enc.encodeInto(text, out);
    return out;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (opts.prepend !== undefined) out.push(this.resolveSpecial(opts.prepend));
    const allowed = opts.allowedSpecial === "all" ? this.specialTokens : [...(opts.allowedSpecial ?? [])];
    if (allowed.length === 0) {
      this.enc.encodeInto(text, out);
    } else {
      for (const s of allowed) this.specialId(s); // unknown names are an error, not silently ignored
      // Longest first so that no special token is cut short by one that is its prefix.
      const alternatives = [...allowed].sort((a, b) => b.length - a.length).map(escapeRegExp);
      const re = new RegExp(alternatives.join("|"), "g");
      let start = 0;
      for (const m of text.matchAll(re)) {
        this.enc.encodeInto(text.slice(start, m.index), out);
        out.push(this.specialIds.get(m[0])!);
        start = m.index + m[0].length;
      }
      this.enc.encodeInto(text.slice(start), out);
    }
    if (opts.append !== undefined) out.push(this.resolveSpecial(opts.append));
    return out;
  }

  /** Encodes many texts in this thread (see pool.ts for workers). */
  encodeBatch(texts: readonly string[], opts: EncodeOptions = {}): number[][] {
    return texts.map((t) => this.encode(t, opts));
  }

  private resolveSpecial(s: string | number): number {
    if (typeof s === "string") return this.specialId(s);
    if (!this.isSpecial(s)) throw new TokenizerError(`id ${s} is not a special token id`);
    return s;
  }

  /** Byte string of every id (specials: their UTF-8 text). */
  private bytesTable(): Uint8Array[] {
    if (!this.bytesCache) {
      const utf8 = new TextEncoder();
      this.bytesCache = [
        ...Array.from({ length: this.enc.size }, (_, id) => this.enc.tokenBytes(id)),
        ...this.specialTokens.map((s) => utf8.encode(s)),
      ];
    }
    return this.bytesCache;
  }

  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    const table = this.bytesTable();
    let n = 0;
    for (let i = 0; i < ids.length; i++) {
      const b = table[ids[i]];
      if (b === undefined) throw new TokenizerError(`token id ${ids[i]} is outside the vocabulary (size ${this.vocabSize})`);
      n += b.length;
    }
    const out = new Uint8Array(n);
    let o = 0;
    for (let i = 0; i < ids.length; i++) {
      const b = table[ids[i]];
      out.set(b, o);
      o += b.length;
    }
    return out;
  }

  /** Text of the ids; invalid UTF-8 (a token sequence cut mid-character) becomes U+FFFD. */
  decode(ids: ArrayLike<number>): string {
    return new TextDecoder().decode(this.decodeBytes(ids));
  }

  /** Text of one token, for display. */
  idToToken(id: number): string {
    return this.decode([id]);
  }

  /**
   * Raw byte length of each token's bytes, 0 for specials: the table bits-per-byte
   * divides by (nanochat's token_bytes, with HEAD's raw-byte convention).
   */
  tokenBytes(): Int32Array {
    const out = new Int32Array(this.vocabSize);
    for (let id = 0; id < this.enc.size; id++) out[id] = this.enc.offsets[id + 1] - this.enc.offsets[id];
    return out;
  }

  /** Bytes of token `id` as a latin1 string (one char per byte); mergeable ids only. */
  tokenLatin1(id: number): string {
    return this.enc.tokenLatin1(id);
  }

  /**
   * SHA-256 over the split pattern, the merges and the special tokens: two tokenizers
   * with the same hash encode every text identically. Checkpoints record it.
   */
  get hash(): string {
    this.hashCache ??= sha256Hex(identityText(SPLIT_PATTERN, this.merges, this.specialTokens));
    return this.hashCache;
  }

  /** The tokenizer.json object (JSON.stringify(tok) works too); see serialize.ts. */
  toJSON(): TokenizerFile {
    return tokenizerFile(this.merges, this.specialTokens, this.hash);
  }

  /** tokenizer.json as written to disk (one merge per line). */
  toFileText(): string {
    return formatTokenizerJson(this.toJSON());
  }

  /** Reads tokenizer.json (text or parsed object); `where` names the source in errors. Checks the hash. */
  static fromJSON(input: string | TokenizerFile, where = "tokenizer.json"): Tokenizer {
    const f = parseTokenizerJson(input, where);
    const tok = new Tokenizer(f.merges, f.specials);
    if (tok.hash !== f.hash) throw hashMismatch(where, f.hash, tok.hash);
    return tok;
  }

  /** The merge ranks in tiktoken's `.tiktoken` format (ids 0 .. 255 + #merges). */
  toTiktoken(): string {
    return formatTiktoken(Array.from({ length: this.enc.size }, (_, id) => this.enc.tokenLatin1(id)));
  }

  /** Builds a tokenizer from `.tiktoken` ranks (byte-ordered first 256) plus specials. */
  static fromTiktoken(text: string, specials: readonly string[] = SPECIAL_TOKENS, where = "tokenizer.tiktoken"): Tokenizer {
    return new Tokenizer(parseTiktoken(text, where), specials);
  }

  /**
   * From tiktoken's mergeable ranks (token bytes by rank, as latin1 strings) and special
   * tokens with their ids, e.g. a nanochat tokenizer.pkl. The split pattern must be the one
   * this tokenizer implements, and the specials must take the ids right after the ranks.
   */
  static fromRanks(byRank: readonly string[], specials: readonly [string, number][], pattern: string, where = "tokenizer"): Tokenizer {
    if (pattern !== SPLIT_PATTERN) {
      throw new TokenizerError(`${where}: its split pattern ${JSON.stringify(pattern.slice(0, 60))}… differs from nanochat's, the one this lab implements`);
    }
    const sorted = [...specials].sort((a, b) => a[1] - b[1]);
    sorted.forEach(([s, id], i) => {
      if (id !== byRank.length + i) throw new TokenizerError(`${where}: special token ${s} has id ${id}; specials must take ids ${byRank.length} … ${byRank.length + sorted.length - 1}, right after the ${byRank.length} ranks`);
    });
    return new Tokenizer(mergesFromRanks(byRank, where), sorted.map(([s]) => s));
  }

  /** token_bytes.json text: the tokenBytes() table with this tokenizer's hash. */
  tokenBytesJSON(): string {
    return formatTokenBytes(this.tokenBytes(), this.hash);
  }
}

/** The canonical text the hash covers (one field per line). */
export function identityText(pattern: string, merges: ArrayLike<number>, specials: readonly string[]): string {
  return `webgpu-nanochat-tokenizer\npattern ${pattern}\nspecials ${JSON.stringify(specials)}\nmerges ${Array.from(merges).join(",")}\n`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
}
