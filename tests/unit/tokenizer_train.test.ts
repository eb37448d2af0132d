// BPE training: hand-worked merges, the tie rule, agreement with a naive trainer that
// recounts every pair at every step, determinism, and bad input.
import assert from "node:assert/strict";
import { Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import { capTexts, ChunkCounter, cropText } from "../../src/tokenizer/train.ts";
import { splitChunks } from "../../src/tokenizer/regex.ts";
import { Rng } from "../../src/util/rng.ts";

const pairs = (t: Tokenizer) => Array.from({ length: t.numMerges }, (_, k) => [t.merges[2 * k], t.merges[2 * k + 1]]);
const SPECIALS = 9;

Deno.test("train: hand-worked merges of 'aaabdaaabac' (a=97 b=98 c=99 d=100)", () => {
  // One chunk. Pair counts: aa 4, ab 2, bd da ba ac 1.
  //  1. (a,a) -> 256, count 4; word: 256 a b d 256 a b a c
  //  2. (a,b) 2 ties (256,a) 2; the smaller pair wins -> 257; word: 256 257 d 256 257 a c
  //  3. (256,257) -> 258, count 2; word: 258 d 258 a c
  //  4. all 1: smallest is (a,c) -> 259; word: 258 d 258 259
  //  5. (d,258) -> 260 (smaller than (258,d) and (258,259)); word: 258 260 259
  //  6. (258,260) -> 261; 7. (261,259) -> 262; then no pairs are left.
  const tok = Tokenizer.train(["aaabdaaabac"], 256 + 7 + SPECIALS);
  assert.deepEqual(pairs(tok), [[97, 97], [97, 98], [256, 257], [97, 99], [100, 258], [258, 260], [261, 259]]);
  assert.deepEqual(Array.from(tok.trainInfo!.counts), [4, 2, 2, 1, 1, 1, 1]);
  assert.deepEqual(tok.encodeOrdinary("aaabdaaabac"), [262]);
  assert.equal(tok.bosId, 263);
  assert.equal(tok.vocabSize, 272);
});

Deno.test("train: chunk counts weight pairs across chunks, and training stops when pairs run out", () => {
  // Chunks "ab", " ab" x2, " abc". Pairs: (a,b) 4, (' ',a) 3, (b,c) 1.
  //  1. (97,98) -> 256 (4); words: [256] [32 256]x2 [32 256 99]
  //  2. (32,256) -> 257 (3); words: [256] [257]x2 [257 99]
  //  3. (257,99) -> 258 (1); no pairs remain, although 40 merges were asked for.
  const tok = Tokenizer.train(["ab ab ab abc"], 256 + 40 + SPECIALS);
  assert.deepEqual(pairs(tok), [[97, 98], [32, 256], [257, 99]]);
  assert.deepEqual(Array.from(tok.trainInfo!.counts), [4, 3, 1]);
  assert.equal(tok.numMerges, 3);
  assert.equal(tok.vocabSize, 256 + 3 + SPECIALS);
  assert.equal(tok.specialId("<|output_end|>"), tok.vocabSize - 1);
});

Deno.test("train: merges never cross chunk boundaries", () => {
  // Chunks "a", " b" x3, " a" x2: only (' ',b) 3 and (' ',a) 2 exist; (a,' ') and (b,' ')
  // would be the most frequent pairs of the raw text but straddle chunk boundaries.
  const tok = Tokenizer.train(["a b a b a b"], 256 + 5 + SPECIALS);
  assert.deepEqual(pairs(tok), [[32, 98], [32, 97]]);
});

/** Straightforward BPE: recount every pair at every step (the definition, not the fast path). */
function naiveMerges(texts: string[], numMerges: number): number[][] {
  const counts = new Map<string, number>();
  for (const t of texts) for (const c of splitChunks(t)) counts.set(c, (counts.get(c) ?? 0) + 1);
  let words = [...counts].map(([c, n]) => ({ ids: Array.from(new TextEncoder().encode(c)), n }));
  const merges: number[][] = [];
  for (let k = 0; k < numMerges; k++) {
    const pc = new Map<string, number>();
    for (const w of words) for (let i = 0; i + 1 < w.ids.length; i++) {
      const key = `${w.ids[i]},${w.ids[i + 1]}`;
      pc.set(key, (pc.get(key) ?? 0) + w.n);
    }
    let best: number[] | null = null, bestCount = 0;
    for (const [key, c] of pc) {
      const p = key.split(",").map(Number);
      if (c > bestCount || (c === bestCount && best && (p[0] < best[0] || (p[0] === best[0] && p[1] < best[1])))) best = p, bestCount = c;
    }
    if (!best) break;
    merges.push(best);
    const [a, b] = best;
    words = words.map((w) => {
      const out: number[] = [];
      for (let i = 0; i < w.ids.length; i++) {
        if (i + 1 < w.ids.length && w.ids[i] === a && w.ids[i + 1] === b) out.push(256 + k), i++;
        else out.push(w.ids[i]);
      }
      return { ids: out, n: w.n };
    });
  }
  return merges;
}

function randomCorpus(rng: Rng, docs: number): string[] {
  // A small alphabet makes long repeated runs ("aaaa"), overlapping pairs and many ties.
  const alphabet = ["a", "b", "c", "a", "a", "é", "ü", " ", " ", "1", "2", ".", "\n", "'s", "🙂"];
  return Array.from({ length: docs }, () => {
    let s = "";
    const n = 5 + rng.int(60);
    for (let i = 0; i < n; i++) s += alphabet[rng.int(alphabet.length)];
    return s;
  });
}

Deno.test("train: same merges as a naive recount-everything trainer on random corpora", () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 12; trial++) {
    const texts = randomCorpus(rng, 30 + rng.int(50));
    const numMerges = 20 + rng.int(120);
    const tok = Tokenizer.train(texts, 256 + numMerges + SPECIALS);
    assert.deepEqual(pairs(tok), naiveMerges(texts, numMerges), `trial ${trial}`);
  }
});

