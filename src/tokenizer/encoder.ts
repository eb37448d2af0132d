// Encoding ordinary text with learned merges, the way the reference does it at run
// time: nanochat trains merges with rustbpe but encodes with tiktoken, and tiktoken does
// not replay merges as pairs of ids. Inside a chunk it repeatedly joins the adjacent
// parts whose concatenated *bytes* form the lowest-ranked token (leftmost on ties), after
// first checking whether the whole chunk is one token. When a token's bytes can be split
// into two tokens in several ways, any of those splits may merge, not only the trained
// pair. We reproduce that exactly: `pairs` maps every (A, B) whose bytes concatenate to a
// token T onto T (rank = id), for every split of every token.
//
// Duplicate byte strings (two merges that spell the same bytes) resolve like the Python
// dict nanochat builds: the later id wins.

import { splitRegex } from "./regex.ts";
import { PairTable } from "./pair_table.ts";
import { MinHeap2 } from "./min_heap.ts";

const NONE = 0x7fffffff;
/** Chunks at least this long use the heap path instead of the quadratic scan. */
const LONG_CHUNK = 48;
/**
 * Entries per cache generation. Two generations approximate an LRU cheaply: when the
 * young map fills it becomes the old one, and chunks found there move back to young.
 */
const CACHE_GENERATION = 50_000;

export class BpeEncoder {
  /** Bytes of each mergeable token id, as a latin1 string (one char per byte). */
  readonly tokenLatin1: string[];
  readonly size: number;
  private pairs = new PairTable(1 << 12);
  private pairValue = new Int32Array(1 << 12);
  /** Whole-chunk shortcut: the chunk as (well-formed) text -> token id. */
  private wholeText = new Map<string, number>();
  private young = new Map<string, number | readonly number[]>();
  private old = new Map<string, number | readonly number[]>();
  private re = splitRegex();
  private utf8 = new TextEncoder();

  /** `merges` as flat pairs: merge k joins merges[2k], merges[2k+1] into id 256 + k. */
  constructor(merges: Int32Array | readonly number[]) {
    const n = 256 + merges.length / 2;
    const tok: string[] = new Array(n);
    for (let i = 0; i < 256; i++) tok[i] = String.fromCharCode(i);
    for (let k = 0; 256 + k < n; k++) {
      const a = merges[2 * k], b = merges[2 * k + 1];
      if (!(a >= 0 && a < 256 + k && b >= 0 && b < 256 + k)) {
        throw new Error(`merge ${k} joins ids ${a} and ${b}, but only ids below ${256 + k} exist at that point`);
      }
      tok[256 + k] = tok[a] + tok[b];
    }
    this.tokenLatin1 = tok;
    this.size = n;
    const canon = new Map<string, number>();
    for (let id = 0; id < n; id++) canon.set(tok[id], id); // later id wins
    const strict = new TextDecoder("utf-8", { fatal: true });
    for (const [s, id] of canon) {
      if (s.length >= 2) {
        for (let k = 1; k < s.length; k++) {
          const a = canon.get(s.slice(0, k)), b = canon.get(s.slice(k));
          if (a !== undefined && b !== undefined) this.setPair(a, b, id);
        }
      }
      try {
        this.wholeText.set(strict.decode(latin1ToBytes(s)), id);
      } catch { /* not valid UTF-8 on its own: can never be a whole chunk */ }
    }
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
    const re = this.re;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const chunk = m[0];
      // Most chunks are one token; the cache stores those as a bare number.
      const hit = this.young.get(chunk);
      const ids = hit !== undefined ? hit : this.cacheMiss(chunk);
      if (typeof ids === "number") out.push(ids);
      else for (let i = 0; i < ids.length; i++) out.push(ids[i]);
    }
  }

  /** Ids of one chunk, through the cache. */
  encodeChunk(chunk: string): readonly number[] {
    const ids = this.young.get(chunk) ?? this.cacheMiss(chunk);
    return typeof ids === "number" ? [ids] : ids;
  }

  private cacheMiss(chunk: string): number | readonly number[] {
    let ids = this.old.get(chunk);
    if (ids === undefined) {
      const list = this.encodeUncached(chunk);
      ids = list.length === 1 ? list[0] : list;
    }
    if (this.young.size >= CACHE_GENERATION) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(chunk, ids);
    return ids;
  }

  private encodeUncached(chunk: string): number[] {
    // TextEncoder writes U+FFFD for lone surrogates, so the well-formed text spells the same bytes.
    const whole = this.wholeText.get(chunk) ?? (chunk.isWellFormed() ? undefined : this.wholeText.get(chunk.toWellFormed()));
    if (whole !== undefined) return [whole];
    const bytes = this.utf8.encode(chunk);
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
    const heap = new MinHeap2(n);
    for (let i = 0; i + 1 < n; i++) {
      const r = this.rank(tok[i], tok[i + 1]);
      if (r !== NONE) heap.push(r, i);
    }
    while (heap.size > 0) {
      const r = heap.topA(), i = heap.topB();
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

export function latin1ToBytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}
