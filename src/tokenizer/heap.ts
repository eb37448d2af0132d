// Priority queue of merge candidates for BPE training.
//
// Each entry is (pair index, count snapshot). The order is the reference's tie rule:
// the larger count first, and among equal counts the smaller (left, right) pair.
// Snapshots go stale as merges lower counts; the trainer refreshes lazily (pop, compare
// with the live count, push back if it dropped), which is why counts live in the heap.

import { grow } from "./pair_table.ts";

export class PairHeap {
  private idx = new Int32Array(1024);
  private cnt = new Float64Array(1024);
  size = 0;

  constructor(private left: () => Int32Array, private right: () => Int32Array) {}

  /** True when entry (ia, ca) must come out before (ib, cb). */
  private before(ia: number, ca: number, ib: number, cb: number): boolean {
    if (ca !== cb) return ca > cb;
    const L = this.left(), R = this.right();
    if (L[ia] !== L[ib]) return L[ia] < L[ib];
    return R[ia] < R[ib];
  }

  push(pair: number, count: number): void {
    if (this.size === this.idx.length) {
      this.idx = grow(this.idx, this.size * 2);
      this.cnt = grow(this.cnt, this.size * 2);
    }
    let i = this.size++;
    const idx = this.idx, cnt = this.cnt;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(pair, count, idx[p], cnt[p])) break;
      idx[i] = idx[p];
      cnt[i] = cnt[p];
      i = p;
    }
    idx[i] = pair;
    cnt[i] = count;
  }

  topPair(): number {
    return this.idx[0];
  }

  topCount(): number {
    return this.cnt[0];
  }

  pop(): void {
    const n = --this.size;
    if (n === 0) return;
    const idx = this.idx, cnt = this.cnt;
    const pair = idx[n], count = cnt[n];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(idx[r], cnt[r], idx[l], cnt[l]) ? r : l;
      if (!this.before(idx[c], cnt[c], pair, count)) break;
      idx[i] = idx[c];
      cnt[i] = cnt[c];
      i = c;
    }
    idx[i] = pair;
    cnt[i] = count;
  }
}
