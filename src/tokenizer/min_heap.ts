// A min-heap of int pairs (a, b) ordered by a, then b: the encoder's (rank, position)
// queue for long chunks. Typed arrays keep it allocation-free per push.

export class MinHeap2 {
  private a: Int32Array;
  private b: Int32Array;
  size = 0;

  constructor(capacity = 64) {
    this.a = new Int32Array(Math.max(4, capacity));
    this.b = new Int32Array(Math.max(4, capacity));
  }

  push(x: number, y: number): void {
    if (this.size === this.a.length) {
      const a = new Int32Array(this.size * 2), b = new Int32Array(this.size * 2);
      a.set(this.a);
      b.set(this.b);
      this.a = a;
      this.b = b;
    }
    const A = this.a, B = this.b;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (A[p] < x || (A[p] === x && B[p] <= y)) break;
      A[i] = A[p];
      B[i] = B[p];
      i = p;
    }
    A[i] = x;
    B[i] = y;
  }

  topA(): number {
    return this.a[0];
  }

  topB(): number {
    return this.b[0];
  }

  pop(): void {
    const n = --this.size;
    if (n === 0) return;
    const A = this.a, B = this.b;
    const x = A[n], y = B[n];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && (A[r] < A[l] || (A[r] === A[l] && B[r] < B[l])) ? r : l;
      if (x < A[c] || (x === A[c] && y <= B[c])) break;
      A[i] = A[c];
      B[i] = B[c];
      i = c;
    }
    A[i] = x;
    B[i] = y;
  }
}
