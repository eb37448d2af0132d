// Byte-level BPE training, the way nanochat's rustbpe does it:
//   1. split every text with the split regex and count each distinct chunk once;
//   2. turn each distinct chunk into a "word" of byte ids with a multiplicity;
//   3. count adjacent pairs over the words once, remembering which words hold each pair;
//   4. repeatedly take the most frequent pair from a max-heap (ties -> smaller pair),
//      merge it only inside the words that hold it, and apply the count deltas that
//      those edits cause; the heap is refreshed lazily (stale counts are re-pushed).
// No step recounts the corpus, so a merge costs time proportional to where its pair occurs.

import { stickySplitRegex, walkChunks } from "./regex.ts";
import { StringTable } from "./string_table.ts";
import { PairTable, grow } from "./pair_table.ts";
import { Heap } from "./heap.ts";
import { utf8Into } from "./utf8.ts";

/** Distinct chunks and how often each occurs. */
export class ChunkCounter {
  private table = new StringTable(1 << 16);
  private counts = new Float64Array(1 << 16);
  /** UTF-16 code units and texts seen so far. */
  chars = 0;
  texts = 0;
  private re = stickySplitRegex();

  add(text: string): void {
    this.chars += text.length;
    this.texts++;
    const table = this.table;
    walkChunks(this.re, text, (start, end) => {
      const h = StringTable.hash(text, start, end);
      const i = table.find(text, start, end, h);
      if (i >= 0) this.counts[i]++;
      else this.insert(text.slice(start, end), h, 1);
    });
  }

  private insert(chunk: string, h: number, n: number): void {
    const i = this.table.insert(chunk, h);
    if (i >= this.counts.length) this.counts = grow(this.counts, this.counts.length * 2);
    this.counts[i] = n;
  }

  /** Adds `n` occurrences of one chunk (counts made elsewhere, e.g. in a worker). */
  addChunk(chunk: string, n: number): void {
    const h = StringTable.hash(chunk, 0, chunk.length);
    const i = this.table.find(chunk, 0, chunk.length, h);
    if (i >= 0) this.counts[i] += n;
    else this.insert(chunk, h, n);
  }

  get distinct(): number {
    return this.table.size;
  }

  *entries(): IterableIterator<[string, number]> {
    const keys = this.table.keys;
    for (let i = 0; i < keys.length; i++) yield [keys[i], this.counts[i]];
  }
}

/**
 * The texts the reference tokenizer trainer sees: each crops to `docCap` characters, and
 * the stream stops once more than `maxChars` characters were yielded (the text that
 * crosses the limit is still included, as in nanochat). Characters are UTF-16 code
 * units; a crop never splits a surrogate pair.
 */
export function* capTexts(texts: Iterable<string>, docCap: number, maxChars: number): Generator<string> {
  let total = 0;
  for (const t of texts) {
    const doc = cropText(t, docCap);
    total += doc.length;
    yield doc;
    if (total > maxChars) return;
  }
}

export function cropText(text: string, cap: number): string {
  if (text.length <= cap) return text;
  let end = cap;
  const c = text.charCodeAt(end - 1);
  if (end > 0 && c >= 0xd800 && c <= 0xdbff) end--; // keep the pair whole
  return text.slice(0, end);
}

export interface TrainOptions {
  /** Called now and then (and once at the end) with merges done and merges asked for. */
  onProgress?: (done: number, total: number) => void;
  /** Milliseconds between progress calls (default 1000). */
  progressEveryMs?: number;
}

export interface TrainResult {
  /** merges[2k], merges[2k+1]: the pair that merge k (token 256 + k) joins. */
  merges: Int32Array;
  /** How often each merged pair occurred when it was chosen. */
  counts: Float64Array;
  /** Distinct chunks the merges were learned from. */
  words: number;
}

