// Tokenizer file formats (bytes/strings only; reading and writing files is the caller's).
//
// tokenizer.json, the lab's own format:
//   { "format": "webgpu-nanochat-tokenizer", "version": 1, "hash": "<sha256>",
//     "pattern": "<reference split regex>", "vocab_size": N,
//     "special_tokens": ["<|bos|>", ...],          // ids 256 + #merges onwards, in order
//     "merges": [[a, b], ...] }                     // merge k -> id 256 + k
// tokenizer.tiktoken, tiktoken's format: "<base64 of token bytes> <rank>" per line for the
//   256 byte tokens and every merge (rank = id); specials are not part of that format.
// token_bytes.json: { "hash": ..., "token_bytes": [byte length per id, 0 for specials] }.

import { SPLIT_PATTERN } from "./regex.ts";
import { TokenizerError } from "./errors.ts";

export const FORMAT_NAME = "webgpu-nanochat-tokenizer";
export const FORMAT_VERSION = 1;

export interface TokenizerFile {
  format: typeof FORMAT_NAME;
  version: number;
  hash: string;
  pattern: string;
  vocab_size: number;
  special_tokens: string[];
  merges: [number, number][];
}

/** The tokenizer.json object. */
export function tokenizerFile(merges: ArrayLike<number>, specials: readonly string[], hash: string): TokenizerFile {
  const pairs: [number, number][] = [];
  for (let k = 0; k < merges.length; k += 2) pairs.push([merges[k], merges[k + 1]]);
  return {
    format: FORMAT_NAME,
    version: FORMAT_VERSION,
    hash,
    pattern: SPLIT_PATTERN,
    vocab_size: 256 + pairs.length + specials.length,
    special_tokens: [...specials],
    merges: pairs,
  };
}

/** tokenizer.json text: JSON with one merge per line, so diffs and `head` stay readable. */
export function formatTokenizerJson(file: TokenizerFile): string {
  const { merges, ...head } = file;
  const body = JSON.stringify(head, null, 2).slice(0, -2); // drop the closing "\n}"
  const lines = merges.map(([a, b]) => `    [${a}, ${b}]`);
  return `${body},\n  "merges": [\n${lines.join(",\n")}\n  ]\n}\n`;
}

/**
 * Validates tokenizer.json (text or parsed object) and returns its merges and specials.
 * `where` names the source in error messages. The caller checks the hash.
 */
export function parseTokenizerJson(input: string | unknown, where = "tokenizer.json"): { merges: Int32Array; specials: string[]; hash: string } {
  let obj: unknown = input;
  if (typeof input === "string") {
    try {
      obj = JSON.parse(input);
    } catch (err) {
      throw new TokenizerError(`${where} is not valid JSON (${(err as Error).message}); re-create it with 'deno task tok train'`);
    }
  }
  const f = obj as Partial<TokenizerFile>;
  const bad = (what: string) => new TokenizerError(`${where} is not a usable tokenizer file: ${what}`);
  if (typeof obj !== "object" || obj === null || f.format !== FORMAT_NAME) throw bad(`"format" must be "${FORMAT_NAME}"`);
  if (f.version !== FORMAT_VERSION) throw bad(`version ${f.version} is not supported (this build reads version ${FORMAT_VERSION})`);
  if (f.pattern !== SPLIT_PATTERN) throw bad(`its split pattern differs from the reference pattern this build implements`);
  if (!Array.isArray(f.special_tokens) || !f.special_tokens.every((s) => typeof s === "string")) {
    throw bad(`"special_tokens" must be a list of strings`);
  }
  if (!Array.isArray(f.merges)) throw bad(`"merges" must be a list of [left, right] pairs`);
  if (typeof f.hash !== "string") throw bad(`"hash" is missing`);
  const merges = new Int32Array(2 * f.merges.length);
  f.merges.forEach((m, k) => {
    const ok = Array.isArray(m) && m.length === 2 && m.every((x) => Number.isInteger(x) && x >= 0 && x < 256 + k);
    if (!ok) throw bad(`merge ${k} is ${JSON.stringify(m)}, expected two ids below ${256 + k}`);
    merges[2 * k] = m[0];
    merges[2 * k + 1] = m[1];
  });
  const vocab = 256 + f.merges.length + f.special_tokens.length;
  if (f.vocab_size !== vocab) throw bad(`"vocab_size" is ${f.vocab_size} but the merges and specials make ${vocab}`);
  return { merges, specials: f.special_tokens, hash: f.hash };
}

