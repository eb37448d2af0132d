// A hash set of substrings, looked up by (text, start, end) without creating the
// substring first. Chunk counting and the encoder's chunk cache do one lookup per
// regex match; profiling showed V8's Map.get on freshly sliced strings cost three times
// the regex itself, because each match is a new string that must be created and hashed.
// Here we hash the characters in place (FNV-1a) and compare with startsWith, and only
// materialize a substring when it is new. It also has no 2^24 entry cap, unlike Map.

export class StringTable {
  /** Entry index -> key. */
  keys: string[] = [];
  private hashes: Int32Array;
  /** Slot -> entry index + 1 (0 = empty). */
  private slots: Int32Array;
  private mask: number;

  constructor(capacity = 1 << 12) {
    let n = 16;
    while (n < capacity * 2) n *= 2;
    this.slots = new Int32Array(n);
    this.mask = n - 1;
    this.hashes = new Int32Array(Math.max(16, capacity));
  }

  get size(): number {
    return this.keys.length;
  }

  static hash(text: string, start: number, end: number): number {
    let h = 0x811c9dc5 | 0;
    for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    return h;
  }

  /** Entry index of text[start, end), or -1; `h` must be StringTable.hash of it. */
  find(text: string, start: number, end: number, h: number): number {
    const len = end - start, keys = this.keys, slots = this.slots, mask = this.mask;
    let s = h & mask;
    for (;;) {
      const v = slots[s];
      if (v === 0) return -1;
      const i = v - 1;
      if (this.hashes[i] === h) {
        const k = keys[i];
        if (k.length === len && text.startsWith(k, start)) return i;
      }
      s = (s + 1) & mask;
    }
  }

  /** Adds a key known to be absent; returns its entry index. */
  insert(key: string, h: number): number {
    const i = this.keys.length;
    this.keys.push(key);
    if (i >= this.hashes.length) {
      const g = new Int32Array(this.hashes.length * 2);
      g.set(this.hashes);
      this.hashes = g;
    }
    this.hashes[i] = h;
    if (this.keys.length * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    else this.place(i);
    return i;
  }

  private place(i: number): void {
    let s = this.hashes[i] & this.mask;
    while (this.slots[s] !== 0) s = (s + 1) & this.mask;
    this.slots[s] = i + 1;
  }

  private rehash(n: number): void {
    this.slots = new Int32Array(n);
    this.mask = n - 1;
    for (let i = 0; i < this.keys.length; i++) this.place(i);
  }

  /** Forgets every key (keeps the allocated slots). */
  clear(): void {
    this.keys = [];
    this.slots.fill(0);
  }
}
