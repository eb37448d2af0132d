// What `deno task export nanochat` and `deno task import nanochat` share: a file as a
// random-access ByteSource, the tokenizer as a tiktoken Encoding and back, nanochat's
// directory names, and staging directories that make a write all-or-nothing.
import type { ByteSource } from "../formats/zip.ts";
import type { TiktokenEncoding } from "../formats/nanochat.ts";
import { SPLIT_PATTERN } from "../tokenizer/regex.ts";
import { Tokenizer } from "../tokenizer/tokenizer.ts";

/** nanochat's checkpoint directory (under $NANOCHAT_BASE_DIR) of each stage. */
export const NANOCHAT_STAGE_DIRS: Record<string, string> = { base: "base_checkpoints", mid: "mid_checkpoints", sft: "chatsft_checkpoints", rl: "chatrl_checkpoints" };

/** Reads a file piecewise (a checkpoint of gigabytes is never read whole before parsing). */
export async function fileSource(path: string): Promise<ByteSource & { close(): void }> {
  const file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  return {
    size,
    async read(offset, length) {
      const out = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      await file.seek(offset, Deno.SeekMode.Start);
      for (let got = 0; got < out.length;) {
        const n = await file.read(out.subarray(got));
        if (n === null) return out.subarray(0, got);
        got += n;
      }
      return out;
    },
    close: () => file.close(),
  };
}

export function tokenizerToEncoding(tok: Tokenizer): TiktokenEncoding {
  const mergeable = tok.vocabSize - tok.specialTokens.length;
  const ranks = Array.from({ length: mergeable }, (_, id) => Uint8Array.from(tok.tokenLatin1(id), (c) => c.charCodeAt(0)));
  return { name: "rustbpe", patStr: SPLIT_PATTERN, ranks, specials: tok.specialTokens.map((s) => [s, tok.specialId(s)]) };
}

export function encodingToTokenizer(enc: TiktokenEncoding, where: string): Tokenizer {
  const latin1 = enc.ranks.map((b) => {
    let s = "";
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return s;
  });
  return Tokenizer.fromRanks(latin1, enc.specials, enc.patStr, where);
}

export const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);

/** Writes `chunks` to a new file and fsyncs it. */
export async function writeChunks(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  const file = await Deno.open(path, { write: true, createNew: true });
  try {
    for (const c of chunks) for (let off = 0; off < c.length;) off += await file.write(c.subarray(off));
    await file.sync();
  } finally {
    file.close();
  }
}

let staged = 0;
/** A fresh staging directory next to `target` (same filesystem, so renames out of it are atomic). */
export async function stagingDir(target: string, tag: string): Promise<string> {
  const parent = target.includes("/") ? target.slice(0, target.lastIndexOf("/")) || "/" : ".";
  await Deno.mkdir(parent, { recursive: true });
  const dir = `${parent}/.${tag}-${Deno.pid}-${staged++}.tmp`;
  await Deno.mkdir(dir);
  return dir;
}
