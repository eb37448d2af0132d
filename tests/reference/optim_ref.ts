// Float64 CPU references of the optimizers, written from the reference formulas
// (nanochat-pipeline.md, "Optimizers"), for checking the GPU kernels.

export interface AdamWRefState {
  m: Float64Array;
  v: Float64Array;
  t: number;
}

export function adamwRefStep(
  p: Float64Array, g: ArrayLike<number>, s: AdamWRefState,
  h: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number },
): void {
  s.t += 1;
  const stepSize = h.lr * Math.sqrt(1 - h.beta2 ** s.t) / (1 - h.beta1 ** s.t);
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - h.lr * h.weightDecay;
    s.m[i] = h.beta1 * s.m[i] + (1 - h.beta1) * g[i];
    s.v[i] = h.beta2 * s.v[i] + (1 - h.beta2) * g[i] * g[i];
    p[i] -= stepSize * s.m[i] / (Math.sqrt(s.v[i]) + h.eps);
  }
}

/** C (m×n) = A (m×k) · B (k×n), all row-major float64. */
function mm(A: Float64Array, B: Float64Array, m: number, k: number, n: number): Float64Array {
  const C = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let l = 0; l < k; l++) {
      const a = A[i * k + l];
      for (let j = 0; j < n; j++) C[i * n + j] += a * B[l * n + j];
    }
  }
  return C;
}

function transpose(A: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const T = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) T[c * rows + r] = A[r * cols + c];
  return T;
}

/** Quintic Newton–Schulz on G (rows×cols) exactly as the reference orders it; returns rows×cols. */
export function newtonSchulzRef(G: ArrayLike<number>, rows: number, cols: number, steps = 5): Float64Array {
  const [a, b, c] = [3.4445, -4.775, 2.0315];
  const tall = rows > cols;
  let X = tall ? transpose(G, rows, cols) : Float64Array.from(G);
  const m = Math.min(rows, cols), n = Math.max(rows, cols);
  let norm = 0;
  for (const x of X) norm += x * x;
  norm = Math.sqrt(norm) + 1e-7;
  X = X.map((x) => x / norm);
  for (let s = 0; s < steps; s++) {
    const A = mm(X, transpose(X, m, n), m, n, m);
    const AA = mm(A, A, m, m, m);
    const B = A.map((x, i) => b * x + c * AA[i]);
    const BX = mm(B, X, m, m, n);
    X = X.map((x, i) => a * x + BX[i]);
  }
  return tall ? transpose(X, m, n) : X;
}

export interface MuonRefState {
  buf: Float64Array;
}

export function muonRefStep(p: Float64Array, g: ArrayLike<number>, s: MuonRefState, rows: number, cols: number, lr: number, mu: number): void {
  const U = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    s.buf[i] = mu * s.buf[i] + (1 - mu) * g[i];
    U[i] = (1 - mu) * g[i] + mu * s.buf[i];
  }
  const X = newtonSchulzRef(U, rows, cols);
  const scale = lr * Math.sqrt(Math.max(1, rows / cols));
  for (let i = 0; i < p.length; i++) p[i] -= scale * X[i];
}

/** Singular values of M (rows×cols) via Jacobi eigenvalues of the smaller Gram matrix. */
export function singularValues(M: ArrayLike<number>, rows: number, cols: number): number[] {
  const tall = rows > cols;
  const X = tall ? transpose(M, rows, cols) : Float64Array.from(M);
  const m = Math.min(rows, cols), n = Math.max(rows, cols);
  const S = mm(X, transpose(X, m, n), m, n, m); // m×m symmetric
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) off += S[i * m + j] ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < m; p++) {
      for (let q = p + 1; q < m; q++) {
        const apq = S[p * m + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (S[q * m + q] - S[p * m + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const cs = 1 / Math.sqrt(t * t + 1), sn = t * cs;
        for (let k = 0; k < m; k++) {
          const skp = S[k * m + p], skq = S[k * m + q];
          S[k * m + p] = cs * skp - sn * skq;
          S[k * m + q] = sn * skp + cs * skq;
        }
        for (let k = 0; k < m; k++) {
          const spk = S[p * m + k], sqk = S[q * m + k];
          S[p * m + k] = cs * spk - sn * sqk;
          S[q * m + k] = sn * spk + cs * sqk;
        }
      }
    }
  }
  const out: number[] = [];
  for (let i = 0; i < m; i++) out.push(Math.sqrt(Math.max(0, S[i * m + i])));
  return out.sort((x, y) => x - y);
}
