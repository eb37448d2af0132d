// Float64 CPU reference: causal scaled-dot-product attention with grouped-query heads,
// forward (output + per-row log-sum-exp) and backward (dQ, dK, dV), as a flash-attention
// kernel computes them: the backward rebuilds the probabilities from the saved lse
// instead of storing the T×T matrix.
//
// Layouts (row-major), matching the GPU model's activations:
//   q, o, dq, dO : (B, T,  H,   hd)   — c_q's output viewed as heads, no transpose
//   k, v, dk, dv : (B, Tk, Hkv, hd)
//   lse          : (B, H, T)          — natural log of Σ_j exp(scale·q·k_j)
// Query head h reads kv head floor(h / (H/Hkv)) (nanochat's repeat_interleave / enable_gqa).
// Causal: query t sits at absolute position Tk − T + t and sees keys 0 … Tk − T + t.
// With Tk = T (training) that is the usual lower triangle; with Tk > T it is a chunk
// attending to a cached prefix plus causally inside itself (decode is T = 1).
import { expectLength, type Vec } from "./linalg.ts";

export interface AttentionShape {
  B: number;
  /** Query positions per sequence. */
  T: number;
  H: number;
  Hkv: number;
  hd: number;
  /** Key/value positions per sequence (≥ T); default T. */
  Tk?: number;
  /** Score scale; default 1/sqrt(hd) (SDPA's default, which nanochat uses). */
  scale?: number;
}

function resolve(s: AttentionShape, what: string) {
  const { B, T, H, Hkv, hd } = s;
  const Tk = s.Tk ?? T;
  if (!(H > 0 && Hkv > 0 && H % Hkv === 0)) throw new RangeError(`${what}: n_kv_head ${Hkv} must divide n_head ${H}`);
  if (Tk < T) throw new RangeError(`${what}: Tk ${Tk} must be ≥ T ${T}`);
  return { B, T, H, Hkv, hd, Tk, group: H / Hkv, scale: s.scale ?? 1 / Math.sqrt(hd) };
}

/** Scaled scores of query row (b,t,h) against the keys it may see (0 … Tk−T+t). */
function scores(q: Vec, k: Vec, b: number, t: number, h: number, d: ReturnType<typeof resolve>): Float64Array {
  const { T, H, Hkv, hd, Tk, group, scale } = d;
  const kvh = Math.floor(h / group);
  const last = Tk - T + t;
  const qo = ((b * T + t) * H + h) * hd;
  const s = new Float64Array(last + 1);
  for (let j = 0; j <= last; j++) {
    const ko = ((b * Tk + j) * Hkv + kvh) * hd;
    let dot = 0;
    for (let i = 0; i < hd; i++) dot += q[qo + i] * k[ko + i];
    s[j] = dot * scale;
  }
  return s;
}

export function attentionForward(q: Vec, k: Vec, v: Vec, shape: AttentionShape): { o: Float64Array; lse: Float64Array } {
  const d = resolve(shape, "attentionForward");
  const { B, T, H, Hkv, hd, Tk, group } = d;
  expectLength("attentionForward q (B,T,H,hd)", q, B * T * H * hd);
  expectLength("attentionForward k (B,Tk,Hkv,hd)", k, B * Tk * Hkv * hd);
  expectLength("attentionForward v (B,Tk,Hkv,hd)", v, B * Tk * Hkv * hd);
  const o = new Float64Array(B * T * H * hd);
  const lse = new Float64Array(B * H * T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / group);
      for (let t = 0; t < T; t++) {
        const s = scores(q, k, b, t, h, d);
        let m = -Infinity;
        for (let j = 0; j < s.length; j++) m = Math.max(m, s[j]);
        let sum = 0;
        for (let j = 0; j < s.length; j++) sum += Math.exp(s[j] - m);
        const l = m + Math.log(sum);
        lse[(b * H + h) * T + t] = l;
        const oo = ((b * T + t) * H + h) * hd;
        for (let j = 0; j < s.length; j++) {
          const p = Math.exp(s[j] - l);
          const vo = ((b * Tk + j) * Hkv + kvh) * hd;
          for (let i = 0; i < hd; i++) o[oo + i] += p * v[vo + i];
        }
      }
    }
  }
  return { o, lse };
}

/**
 * With P_j = exp(s_j − lse) and s_j = scale·q·k_j:
 *   dv_j += P_j·dO;  dP_j = dO·v_j;  D = dO·o (= Σ_j P_j·dP_j);  dS_j = P_j·(dP_j − D);
 *   dq += scale·Σ_j dS_j·k_j;  dk_j += scale·dS_j·q.
 * dk, dv sum over every query head of the group and every query that sees the key.
 */
export function attentionBackward(
  dO: Vec, q: Vec, k: Vec, v: Vec, o: Vec, lse: Vec, shape: AttentionShape,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const d = resolve(shape, "attentionBackward");
  const { B, T, H, Hkv, hd, Tk, group, scale } = d;
  expectLength("attentionBackward dO (B,T,H,hd)", dO, B * T * H * hd);
  expectLength("attentionBackward q (B,T,H,hd)", q, B * T * H * hd);
  expectLength("attentionBackward k (B,Tk,Hkv,hd)", k, B * Tk * Hkv * hd);
  expectLength("attentionBackward v (B,Tk,Hkv,hd)", v, B * Tk * Hkv * hd);
  expectLength("attentionBackward o (B,T,H,hd)", o, B * T * H * hd);
  expectLength("attentionBackward lse (B,H,T)", lse, B * H * T);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / group);
      for (let t = 0; t < T; t++) {
        const s = scores(q, k, b, t, h, d);
        const l = lse[(b * H + h) * T + t];
        const qo = ((b * T + t) * H + h) * hd;
        let D = 0;
        for (let i = 0; i < hd; i++) D += dO[qo + i] * o[qo + i];
        for (let j = 0; j < s.length; j++) {
          const p = Math.exp(s[j] - l);
          const ko = ((b * Tk + j) * Hkv + kvh) * hd;
          let dp = 0;
          for (let i = 0; i < hd; i++) dp += dO[qo + i] * v[ko + i];
          const ds = p * (dp - D);
          for (let i = 0; i < hd; i++) {
            dv[ko + i] += p * dO[qo + i];
            dq[qo + i] += scale * ds * k[ko + i];
            dk[ko + i] += scale * ds * q[qo + i];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}
