// Saving and loading a tokenizer directory through the FileStore interface, so the same
// code serves Deno (denoFiles) and the browser (fetch + IndexedDB store).
//
//   <dir>/tokenizer.json      the lab's format (merges, specials, pattern, hash)
//   <dir>/tokenizer.tiktoken  merge ranks for Python's tiktoken
//   <dir>/token_bytes.json    bytes per token id, for bits-per-byte
//
// tokenizer.json is the source of truth (its hash covers the merges); the other two are
// derived from it for other readers (Python's tiktoken, nanochat's token_bytes). A copy
// of either from another tokenizer, or a hand edit, would silently give those readers
// wrong ids or wrong bits per byte, so loading checks both against tokenizer.json.

import { FileNotFound, type FileStore } from "../io/files.ts";
import { Tokenizer, TokenizerError } from "./tokenizer.ts";

export const TOKENIZER_JSON = "tokenizer.json";
export const TOKENIZER_TIKTOKEN = "tokenizer.tiktoken";
export const TOKEN_BYTES_JSON = "token_bytes.json";
/** Default tokenizer directory, relative to the repository root (data/ is git-ignored). */
export const DEFAULT_TOKENIZER_DIR = "data/tokenizer";

const join = (dir: string, name: string) => (dir === "" || dir === "." ? name : `${dir.replace(/\/+$/, "")}/${name}`);

/** Writes the three files (each atomically); returns their paths. */
export async function saveTokenizer(store: FileStore, dir: string, tok: Tokenizer): Promise<string[]> {
  const utf8 = new TextEncoder();
  const files: [string, string][] = [
    [join(dir, TOKENIZER_JSON), tok.toFileText()],
    [join(dir, TOKENIZER_TIKTOKEN), tok.toTiktoken()],
    [join(dir, TOKEN_BYTES_JSON), tok.tokenBytesJSON()],
  ];
  for (const [path, text] of files) await store.writeAtomic(path, utf8.encode(text));
  return files.map(([p]) => p);
}

export interface LoadTokenizerOptions {
  /**
   * Check tokenizer.tiktoken and token_bytes.json against tokenizer.json (default true).
   * A reader that never uses them (the browser's chat) may skip fetching them.
   */
  checkDerived?: boolean;
}

/**
 * Loads <dir>/tokenizer.json, with errors that name the file and what is wrong with it;
 * then checks the derived files beside it (checkDerivedFiles).
 */
export async function loadTokenizer(store: FileStore, dir: string = DEFAULT_TOKENIZER_DIR, opts: LoadTokenizerOptions = {}): Promise<Tokenizer> {
  const tok = await loadTokenizerJson(store, dir);
  if (opts.checkDerived ?? true) await checkDerivedFiles(store, dir, tok);
  return tok;
}

/** How to rewrite the derived files of `dir` from its tokenizer.json. */
export const regenerateHint = (dir: string) =>
  `regenerate it from tokenizer.json with 'deno task tok files --dir ${dir}' (or train all three anew with 'deno task tok train --dir ${dir}')`;

/**
 * Throws a TokenizerError naming the file unless tokenizer.tiktoken and token_bytes.json of
 * `dir` belong to `tok`: the tiktoken ranks are exactly the tokenizer's mergeable tokens
 * (rank r = the bytes of token r), and token_bytes holds the tokenizer's hash and, for each
 * of its ids, the byte length of that token (0 for specials). A missing file is not an
 * error: nothing in the lab reads them, they are written for other tools.
 */
export async function checkDerivedFiles(store: FileStore, dir: string, tok: Tokenizer): Promise<void> {
  const source = join(dir, TOKENIZER_JSON);
  const mismatch = (path: string, what: string) =>
    new TokenizerError(`${path} does not belong to ${source}: ${what}; ${regenerateHint(dir)}`);

  const tiktokenPath = join(dir, TOKENIZER_TIKTOKEN);
  const tiktoken = await readTextOrNull(store, tiktokenPath);
  if (tiktoken !== null) {
    const lines = tiktoken.split("\n").filter((l) => l.trim() !== "");
    const mergeable = 256 + tok.numMerges;
    for (let rank = 0; rank < Math.min(lines.length, mergeable); rank++) {
      const [b64, r] = lines[rank].trim().split(/\s+/);
      let bytes: string | null;
      try {
        bytes = atob(b64);
      } catch {
        bytes = null;
      }
      if (Number(r) !== rank || bytes !== tok.tokenLatin1(rank)) {
        throw mismatch(tiktokenPath, `line ${rank + 1} is ${JSON.stringify(lines[rank].slice(0, 60))}, but rank ${rank} is the token ${JSON.stringify(btoa(tok.tokenLatin1(rank)))} ${rank}`);
      }
    }
    if (lines.length !== mergeable) throw mismatch(tiktokenPath, `it has ${lines.length} ranks, the tokenizer has ${mergeable} mergeable tokens (256 bytes + ${tok.numMerges} merges)`);
  }

  const bytesPath = join(dir, TOKEN_BYTES_JSON);
  const text = await readTextOrNull(store, bytesPath);
  if (text !== null) {
    let file: { hash?: unknown; token_bytes?: unknown };
    try {
      file = JSON.parse(text);
    } catch (err) {
      throw mismatch(bytesPath, `it is not valid JSON (${(err as Error).message})`);
    }
    const table = file?.token_bytes;
    if (!Array.isArray(table)) throw mismatch(bytesPath, `it has no "token_bytes" list`);
    if (file.hash !== tok.hash) {
      throw mismatch(bytesPath, `it names tokenizer ${String(file.hash).slice(0, 12)}…, this one is ${tok.hash.slice(0, 12)}…`);
    }
    if (table.length !== tok.vocabSize) throw mismatch(bytesPath, `it has ${table.length} entries, the vocabulary has ${tok.vocabSize} tokens`);
    const expected = tok.tokenBytes();
    const id = expected.findIndex((n, i) => table[i] !== n);
    if (id >= 0) throw mismatch(bytesPath, `token ${id} is ${expected[id]} bytes long, the file says ${JSON.stringify(table[id])}`);
  }
}

async function readTextOrNull(store: FileStore, path: string): Promise<string | null> {
  try {
    return new TextDecoder().decode(await store.read(path));
  } catch (err) {
    if (err instanceof FileNotFound) return null;
    throw new TokenizerError(`cannot read tokenizer file ${path}: ${(err as Error).message}`);
  }
}

async function loadTokenizerJson(store: FileStore, dir: string): Promise<Tokenizer> {
  const path = join(dir, TOKENIZER_JSON);
  let bytes: Uint8Array;
  try {
    bytes = await store.read(path);
  } catch (err) {
    if (err instanceof FileNotFound) throw new FileNotFound(path, "train one with 'deno task tok train', or pass --dir");
    throw new TokenizerError(`cannot read tokenizer file ${path}: ${(err as Error).message}`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new TokenizerError(`${path} is not a tokenizer file (not UTF-8 text)`);
  }
  return Tokenizer.fromJSON(text, path);
}