export function hashMismatch(where: string, stored: string, actual: string): Error {
  return new TokenizerError(`${where} is corrupt: its content hashes to ${actual.slice(0, 12)}…, not the recorded ${stored.slice(0, 12)}…`);
}

function toBase64(latin1: string): string {
  return btoa(latin1); // btoa takes exactly a latin1 (byte) string
}

/** tiktoken's `.tiktoken` text for the mergeable tokens (bytes given as latin1 strings). */
export function formatTiktoken(tokens: readonly string[]): string {
  const lines = tokens.map((t, rank) => `${toBase64(t)} ${rank}`);
  return lines.join("\n") + "\n";
}

/**
 * Reads a `.tiktoken` file back into merges. Ranks must be 0..n-1 with ranks 0..255 the
 * single bytes in order (this tokenizer has no byte remap). Each longer token's pair is
 * found the way tiktoken would build it: byte-pair merging its bytes with the lower ranks
 * only must end in exactly two parts. When a token could be split several ways this may
 * pick another split than training did; encoding is the same either way, because the
 * encoder considers every split (see encoder.ts).
 */
export function parseTiktoken(text: string, where = "tokenizer.tiktoken"): Int32Array {
  const byRank: string[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const [b64, r, extra] = line.trim().split(/\s+/);
    const rank = Number(r);
    let bytes: string;
    try {
      bytes = atob(b64);
    } catch {
      throw new TokenizerError(`${where} line ${i + 1}: ${JSON.stringify(b64)} is not base64`);
    }
    if (extra !== undefined || !Number.isInteger(rank) || rank !== byRank.length) {
      throw new TokenizerError(`${where} line ${i + 1}: expected "<base64> ${byRank.length}", got ${JSON.stringify(line)}`);
    }
    byRank.push(bytes);
  });
  return mergesFromRanks(byRank, where);
}

/**
 * Merges from token bytes by rank (latin1 strings, rank = id): tiktoken's mergeable ranks,
 * from a .tiktoken file or a pickled Encoding (nanochat's tokenizer.pkl).
 */
export function mergesFromRanks(byRank: readonly string[], where: string): Int32Array {
  const rankOf = new Map<string, number>(byRank.map((b, r) => [b, r]));
  for (let i = 0; i < 256; i++) {
    if (byRank[i] !== String.fromCharCode(i)) {
      throw new TokenizerError(`${where}: rank ${i} must be the single byte ${i} (byte-level ranks without a byte remap)`);
    }
  }
  const merges = new Int32Array(2 * (byRank.length - 256));
  for (let r = 256; r < byRank.length; r++) {
    const s = byRank[r];
    const parts = [...s]; // one char per byte
    for (;;) {
      let best = Infinity, at = -1;
      for (let i = 0; i + 1 < parts.length; i++) {
        const q = rankOf.get(parts[i] + parts[i + 1]);
        if (q !== undefined && q < r && q < best) best = q, at = i;
      }
      if (at < 0) break;
      parts.splice(at, 2, parts[at] + parts[at + 1]);
    }
    if (parts.length !== 2) throw new TokenizerError(`${where}: token of rank ${r} cannot be built from two lower-ranked tokens`);
    merges[2 * (r - 256)] = rankOf.get(parts[0])!;
    merges[2 * (r - 256) + 1] = rankOf.get(parts[1])!;
  }
  return merges;
}

/** token_bytes.json text. */
export function formatTokenBytes(tokenBytes: Int32Array, hash: string): string {
  return `{"hash": "${hash}", "token_bytes": [${Array.from(tokenBytes).join(",")}]}\n`;
}
