// Token streams cut into training batches, the reference way: every batch takes the next
// B*T+1 tokens of the stream; inputs are the first B*T, targets the same shifted by one,
// both read row-major as (B, T). The extra token is only ever a target, so consecutive
// batches share no tokens. Used by the pretraining loader and mid-training packing.

export interface Batch {
  /** (B, T) row-major token ids. */
  inputs: Int32Array;
  /** (B, T) row-major next-token ids; -1 = no loss at that position (chat batches). */
  targets: Int32Array;
  B: number;
  T: number;
}

/** A FIFO of token ids in one growable Int32Array (no per-token objects). */
export class TokenQueue {
  private buf: Int32Array;
  private start = 0;
  private end = 0;

  constructor(initial: ArrayLike<number> = []) {
    this.buf = new Int32Array(Math.max(1024, initial.length));
    this.pushAll(initial);
  }

  get length(): number {
    return this.end - this.start;
  }

  private reserve(extra: number): void {
    if (this.end + extra <= this.buf.length) return;
    const live = this.length;
    // Compact in place when half the buffer is consumed space; else grow.
    if (live + extra <= this.buf.length / 2) {
      this.buf.copyWithin(0, this.start, this.end);
    } else {
      const next = new Int32Array(Math.max(this.buf.length * 2, live + extra));
      next.set(this.buf.subarray(this.start, this.end));
      this.buf = next;
    }
    this.start = 0;
    this.end = live;
  }

  push(id: number): void {
    this.reserve(1);
    this.buf[this.end++] = id;
  }

  pushAll(ids: ArrayLike<number>): void {
    this.reserve(ids.length);
    this.buf.set(ids, this.end);
    this.end += ids.length;
  }

  /** Removes and returns the first n ids (a copy). */
  take(n: number): Int32Array {
    if (n > this.length) throw new Error(`TokenQueue.take(${n}) with only ${this.length} tokens`);
    const out = this.buf.slice(this.start, this.start + n);
    this.start += n;
    if (this.start === this.end) this.start = this.end = 0;
    return out;
  }

  toArray(): number[] {
    return Array.from(this.buf.subarray(this.start, this.end));
  }
}

export function checkShape(B: number, T: number): void {
  for (const [k, v] of [["B", B], ["T", T]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer, got ${v}`);
  }
}

/** B*T+1 consecutive tokens -> inputs (first B*T) and targets (shifted by one). */
export function toBatch(chunk: Int32Array, B: number, T: number): Batch {
  const n = B * T;
  if (chunk.length !== n + 1) throw new RangeError(`a (${B}, ${T}) batch needs ${n + 1} tokens, got ${chunk.length}`);
  return { inputs: chunk.slice(0, n), targets: chunk.slice(1, n + 1), B, T };
}