/** Learns up to `numMerges` merges from chunk counts (fewer if pairs run out). */
export function trainMerges(counter: ChunkCounter, numMerges: number, opts: TrainOptions = {}): TrainResult {
  // Words: all distinct chunks' bytes in one flat buffer; chunks of one byte hold no pair.
  let ids = new Int32Array(1 << 16);
  let starts = new Int32Array(1 << 12);
  let wordCount = new Float64Array(1 << 12);
  let nWords = 0, used = 0;
  for (const [chunk, n] of counter.entries()) {
    if (used + 3 * chunk.length > ids.length) ids = grow(ids, Math.max(ids.length * 2, used + 3 * chunk.length));
    const end = utf8Into(chunk, ids, used);
    if (end - used < 2) continue;
    if (nWords === starts.length) {
      starts = grow(starts, nWords * 2);
      wordCount = grow(wordCount, nWords * 2);
    }
    starts[nWords] = used;
    wordCount[nWords++] = n;
    used = end;
  }
  const lens = new Int32Array(nWords);
  for (let w = 0; w < nWords; w++) lens[w] = (w + 1 < nWords ? starts[w + 1] : used) - starts[w];

  const table = new PairTable(1 << 16);
  let count = new Float64Array(1 << 16);
  let stamp = new Int32Array(1 << 16).fill(-1); // last merge step that created the pair
  let lastWord = new Int32Array(1 << 16).fill(-1); // last word appended to where[pair]
  const where: (number[] | null)[] = [];

  const ensure = (p: number) => {
    if (p < count.length) return;
    const n = count.length * 2;
    count = grow(count, n);
    const s = new Int32Array(n).fill(-1), l = new Int32Array(n).fill(-1);
    s.set(stamp);
    l.set(lastWord);
    stamp = s;
    lastWord = l;
  };
  const note = (p: number, w: number) => {
    if (lastWord[p] === w) return;
    lastWord[p] = w;
    const list = where[p];
    if (list) list.push(w);
    else where[p] = [w];
  };

  for (let w = 0; w < nWords; w++) {
    const s = starts[w], e = s + lens[w], c = wordCount[w];
    for (let i = s; i + 1 < e; i++) {
      const p = table.intern(ids[i], ids[i + 1]);
      ensure(p);
      count[p] += c;
      note(p, w);
    }
  }

  // (count, pair): the larger count first; among equal counts the smaller (left, right) pair.
  const heap = new Heap((ca, ia, cb, ib) => {
    if (ca !== cb) return ca > cb;
    const L = table.left;
    return L[ia] !== L[ib] ? L[ia] < L[ib] : table.right[ia] < table.right[ib];
  });
  for (let p = 0; p < table.size; p++) if (count[p] > 0) heap.push(count[p], p);

  const merges = new Int32Array(2 * numMerges);
  const mergeCounts = new Float64Array(numMerges);
  const every = opts.progressEveryMs ?? 1000;
  let lastReport = performance.now();
  let done = 0;
  const created: number[] = [];

  while (done < numMerges && heap.size > 0) {
    const p = heap.topId(), snap = heap.topKey();
    heap.pop();
    const live = count[p];
    if (live <= 0) continue;
    if (snap !== live) {
      heap.push(live, p); // stale snapshot: requeue with the live count
      continue;
    }
    const a = table.left[p], b = table.right[p], t = 256 + done;
    merges[2 * done] = a;
    merges[2 * done + 1] = b;
    mergeCounts[done] = live;
    created.length = 0;

    // Apply the merge in every word that held the pair, adjusting neighbour pairs:
    // for x a b y -> x T y we lose (x,a), (a,b), (b,y) and gain (x,T), (T,y).
    const dec = (l: number, r: number, c: number) => {
      count[table.get(l, r)] -= c;
    };
    const inc = (l: number, r: number, c: number, w: number) => {
      const q = table.intern(l, r);
      ensure(q);
      count[q] += c;
      if (stamp[q] !== done) {
        stamp[q] = done;
        created.push(q);
      }
      note(q, w);
    };
    for (const w of where[p]!) {
      const s = starts[w], e = s + lens[w], c = wordCount[w];
      let r = s, o = s;
      while (r < e) {
        if (r + 1 < e && ids[r] === a && ids[r + 1] === b) {
          if (o > s) {
            const x = ids[o - 1];
            dec(x, a, c);
            inc(x, t, c, w);
          }
          dec(a, b, c);
          if (r + 2 < e) {
            const y = ids[r + 2];
            dec(b, y, c);
            inc(t, y, c, w);
          }
          ids[o++] = t;
          r += 2;
        } else {
          ids[o++] = ids[r++];
        }
      }
      lens[w] = o - s;
    }
    where[p] = null; // never needed again: the pair is gone from every word
    count[p] = 0;
    // Every pair created now contains T, so it is new: queue it once with its full count.
    for (const q of created) if (count[q] > 0) heap.push(count[q], q);
    done++;
    if (opts.onProgress && performance.now() - lastReport >= every) {
      lastReport = performance.now();
      opts.onProgress(done, numMerges);
    }
  }
  opts.onProgress?.(done, numMerges);
  return { merges: merges.slice(0, 2 * done), counts: mergeCounts.slice(0, done), words: nWords };
}
