// Encoding ordinary text with learned merges, the way the reference does it at run
// time: nanochat trains merges with rustbpe but encodes with tiktoken, and tiktoken does
// not replay merges as pairs of ids. Inside a chunk it repeatedly joins the adjacent
// parts whose concatenated *bytes* form the lowest-ranked token (leftmost on ties), after
// first checking whether the whole chunk is one token. When a token's bytes can be split
// into two tokens in several ways, any of those splits may merge, not only the trained
// pair. We reproduce that exactly: `pairs` maps every (A, B) whose bytes concatenate to a
// token T onto T (rank = id), for every split of every token (found with a byte trie).
//
// Duplicate byte strings (two merges that spell the same bytes) resolve like the Python
// dict nanochat builds: the later id wins.

import { stickySplitRegex, walkChunks } from "./regex.ts";
import { StringTable } from "./string_table.ts";
import { utf8Bytes } from "./utf8.ts";
import { PairTable } from "./pair_table.ts";
import { ASCENDING, Heap } from "./heap.ts";
import { TokenizerError } from "./errors.ts";

const NONE = 0x7fffffff;
/** Chunks at least this long use the heap path instead of the quadratic scan. */
const LONG_CHUNK = 48;
/**
 * Chunks the cache holds before it starts over. Natural text repeats a small set of
 * chunks, so a full reset is rare and refills fast; it keeps memory bounded on endless
 * streams of distinct chunks (numbers, hashes, base64).
 */
const CACHE_LIMIT = 1 << 17;

export class BpeEncoder {
  readonly size: number;
  /** Bytes of every mergeable token, back to back: token id has bytes[offsets[id] .. offsets[id+1]). */
  readonly bytes: Uint8Array;
  readonly offsets: Int32Array;
  /**
   * A byte trie over all tokens: child of node x on byte c is trie.get(x, c) + 1 (root 0),
   * and nodeToken[node] is the token spelled by the path (-1 if none; later id wins).
   * It finds which prefixes and suffixes of a token are tokens without building strings,
   * and serves tiktoken's whole-chunk lookup.
   */
  private trie: PairTable;
  private nodeToken: Int32Array;
  private maxTokenLength = 1;
  private pairs = new PairTable(1 << 12);
  private pairValue = new Int32Array(1 << 12);
  /** Chunk cache: a chunk's ids, stored as a bare number when it is one token. */
  private cache = new StringTable(1 << 14);
  private cached: (number | readonly number[])[] = [];
  private re = stickySplitRegex();

  /** `merges` as flat pairs: merge k joins merges[2k], merges[2k+1] into id 256 + k. */
  constructor(merges: Int32Array | readonly number[]) {
    const n = 256 + merges.length / 2;
    this.size = n;
    const offsets = new Int32Array(n + 1);
    for (let i = 0; i < 256; i++) offsets[i + 1] = i + 1;
    for (let k = 0; 256 + k < n; k++) {
      const a = merges[2 * k], b = merges[2 * k + 1];
      if (!(a >= 0 && a < 256 + k && b >= 0 && b < 256 + k)) {
        throw new TokenizerError(`merge ${k} joins ids ${a} and ${b}, but only ids below ${256 + k} exist at that point`);
      }
      offsets[257 + k] = offsets[256 + k] + (offsets[a + 1] - offsets[a]) + (offsets[b + 1] - offsets[b]);
    }
    const bytes = new Uint8Array(offsets[n]);
    for (let i = 0; i < 256; i++) bytes[i] = i;
    for (let k = 0; 256 + k < n; k++) {
      const a = merges[2 * k], b = merges[2 * k + 1], at = offsets[256 + k];
      bytes.copyWithin(at, offsets[a], offsets[a + 1]);
      bytes.copyWithin(at + offsets[a + 1] - offsets[a], offsets[b], offsets[b + 1]);
    }
    this.bytes = bytes;
    this.offsets = offsets;

    this.trie = new PairTable(bytes.length);
    this.nodeToken = new Int32Array(bytes.length + 1).fill(-1);
    const ends = new Int32Array(n);
    for (let id = 0; id < n; id++) {
      let node = 0;
      for (let i = offsets[id]; i < offsets[id + 1]; i++) node = this.trie.intern(node, bytes[i]) + 1;
      this.nodeToken[node] = id;
      ends[id] = node;
      this.maxTokenLength = Math.max(this.maxTokenLength, offsets[id + 1] - offsets[id]);
    }
    // Every split of every token into two tokens becomes a pair with that token's rank.
    for (let id = 256; id < n; id++) {
      if (this.nodeToken[ends[id]] !== id) continue; // a duplicate spelling: the later id stands for it
      const s = offsets[id], e = offsets[id + 1];
      let node = 0;
      for (let k = s; k + 1 < e; k++) {
        node = this.trie.get(node, bytes[k]) + 1;
        const left = this.nodeToken[node];
        if (left < 0) continue;
        const right = this.lookup(bytes, k + 1, e);
        if (right >= 0) this.setPair(left, right, id);
      }
    }
  }

