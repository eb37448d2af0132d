// The float64 reference attention: forward against a second, naive implementation
// (k/v heads repeat-interleaved to H heads as nanochat's 3a5e0bc does, full masked score
// matrix), causality, the chunk-with-prefix case, and the backward by finite differences
// for GQA ratios 1, 2 and n_head.
import assert from "node:assert/strict";
import { Rng } from "../../src/util/rng.ts";
import { attentionBackward, attentionForward, type AttentionShape } from "../reference/attention.ts";
import { checkOpGrad, randn } from "../reference/gradcheck.ts";

const TOL = 1e-6;

/** Naive SDPA: repeat_interleave k,v to H heads, build the (T, Tk) masked score matrix, softmax. */
function naiveAttention(q: Float64Array, k: Float64Array, v: Float64Array, s: Required<Omit<AttentionShape, "scale">>) {
  const { B, T, H, Hkv, hd, Tk } = s;
  const rep = H / Hkv;
  const kx = new Float64Array(B * Tk * H * hd), vx = new Float64Array(B * Tk * H * hd);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < Tk; j++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < hd; i++) {
          // repeat_interleave: expanded head h is source head h // rep.
          kx[((b * Tk + j) * H + h) * hd + i] = k[((b * Tk + j) * Hkv + Math.floor(h / rep)) * hd + i];
          vx[((b * Tk + j) * H + h) * hd + i] = v[((b * Tk + j) * Hkv + Math.floor(h / rep)) * hd + i];
        }
      }
    }
  }
  const o = new Float64Array(B * T * H * hd), lse = new Float64Array(B * H * T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const S: number[][] = [];
      for (let t = 0; t < T; t++) {
        S.push([]);
        for (let j = 0; j < Tk; j++) {
          let d = 0;
          for (let i = 0; i < hd; i++) d += q[((b * T + t) * H + h) * hd + i] * kx[((b * Tk + j) * H + h) * hd + i];
          S[t].push(j <= Tk - T + t ? d / Math.sqrt(hd) : -Infinity);
        }
      }
      for (let t = 0; t < T; t++) {
        const sum = S[t].reduce((a, x) => a + Math.exp(x), 0);
        lse[(b * H + h) * T + t] = Math.log(sum);
        for (let j = 0; j < Tk; j++) {
          const p = Math.exp(S[t][j]) / sum;
          for (let i = 0; i < hd; i++) o[((b * T + t) * H + h) * hd + i] += p * vx[((b * Tk + j) * H + h) * hd + i];
        }
      }
    }
  }
  return { o, lse };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// [B, T, H, Hkv, hd, Tk]: GQA ratio 1 (MHA), 2, and n_head (one kv head); odd sizes.
const SHAPES: number[][] = [
  [1, 1, 1, 1, 2, 1],
  [2, 5, 4, 4, 6, 5],
  [2, 7, 4, 2, 8, 7],
  [1, 6, 6, 3, 4, 6],
  [2, 5, 3, 1, 6, 5],
  [1, 9, 8, 1, 10, 9],
  [2, 3, 4, 2, 6, 8],   // a chunk of 3 queries after a 5-token prefix
  [1, 1, 6, 2, 8, 7],   // decode: one query, 6 cached keys + itself
];

Deno.test("reference attention forward matches naive masked SDPA (GQA ratios 1, 2, n_head; prefix chunks)", () => {
  const rng = new Rng(11);
  for (const [B, T, H, Hkv, hd, Tk] of SHAPES) {
    const q = randn(rng, B * T * H * hd), k = randn(rng, B * Tk * Hkv * hd), v = randn(rng, B * Tk * Hkv * hd);
    const ref = attentionForward(q, k, v, { B, T, H, Hkv, hd, Tk });
    const naive = naiveAttention(q, k, v, { B, T, H, Hkv, hd, Tk });
    const what = `B${B} T${T} H${H} Hkv${Hkv} hd${hd} Tk${Tk}`;
    assert.ok(maxAbsDiff(ref.o, naive.o) < 1e-12, `${what}: o`);
    assert.ok(maxAbsDiff(ref.lse, naive.lse) < 1e-12, `${what}: lse`);
  }
});

