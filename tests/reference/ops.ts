// Float64 CPU reference: the pointwise and per-row ops of nanochat's GPT, forward and
// backward — embedding, RMSNorm (no weight), rotary, ReLU², residual add.
// Conventions (row-major, explicit shapes, new Float64Array outputs): see linalg.ts.
import { expectLength, type Vec } from "./linalg.ts";

// ---------------------------------------------------------------------------------------
// Embedding: out[n, :] = wte[idx[n], :]

/** out (N, C) = rows of wte (V, C) picked by idx (N). */
export function embeddingForward(wte: Vec, idx: Vec, N: number, V: number, C: number): Float64Array {
  expectLength("embeddingForward wte (V,C)", wte, V * C);
  expectLength("embeddingForward idx (N)", idx, N);
  const out = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    const id = idx[n];
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`embeddingForward: token id ${id} at ${n} is outside [0, ${V})`);
    for (let c = 0; c < C; c++) out[n * C + c] = wte[id * C + c];
  }
  return out;
}

/** dwte (V, C): each row of dout (N, C) added into the row of its token; rows sharing an id accumulate. */
export function embeddingBackward(dout: Vec, idx: Vec, N: number, V: number, C: number): Float64Array {
  expectLength("embeddingBackward dout (N,C)", dout, N * C);
  expectLength("embeddingBackward idx (N)", idx, N);
  const dwte = new Float64Array(V * C);
  for (let n = 0; n < N; n++) {
    const id = idx[n];
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`embeddingBackward: token id ${id} at ${n} is outside [0, ${V})`);
    for (let c = 0; c < C; c++) dwte[id * C + c] += dout[n * C + c];
  }
  return dwte;
}

// ---------------------------------------------------------------------------------------
// RMSNorm without weight over the last dim: y = x · rstd, rstd = 1/sqrt(mean(x²) + eps)

/**
 * F.rms_norm(x, (dim,)) with eps=None uses torch.finfo(dtype).eps, i.e. float32's machine
 * epsilon 2^-23 for float32 (and bf16/fp16 under autocast): 1.1920928955078125e-7.
 */
export const RMS_EPS = 2 ** -23;

/** y (rows, dim) and the per-row rstd (rows) that the backward reuses. */
export function rmsnormForward(x: Vec, rows: number, dim: number, eps = RMS_EPS): { y: Float64Array; rstd: Float64Array } {
  expectLength("rmsnormForward x (rows,dim)", x, rows * dim);
  const y = new Float64Array(rows * dim);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[r * dim + i] * x[r * dim + i];
    const s = 1 / Math.sqrt(ss / dim + eps);
    rstd[r] = s;
    for (let i = 0; i < dim; i++) y[r * dim + i] = x[r * dim + i] * s;
  }
  return { y, rstd };
}

/**
 * dx = rstd·dy − rstd³·x·(Σ dy·x)/dim, per row.
 * (∂rstd/∂x_j = −rstd³·x_j/dim, so dx_j = rstd·dy_j + Σ_i dy_i·x_i·∂rstd/∂x_j.)
 */
export function rmsnormBackward(dy: Vec, x: Vec, rstd: Vec, rows: number, dim: number): Float64Array {
  expectLength("rmsnormBackward dy (rows,dim)", dy, rows * dim);
  expectLength("rmsnormBackward x (rows,dim)", x, rows * dim);
  expectLength("rmsnormBackward rstd (rows)", rstd, rows);
  const dx = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const s = rstd[r];
    let dot = 0;
    for (let i = 0; i < dim; i++) dot += dy[r * dim + i] * x[r * dim + i];
    const k = (s * s * s * dot) / dim;
    for (let i = 0; i < dim; i++) dx[r * dim + i] = s * dy[r * dim + i] - k * x[r * dim + i];
  }
  return dx;
}

// ---------------------------------------------------------------------------------------
// Rotary, half-split (nanochat's apply_rotary_emb): per head, x1 = channels [0, hd/2),
// x2 = [hd/2, hd); y1 = x1·cos + x2·sin, y2 = −x1·sin + x2·cos (a rotation by −θ).

export interface RotaryShape {
  B: number;
  T: number;
  /** Heads in this tensor (n_head for q, n_kv_head for k). */
  heads: number;
  hd: number;
  /** Position of row t = 0 (the KV-cache length when decoding); default 0. */
  posOffset?: number;
}

function rotary(x: Vec, cos: Vec, sin: Vec, s: RotaryShape, inverse: boolean, what: string): Float64Array {
  const { B, T, heads, hd } = s;
  const pos0 = s.posOffset ?? 0;
  if (hd % 2 !== 0) throw new RangeError(`${what}: head_dim ${hd} must be even`);
  const half = hd / 2;
  expectLength(`${what} x (B,T,heads,hd)`, x, B * T * heads * hd);
  if (cos.length < (pos0 + T) * half || sin.length < (pos0 + T) * half) {
    throw new RangeError(`${what}: cos/sin tables hold fewer than posOffset+T = ${pos0 + T} rows of hd/2 = ${half}`);
  }
  const y = new Float64Array(x.length);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = (pos0 + t) * half;
      for (let h = 0; h < heads; h++) {
        const base = ((b * T + t) * heads + h) * hd;
        for (let i = 0; i < half; i++) {
          const c = cos[row + i], sn = inverse ? -sin[row + i] : sin[row + i];
          const x1 = x[base + i], x2 = x[base + half + i];
          y[base + i] = x1 * c + x2 * sn;
          y[base + half + i] = -x1 * sn + x2 * c;
        }
      }
    }
  }
  return y;
}

/** y (B,T,heads,hd) from x (B,T,heads,hd); cos/sin tables (positions, hd/2), row = posOffset + t. */
export function rotaryForward(x: Vec, cos: Vec, sin: Vec, s: RotaryShape): Float64Array {
  return rotary(x, cos, sin, s, false, "rotaryForward");
}

/**
 * The rotation is orthogonal, so dx is dy rotated back by +θ (the transpose):
 * dx1 = dy1·cos − dy2·sin, dx2 = dy1·sin + dy2·cos.
 */
export function rotaryBackward(dy: Vec, cos: Vec, sin: Vec, s: RotaryShape): Float64Array {
  return rotary(dy, cos, sin, s, true, "rotaryBackward");
}

// ---------------------------------------------------------------------------------------
// ReLU² and the residual add

/** y = relu(x)² elementwise. */
export function relu2Forward(x: Vec): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] > 0 ? x[i] * x[i] : 0;
  return y;
}

/** dx = dy · 2·relu(x) (continuous at 0, so no subgradient choice is involved). */
export function relu2Backward(dy: Vec, x: Vec): Float64Array {
  expectLength("relu2Backward dy", dy, x.length);
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) dx[i] = x[i] > 0 ? 2 * x[i] * dy[i] : 0;
  return dx;
}

/** Residual add y = a + b. Its backward passes dy unchanged to both inputs. */
export function residualAdd(a: Vec, b: Vec): Float64Array {
  expectLength("residualAdd b", b, a.length);
  const y = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) y[i] = a[i] + b[i];
  return y;
}