  /** The token spelled by buf[start, end), or -1. */
  private lookup(buf: Uint8Array, start: number, end: number): number {
    let node = 0;
    for (let i = start; i < end; i++) {
      const p = this.trie.get(node, buf[i]);
      if (p < 0) return -1;
      node = p + 1;
    }
    return this.nodeToken[node];
  }

  /** Bytes of token `id` (a view; do not modify). */
  tokenBytes(id: number): Uint8Array {
    return this.bytes.subarray(this.offsets[id], this.offsets[id + 1]);
  }

  /** Bytes of token `id` as a latin1 string (one char per byte). */
  tokenLatin1(id: number): string {
    return String.fromCharCode.apply(null, this.tokenBytes(id) as unknown as number[]);
  }

  private setPair(a: number, b: number, t: number): void {
    const p = this.pairs.intern(a, b);
    if (p >= this.pairValue.length) {
      const v = new Int32Array(this.pairValue.length * 2);
      v.set(this.pairValue);
      this.pairValue = v;
    }
    this.pairValue[p] = t;
  }

  /** Rank (= id) of the token spelled by A's bytes then B's, or NONE. */
  private rank(a: number, b: number): number {
    const p = this.pairs.get(a, b);
    return p < 0 ? NONE : this.pairValue[p];
  }

  /** Appends the ids of `text` (no special tokens recognized) to `out`. */
  encodeInto(text: string, out: number[]): void {
    walkChunks(this.re, text, (start, end) => {
      const h = StringTable.hash(text, start, end);
      let i = this.cache.find(text, start, end, h);
      if (i < 0) i = this.addToCache(text.slice(start, end), h);
      const ids = this.cached[i];
      if (typeof ids === "number") out.push(ids);
      else for (let k = 0; k < ids.length; k++) out.push(ids[k]);
    });
  }

  private addToCache(chunk: string, h: number): number {
    if (this.cache.size >= CACHE_LIMIT) {
      this.cache.clear();
      this.cached = [];
    }
    const list = this.encodeUncached(chunk);
    this.cached.push(list.length === 1 ? list[0] : list);
    return this.cache.insert(chunk, h);
  }

  private encodeUncached(chunk: string): number[] {
    const bytes = utf8Bytes(chunk);
    if (bytes.length <= this.maxTokenLength) {
      // tiktoken first looks the whole chunk up; merging could otherwise split it differently
      const whole = this.lookup(bytes, 0, bytes.length);
      if (whole >= 0) return [whole];
    }
    return bytes.length < LONG_CHUNK ? this.mergeShort(bytes) : this.mergeLong(bytes);
  }

  /** tiktoken's loop: keep the rank of each adjacent pair, merge the leftmost minimum. */
  private mergeShort(bytes: Uint8Array): number[] {
    let n = bytes.length;
    const parts = Array.from(bytes);
    if (n < 2) return parts;
    const ranks = new Int32Array(n - 1);
    for (let i = 0; i + 1 < n; i++) ranks[i] = this.rank(parts[i], parts[i + 1]);
    for (;;) {
      let best = NONE, at = -1;
      for (let i = 0; i + 1 < n; i++) if (ranks[i] < best) best = ranks[i], at = i;
      if (at < 0) return parts;
      parts[at] = best;
      parts.splice(at + 1, 1);
      ranks.copyWithin(at, at + 1, n - 1);
      n--;
      if (at + 1 < n) ranks[at] = this.rank(best, parts[at + 1]);
      if (at > 0) ranks[at - 1] = this.rank(parts[at - 1], best);
    }
  }

  /**
   * Same result for long chunks (long whitespace runs, long words) in O(n log n): a
   * linked list of parts and a heap of (rank, position) with stale entries skipped.
   * Positions only grow left to right, so the smallest (rank, position) is tiktoken's
   * leftmost minimum.
   */
  private mergeLong(bytes: Uint8Array): number[] {
    const n = bytes.length;
    const tok = Int32Array.from(bytes);
    const next = new Int32Array(n), prev = new Int32Array(n);
    for (let i = 0; i < n; i++) next[i] = i + 1 < n ? i + 1 : -1, prev[i] = i - 1;
    const heap = new Heap(ASCENDING, n);
    for (let i = 0; i + 1 < n; i++) {
      const r = this.rank(tok[i], tok[i + 1]);
      if (r !== NONE) heap.push(r, i);
    }
    while (heap.size > 0) {
      const r = heap.topKey(), i = heap.topId();
      heap.pop();
      const j = next[i];
      // Stale when i was absorbed (tok = -1), has no right part, or its pair changed.
      if (tok[i] < 0 || j < 0 || this.rank(tok[i], tok[j]) !== r) continue;
      tok[i] = r;
      tok[j] = -1;
      next[i] = next[j];
      if (next[j] >= 0) prev[next[j]] = i;
      if (next[i] >= 0) {
        const rr = this.rank(r, tok[next[i]]);
        if (rr !== NONE) heap.push(rr, i);
      }
      if (prev[i] >= 0) {
        const rl = this.rank(tok[prev[i]], r);
        if (rl !== NONE) heap.push(rl, prev[i]);
      }
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(tok[i]);
    return out;
  }
}