Deno.test("reference attention: large scores stay finite (max-shifted softmax)", () => {
  const rng = new Rng(12);
  const s = { B: 1, T: 4, H: 2, Hkv: 1, hd: 4 };
  const q = randn(rng, 4 * 2 * 4, 60), k = randn(rng, 4 * 1 * 4, 60), v = randn(rng, 4 * 1 * 4);
  const { o, lse } = attentionForward(q, k, v, s);
  assert.ok([...o, ...lse].every(Number.isFinite));
});

Deno.test("reference attention is causal: a key/value at position j changes no query before j", () => {
  const rng = new Rng(13);
  const s = { B: 2, T: 6, H: 4, Hkv: 2, hd: 4 };
  const q = randn(rng, 2 * 6 * 4 * 4), k = randn(rng, 2 * 6 * 2 * 4), v = randn(rng, 2 * 6 * 2 * 4);
  const base = attentionForward(q, k, v, s);
  const j = 3;
  const k2 = k.slice(), v2 = v.slice();
  for (let b = 0; b < 2; b++) for (let i = 0; i < 2 * 4; i++) {
    k2[(b * 6 + j) * 8 + i] += 1;
    v2[(b * 6 + j) * 8 + i] -= 2;
  }
  const moved = attentionForward(q, k2, v2, s);
  for (let b = 0; b < 2; b++) {
    for (let t = 0; t < 6; t++) {
      const row = (b * 6 + t) * 16;
      const d = maxAbsDiff(base.o.subarray(row, row + 16), moved.o.subarray(row, row + 16));
      if (t < j) assert.equal(d, 0, `t=${t} must not see position ${j}`);
      else assert.ok(d > 1e-6, `t=${t} must see position ${j}`);
    }
  }
  // A chunk attending to a cached prefix gives the same rows as the full causal pass.
  const tail = attentionForward(q.subarray(4 * 16 * 1, 6 * 16), k.subarray(0, 6 * 8), v.subarray(0, 6 * 8), { ...s, B: 1, T: 2, Tk: 6 });
  assert.ok(maxAbsDiff(tail.o, base.o.subarray(4 * 16, 6 * 16)) < 1e-14);
});

Deno.test("reference attention backward: dQ, dK, dV by finite differences (GQA ratios 1, 2, n_head; prefix chunks)", () => {
  const rng = new Rng(14);
  for (const [B, T, H, Hkv, hd, Tk] of SHAPES) {
    const s = { B, T, H, Hkv, hd, Tk };
    const q = randn(rng, B * T * H * hd), k = randn(rng, B * Tk * Hkv * hd), v = randn(rng, B * Tk * Hkv * hd);
    const errs = checkOpGrad(rng, { q, k, v }, () => attentionForward(q, k, v, s).o, (dO) => {
      const { o, lse } = attentionForward(q, k, v, s);
      const g = attentionBackward(dO, q, k, v, o, lse, s);
      return { q: g.dq, k: g.dk, v: g.dv };
    }, { maxEntries: 160 });
    const what = `B${B} T${T} H${H} Hkv${Hkv} hd${hd} Tk${Tk}`;
    for (const [name, e] of Object.entries(errs)) assert.ok(e < TOL, `${what}: d${name} relative error ${e.toExponential(2)}`);
  }
});

Deno.test("reference attention rejects inconsistent shapes", () => {
  const z = new Float64Array(2 * 3 * 4);
  assert.throws(() => attentionForward(z, z, z, { B: 1, T: 2, H: 3, Hkv: 2, hd: 4 }), RangeError);
  assert.throws(() => attentionForward(z, z, z, { B: 1, T: 2, H: 3, Hkv: 3, hd: 4, Tk: 1 }), RangeError);
  assert.throws(() => attentionForward(z, z.subarray(1), z, { B: 1, T: 2, H: 3, Hkv: 3, hd: 4 }), RangeError);
});
