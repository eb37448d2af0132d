// Float64 CPU reference: matrix products and nn.Linear (no bias), forward and backward.
//
// Conventions for the whole reference (tests/reference/*):
// - every tensor is a flat row-major array; shapes are passed explicitly and checked;
// - inputs are ArrayLike<number> (Float32Array from the GPU or Float64Array), outputs are
//   new Float64Arrays — nothing is modified in place;
// - plain loops, written to be read next to the kernels, not to be fast.

export type Vec = ArrayLike<number>;

/** Throws if `a` does not hold exactly `n` values. `what` names the op and the argument. */
export function expectLength(what: string, a: Vec, n: number): void {
  if (a.length !== n) throw new RangeError(`${what}: expected ${n} values, got ${a.length}`);
}

/** C (M,N) = A (M,K) · B (K,N). */
export function matmulAB(A: Vec, B: Vec, M: number, K: number, N: number): Float64Array {
  expectLength("matmulAB A (M,K)", A, M * K);
  expectLength("matmulAB B (K,N)", B, K * N);
  const C = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[m * K + k] * B[k * N + n];
      C[m * N + n] = s;
    }
  }
  return C;
}

/** C (M,N) = A (M,K) · Bᵀ, with B stored (N,K). */
export function matmulABt(A: Vec, B: Vec, M: number, K: number, N: number): Float64Array {
  expectLength("matmulABt A (M,K)", A, M * K);
  expectLength("matmulABt B (N,K)", B, N * K);
  const C = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[m * K + k] * B[n * K + k];
      C[m * N + n] = s;
    }
  }
  return C;
}

/** C (M,N) = Aᵀ · B, with A stored (K,M) and B stored (K,N). */
export function matmulAtB(A: Vec, B: Vec, K: number, M: number, N: number): Float64Array {
  expectLength("matmulAtB A (K,M)", A, K * M);
  expectLength("matmulAtB B (K,N)", B, K * N);
  const C = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[k * M + m] * B[k * N + n];
      C[m * N + n] = s;
    }
  }
  return C;
}

/** nn.Linear without bias: y (rows, out) = x (rows, in) · Wᵀ, W stored (out, in) as in PyTorch. */
export function linearForward(x: Vec, w: Vec, rows: number, inF: number, outF: number): Float64Array {
  return matmulABt(x, w, rows, inF, outF);
}

/**
 * Backward of linearForward: dx (rows, in) = dy · W, dW (out, in) = dyᵀ · x.
 * dW is this call's gradient only; summing over uses (e.g. accumulation steps) is the caller's.
 */
export function linearBackward(
  dy: Vec, x: Vec, w: Vec, rows: number, inF: number, outF: number,
): { dx: Float64Array; dw: Float64Array } {
  return {
    dx: matmulAB(dy, w, rows, outF, inF),
    dw: matmulAtB(dy, x, rows, outF, inF),
  };
}
