// A binary heap of (key, id) entries kept in typed arrays, so a push allocates nothing,
// ordered by a `before` rule given once. Two queues use it:
//   - BPE training's merge candidates: (count snapshot, pair index), the larger count
//     first and among equal counts the smaller (left, right) pair — the reference's tie
//     rule. Snapshots go stale as merges lower counts; the trainer refreshes lazily (pop,
//     compare with the live count, push back if it dropped), which is why counts live here.
//   - the encoder's long-chunk merges: (rank, position), the lowest rank first, then the
//     leftmost position.
import { grow } from "./pair_table.ts";

/** True when entry (keyA, idA) must come out before (keyB, idB). */
export type HeapOrder = (keyA: number, idA: number, keyB: number, idB: number) => boolean;

/** Smallest key first, then smallest id. */
export const ASCENDING: HeapOrder = (ka, ia, kb, ib) => ka < kb || (ka === kb && ia < ib);

export class Heap {
  private keys: Float64Array;
  private ids: Int32Array;
  size = 0;

  constructor(private readonly before: HeapOrder, capacity = 1024) {
    this.keys = new Float64Array(Math.max(4, capacity));
    this.ids = new Int32Array(Math.max(4, capacity));
  }

  push(key: number, id: number): void {
    if (this.size === this.ids.length) {
      this.keys = grow(this.keys, this.size * 2);
      this.ids = grow(this.ids, this.size * 2);
    }
    const keys = this.keys, ids = this.ids, before = this.before;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(key, id, keys[p], ids[p])) break;
      keys[i] = keys[p];
      ids[i] = ids[p];
      i = p;
    }
    keys[i] = key;
    ids[i] = id;
  }

  topKey(): number {
    return this.keys[0];
  }

  topId(): number {
    return this.ids[0];
  }

  pop(): void {
    const n = --this.size;
    if (n === 0) return;
    const keys = this.keys, ids = this.ids, before = this.before;
    const key = keys[n], id = ids[n];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(keys[r], ids[r], keys[l], ids[l]) ? r : l;
      if (!before(keys[c], ids[c], key, id)) break;
      keys[i] = keys[c];
      ids[i] = ids[c];
      i = c;
    }
    keys[i] = key;
    ids[i] = id;
  }
}
