// Saving and loading a tokenizer directory through the FileStore interface, so the same
// code serves Deno (denoFiles) and the browser (fetch + IndexedDB store).
//
//   <dir>/tokenizer.json      the lab's format (merges, specials, pattern, hash)
//   <dir>/tokenizer.tiktoken  merge ranks for Python's tiktoken
//   <dir>/token_bytes.json    bytes per token id, for bits-per-byte

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

/** Loads <dir>/tokenizer.json, with errors that name the file and what is wrong with it. */
export async function loadTokenizer(store: FileStore, dir: string = DEFAULT_TOKENIZER_DIR): Promise<Tokenizer> {
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