Deno.test("train: two trainings on the same input give identical files; text order does not matter", () => {
  const texts = randomCorpus(new Rng(11), 200);
  const a = Tokenizer.train(texts, 600);
  const b = Tokenizer.train(texts, 600);
  const c = Tokenizer.train(new Rng(3).shuffle([...texts]), 600);
  assert.equal(a.toFileText(), b.toFileText());
  assert.equal(a.toTiktoken(), b.toTiktoken());
  assert.equal(a.hash, b.hash);
  assert.equal(a.toFileText(), c.toFileText());
});

Deno.test("train: an empty corpus is an error that says so", () => {
  assert.throws(() => Tokenizer.train([], 1000), /training corpus is empty/);
  assert.throws(() => Tokenizer.train(["", ""], 1000), /training corpus is empty \(2 texts, 0 characters\)/);
});

Deno.test("train: a vocabulary smaller than 256 + specials is an error naming the minimum", () => {
  assert.throws(() => Tokenizer.train(["hello"], 264), /vocab size 264 is too small: it must be at least 265 \(256 byte tokens \+ 9 special tokens\)/);
  assert.throws(() => Tokenizer.train(["hello"], 1000.5), /vocab size must be a whole number, got 1000.5/);
  assert.throws(() => Tokenizer.train(["hello"], 2 ** 30), /vocab size 1073741824 is too large/);
  assert.throws(() => new Tokenizer([97, 300]), /merge 0 joins ids 97 and 300, but only ids below 256 exist/);
  // exactly 265: no merges, bytes + specials only
  const t = Tokenizer.train(["hello"], 265);
  assert.equal(t.numMerges, 0);
  assert.deepEqual(t.encodeOrdinary("hi"), [104, 105]);
});

Deno.test("train: documents are cropped to doc_cap and reading stops after max_chars", () => {
  assert.deepEqual([...capTexts(["abcdef", "gh", "ijkl", "mn"], 4, 7)], ["abcd", "gh", "ijkl"]);
  // a crop never splits a surrogate pair
  assert.equal(cropText("ab😀c", 3), "ab");
  // right after a two-unit character the crop keeps it whole
  assert.equal(cropText("ab😀c", 4), "ab😀");
  assert.equal(cropText("😀😀", 3), "😀");
  const t = Tokenizer.train(["xyxyxyxyxy", "zzzz"], 256 + 3 + SPECIALS, { docCap: 4, maxChars: 3 });
  assert.equal(t.trainInfo!.texts, 1);
  assert.equal(t.trainInfo!.chars, 4);
});

Deno.test("train: ChunkCounter counts each distinct chunk", () => {
  const c = new ChunkCounter();
  c.add("the cat the cat");
  c.addChunk(" cat", 5);
  assert.deepEqual(new Map(c.entries()), new Map([["the", 1], [" cat", 7], [" the", 1]]));
  assert.equal(c.chars, 15);
  assert.equal(c.distinct, 3);
});

Deno.test("train: progress is reported with merges done and asked for", () => {
  const seen: [number, number][] = [];
  Tokenizer.train(["aaabdaaabac"], 256 + 7 + SPECIALS, { onProgress: (d, t) => seen.push([d, t]), progressEveryMs: 0 });
  assert.deepEqual(seen.at(-1), [7, 7]);
  assert.ok(seen.length >= 2);
});
