// A hash map from a pair of token ids (a, b) to a dense index 0, 1, 2, ...
//
// Training and encoding look pairs up millions of times. A JS Map keyed by a*V+b
// stops being fast once keys leave the small-integer range (vocabularies near 2^16
// give keys near 2^32, stored as heap numbers), so this is open addressing with
// linear probing over typed arrays. Entries are never removed: a pair whose count
// drops to zero simply stays, which keeps probing simple.

export class PairTable {
  /** Slot -> dense index + 1 (0 = empty). */
  private slots: Int32Array;
  private mask: number;
  /** Dense index -> left / right id. */
  left: Int32Array;
  right: Int32Array;
  size = 0;

  constructor(capacity = 1024) {
    let n = 16;
    while (n < capacity * 2) n *= 2;
    this.slots = new Int32Array(n);
    this.mask = n - 1;
    this.left = new Int32Array(Math.max(16, capacity));
    this.right = new Int32Array(Math.max(16, capacity));
  }

  private static hash(a: number, b: number): number {
    // Multiply-xorshift mix of both ids; ids are < 2^31.
    let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    return (h ^ (h >>> 13)) >>> 0;
  }

  /** Dense index of (a, b), or -1. */
  get(a: number, b: number): number {
    const slots = this.slots, mask = this.mask;
    let s = PairTable.hash(a, b) & mask;
    for (;;) {
      const v = slots[s];
      if (v === 0) return -1;
      const i = v - 1;
      if (this.left[i] === a && this.right[i] === b) return i;
      s = (s + 1) & mask;
    }
  }

  /** Dense index of (a, b), inserting it (with the next index) when absent. */
  intern(a: number, b: number): number {
    const mask = this.mask;
    let s = PairTable.hash(a, b) & mask;
    for (;;) {
      const v = this.slots[s];
      if (v === 0) break;
      const i = v - 1;
      if (this.left[i] === a && this.right[i] === b) return i;
      s = (s + 1) & mask;
    }
    const i = this.size++;
    if (i >= this.left.length) {
      this.left = grow(this.left, this.left.length * 2);
      this.right = grow(this.right, this.right.length * 2);
    }
    this.left[i] = a;
    this.right[i] = b;
    this.slots[s] = i + 1;
    if (this.size * 2 > this.slots.length) this.rehash();
    return i;
  }

  private rehash(): void {
    const n = this.slots.length * 2;
    this.slots = new Int32Array(n);
    this.mask = n - 1;
    for (let i = 0; i < this.size; i++) {
      let s = PairTable.hash(this.left[i], this.right[i]) & this.mask;
      while (this.slots[s] !== 0) s = (s + 1) & this.mask;
      this.slots[s] = i + 1;
    }
  }
}

/** A copy of `a` with room for `n` elements. */
export function grow<T extends Int32Array | Float64Array>(a: T, n: number): T {
  const b = new (a.constructor as { new (n: number): T })(n);
  b.set(a);
  return b;
}
