// Causal GQA flash attention (kernels/attention.wgsl via src/nn/attention.ts) against the
// float64 reference in tests/reference/attention.ts (same layouts: q/o (B,T,H,hd),
// k/v (B,Tk,Hkv,hd), lse (B,H,T)). Shapes cover T = 1, odd T (7, 33), T = 256, hd 16, 24,
// 32, 64 and 128, GQA ratios 1, 2 and n_head (MQA), B = 1 and 2, a chunk attending to a
// cached prefix (Tk > T), the largest and smallest tiles, and a backward run twice that
// must give bitwise-identical gradients.
//
// Bounds: forward outputs o and lse 1e-5 relative, gradients dq, dk, dv 1e-4 relative
// (float32 with fma and the adapters' exp/log). Observed on these cases, lavapipe (Deno)
// and SwiftShader (Chromium) alike: o ≤ 2.9e-7, lse ≤ 8e-8, dq/dk/dv ≤ 5.6e-7. Gradient
// errors grow with the score range (scale·|q·k| up to ~100 gave 3e-6), hence the margin.
// The backward cases feed the reference's o and lse (rounded to float32) to the kernels, so
// they test the backward alone; the determinism case chains the GPU forward into it.
import type { Gpu } from "../../../src/gpu/device.ts";
import { GpuError } from "../../../src/gpu/device.ts";
import { type Op, runOps } from "../../../src/gpu/kernel.ts";
import { createTensor, fillTensorBits, NAN_BITS, readF32, type Tensor, uploadTensor } from "../../../src/gpu/tensor.ts";
import {
  attentionBackwardOps, attentionForwardOp, type AttentionShape, type AttentionTile,
} from "../../../src/nn/attention.ts";
import { attentionBackward, attentionForward } from "../../reference/attention.ts";
import { freshRng, type KernelCase, randomF32, relErr } from "../harness.ts";

const FORWARD_BOUND = 1e-5;
const GRAD_BOUND = 1e-4;

interface Inputs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  dO: Float32Array;
}

/** q and k scaled up so the softmax is far from uniform (scores of several units). */
function randomInputs(s: AttentionShape): Inputs {
  const rng = freshRng();
  const Tk = s.Tk ?? s.T, kvRows = s.kvRows ?? Tk;
  return {
    q: randomF32(rng, s.B * s.T * s.H * s.hd, 2),
    k: randomF32(rng, s.B * kvRows * s.Hkv * s.hd, 2),
    v: randomF32(rng, s.B * kvRows * s.Hkv * s.hd),
    dO: randomF32(rng, s.B * s.T * s.H * s.hd),
  };
}

/** Rows 0 … Tk−1 of each batch of a (B, kvRows, Hkv, hd) array: what the reference reads. */
function firstRows(x: Float32Array, s: AttentionShape): Float32Array {
  const Tk = s.Tk ?? s.T, kvRows = s.kvRows ?? Tk, row = s.Hkv * s.hd;
  if (kvRows === Tk) return x;
  const out = new Float32Array(s.B * Tk * row);
  for (let b = 0; b < s.B; b++) out.set(x.subarray(b * kvRows * row, (b * kvRows + Tk) * row), b * Tk * row);
  return out;
}

function poisoned(gpu: Gpu, n: number, label: string): Tensor {
  const t = createTensor(gpu, [n], "f32", label);
  fillTensorBits(t, NAN_BITS);
  return t;
}

function shapeName(s: AttentionShape, tile?: Partial<AttentionTile>): string {
  const Tk = s.Tk ?? s.T;
  return `B=${s.B} T=${s.T}${Tk !== s.T ? ` Tk=${Tk}` : ""}${s.kvRows ? ` kvRows=${s.kvRows}` : ""} H=${s.H} Hkv=${s.Hkv} hd=${s.hd}` +
    (tile ? ` tile ${JSON.stringify(tile)}` : "");
}

function errors(pairs: [string, Float32Array, ArrayLike<number>][]): { relErr: number; detail: string } {
  let worst = 0;
  const parts: string[] = [];
  for (const [name, out, ref] of pairs) {
    const e = relErr(out, ref);
    worst = Math.max(worst, e);
    parts.push(`${name} ${e.toExponential(2)}`);
  }
  return { relErr: worst, detail: parts.join(", ") };
}

async function forwardCase(gpu: Gpu, s: AttentionShape, tile?: Partial<AttentionTile>, decode?: boolean) {
  const x = randomInputs(s);
  const Tk = s.Tk ?? s.T;
  const kvRows = s.kvRows ?? Tk;
  const tq = uploadTensor(gpu, x.q, [s.B * s.T * s.H * s.hd], "q");
  const tk = uploadTensor(gpu, x.k, [s.B * kvRows * s.Hkv * s.hd], "k");
  const tv = uploadTensor(gpu, x.v, [s.B * kvRows * s.Hkv * s.hd], "v");
  const to = poisoned(gpu, s.B * s.T * s.H * s.hd, "o");
  const tlse = poisoned(gpu, s.B * s.H * s.T, "lse");
  const op = await attentionForwardOp(gpu, { q: tq, k: tk, v: tv, o: to, lse: tlse }, s, { tile, decode });
  if (decode !== undefined && op.entry !== (decode ? "decode" : "forward")) throw new Error(`expected the ${decode ? "decode" : "forward"} entry, got ${op.entry}`);
  await runOps(gpu, [op]);
  const ref = attentionForward(x.q, firstRows(x.k, s), firstRows(x.v, s), { ...s, Tk });
  const r = errors([["o", await readF32(to), ref.o], ["lse", await readF32(tlse), ref.lse]]);
  for (const t of [tq, tk, tv, to, tlse]) t.destroy();
  return { ...r, bound: FORWARD_BOUND };
}

async function backwardCase(gpu: Gpu, s: AttentionShape, tile?: Partial<AttentionTile>) {
  const x = randomInputs(s);
  const fwd = attentionForward(x.q, x.k, x.v, s);
  const o = Float32Array.from(fwd.o), lse = Float32Array.from(fwd.lse);
  const nq = s.B * s.T * s.H * s.hd, nkv = s.B * (s.Tk ?? s.T) * s.Hkv * s.hd;
  const t = {
    q: uploadTensor(gpu, x.q, [nq], "q"), k: uploadTensor(gpu, x.k, [nkv], "k"), v: uploadTensor(gpu, x.v, [nkv], "v"),
    o: uploadTensor(gpu, o, [nq], "o"), lse: uploadTensor(gpu, lse, [s.B * s.H * s.T], "lse"),
    dO: uploadTensor(gpu, x.dO, [nq], "dO"),
    dq: poisoned(gpu, nq, "dq"), dk: poisoned(gpu, nkv, "dk"), dv: poisoned(gpu, nkv, "dv"),
    delta: poisoned(gpu, s.B * s.H * s.T, "delta"),
  };
  const ops = await attentionBackwardOps(gpu, t, s, { tile });
  await runOps(gpu, ops);
  const ref = attentionBackward(x.dO, x.q, x.k, x.v, o, lse, s);
  const r = errors([["dq", await readF32(t.dq), ref.dq], ["dk", await readF32(t.dk), ref.dk], ["dv", await readF32(t.dv), ref.dv]]);
  ops.destroy();
  for (const tt of Object.values(t)) tt.destroy();
  return { ...r, bound: GRAD_BOUND };
}

/**
 * GPU forward → backward, the backward recorded twice into fresh NaN-poisoned outputs:
 * the two sets of gradients must be bitwise identical, and match the reference.
 * relErr is the reference error when the runs agree and Infinity when any bit differs.
 */
async function determinismCase(gpu: Gpu, s: AttentionShape) {
  const x = randomInputs(s);
  const nq = s.B * s.T * s.H * s.hd, nkv = s.B * s.T * s.Hkv * s.hd;
  const q = uploadTensor(gpu, x.q, [nq], "q"), k = uploadTensor(gpu, x.k, [nkv], "k"), v = uploadTensor(gpu, x.v, [nkv], "v");
  const dO = uploadTensor(gpu, x.dO, [nq], "dO");
  const o = poisoned(gpu, nq, "o"), lse = poisoned(gpu, s.B * s.H * s.T, "lse");
  const runs: Float32Array[][] = [];
  const all: Tensor[] = [q, k, v, dO, o, lse];
  let ops: Op[] = [await attentionForwardOp(gpu, { q, k, v, o, lse }, s)];
  for (let run = 0; run < 2; run++) {
    const dq = poisoned(gpu, nq, "dq"), dk = poisoned(gpu, nkv, "dk"), dv = poisoned(gpu, nkv, "dv");
    all.push(dq, dk, dv);
    const bwd = await attentionBackwardOps(gpu, { q, k, v, o, lse, dO, dq, dk, dv }, s);
    await runOps(gpu, [...ops, ...bwd]);
    ops = [];
    runs.push([await readF32(dq), await readF32(dk), await readF32(dv)]);
    bwd.destroy();
  }
  const fwd = attentionForward(x.q, x.k, x.v, s);
  const ref = attentionBackward(x.dO, x.q, x.k, x.v, fwd.o, fwd.lse, s);
  let differing = 0;
  for (let n = 0; n < 3; n++) {
    const a = new Uint32Array(runs[0][n].buffer), b = new Uint32Array(runs[1][n].buffer);
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differing++;
  }
  const r = errors([["dq", runs[0][0], ref.dq], ["dk", runs[0][1], ref.dk], ["dv", runs[0][2], ref.dv]]);
  for (const t of all) t.destroy();
  return {
    relErr: differing ? Infinity : r.relErr,
    bound: GRAD_BOUND,
    detail: `${differing} words differ between the two runs; vs reference: ${r.detail}`,
  };
}

/** Wrong sizes and unsupported shapes must throw a GpuError naming the op, before any dispatch. */
async function rejectsCase(gpu: Gpu) {
  const s: AttentionShape = { B: 1, T: 4, H: 2, Hkv: 1, hd: 8 };
  const made: Tensor[] = [];
  const mk = (n: number) => {
    const t = createTensor(gpu, [n], "f32", "x");
    made.push(t);
    return t;
  };
  const q = mk(64), kv = mk(32), lse = mk(8);
  const bad: [string, () => Promise<unknown>][] = [
    ["k sized for Hkv=2", () => attentionForwardOp(gpu, { q, k: mk(64), v: kv, o: mk(64), lse }, s)],
    ["lse too short", () => attentionForwardOp(gpu, { q, k: kv, v: kv, o: mk(64), lse: mk(4) }, s)],
    ["H % Hkv != 0", () => attentionForwardOp(gpu, { q, k: kv, v: kv, o: mk(64), lse }, { ...s, Hkv: 3 })],
    ["odd hd", () => attentionForwardOp(gpu, { q, k: kv, v: kv, o: mk(64), lse }, { ...s, hd: 7 })],
    ["hd > 128", () => attentionForwardOp(gpu, { q, k: kv, v: kv, o: mk(64), lse }, { ...s, hd: 130 })],
    ["dk sized like q", () => attentionBackwardOps(gpu, { q, k: kv, v: kv, o: q, lse, dO: q, dq: q, dk: q, dv: kv }, s)],
  ];
  const missed: string[] = [];
  for (const [what, f] of bad) {
    try {
      await f();
      missed.push(what);
    } catch (err) {
      if (!(err instanceof GpuError) || !/attention/.test(err.message)) missed.push(`${what} (${(err as Error).message})`);
    }
  }
  for (const t of made) t.destroy();
  return { relErr: missed.length ? Infinity : 0, bound: 1, detail: `not rejected with a GpuError: ${missed.join("; ")}` };
}

function fwd(s: AttentionShape, tile?: Partial<AttentionTile>): KernelCase {
  return { name: `attention forward ${shapeName(s, tile)}`, run: (gpu) => forwardCase(gpu, s, tile, s.T === 1 ? false : undefined) };
}

/** The T = 1 decode entry (one query row per sequence against a KV cache). */
function dec(s: AttentionShape): KernelCase {
  return { name: `attention decode ${shapeName(s)}`, run: (gpu) => forwardCase(gpu, s, undefined, true) };
}

/** A cache being filled: the same buffers with a growing key length (setKeyLength), decode entry. */
async function growingCacheCase(gpu: Gpu) {
  const s: AttentionShape = { B: 2, T: 1, Tk: 70, kvRows: 70, H: 4, Hkv: 2, hd: 32 };
  const x = randomInputs(s);
  const tq = uploadTensor(gpu, x.q), tk = uploadTensor(gpu, x.k), tv = uploadTensor(gpu, x.v);
  const to = poisoned(gpu, x.q.length, "o"), tlse = poisoned(gpu, s.B * s.H, "lse");
  const op = await attentionForwardOp(gpu, { q: tq, k: tk, v: tv, o: to, lse: tlse }, { ...s, Tk: 1 });
  let worst = 0;
  for (const Tk of [1, 2, 63, 64, 65, 70]) {
    op.setKeyLength(Tk);
    await runOps(gpu, [op]);
    const ref = attentionForward(x.q, firstRows(x.k, { ...s, Tk }), firstRows(x.v, { ...s, Tk }), { B: s.B, T: s.T, H: s.H, Hkv: s.Hkv, hd: s.hd, Tk });
    worst = Math.max(worst, errors([["o", await readF32(to), ref.o], ["lse", await readF32(tlse), ref.lse]]).relErr);
  }
  for (const t of [tq, tk, tv, to, tlse]) t.destroy();
  return { relErr: worst, bound: FORWARD_BOUND, detail: "Tk = 1, 2, 63, 64, 65, 70 on one binding" };
}

function bwd(s: AttentionShape, tile?: Partial<AttentionTile>): KernelCase {
  return { name: `attention backward ${shapeName(s, tile)}`, run: (gpu) => backwardCase(gpu, s, tile) };
}

export const attentionCases: KernelCase[] = [
  fwd({ B: 1, T: 1, H: 2, Hkv: 2, hd: 16 }),
  fwd({ B: 2, T: 7, H: 4, Hkv: 2, hd: 32 }),
  fwd({ B: 1, T: 33, H: 4, Hkv: 1, hd: 24 }),
  fwd({ B: 2, T: 33, H: 2, Hkv: 2, hd: 64 }),
  fwd({ B: 1, T: 256, H: 4, Hkv: 2, hd: 32 }),
  fwd({ B: 1, T: 20, H: 2, Hkv: 1, hd: 128 }),
  fwd({ B: 2, T: 128, H: 1, Hkv: 1, hd: 128 }), // the tiny config's training shape (several full tiles)
  fwd({ B: 2, T: 1, Tk: 9, kvRows: 12, H: 4, Hkv: 2, hd: 16 }), // one row against a KV cache, tiled entry
  dec({ B: 2, T: 1, Tk: 9, kvRows: 12, H: 4, Hkv: 2, hd: 16 }),
  dec({ B: 1, T: 1, Tk: 1, H: 2, Hkv: 1, hd: 16 }),
  dec({ B: 8, T: 1, Tk: 100, kvRows: 128, H: 1, Hkv: 1, hd: 128 }), // the tiny config's shape, batch 8
  dec({ B: 1, T: 1, Tk: 300, kvRows: 512, H: 6, Hkv: 3, hd: 24 }),
  { name: "attention decode with a growing cache (B=2 H=4 Hkv=2 hd=32, setKeyLength)", run: (gpu) => growingCacheCase(gpu) },
  fwd({ B: 1, T: 5, Tk: 23, H: 3, Hkv: 1, hd: 32 }), // a chunk after a cached prefix
  fwd({ B: 2, T: 33, H: 4, Hkv: 2, hd: 24 }, { TD: 2, BQ: 4, BK: 3 }),
  bwd({ B: 1, T: 1, H: 2, Hkv: 2, hd: 16 }),
  bwd({ B: 2, T: 7, H: 4, Hkv: 2, hd: 32 }),
  bwd({ B: 1, T: 33, H: 4, Hkv: 1, hd: 24 }),
  bwd({ B: 2, T: 33, H: 2, Hkv: 2, hd: 64 }),
  bwd({ B: 1, T: 256, H: 4, Hkv: 2, hd: 32 }),
  bwd({ B: 1, T: 20, H: 2, Hkv: 1, hd: 128 }),
  bwd({ B: 2, T: 128, H: 1, Hkv: 1, hd: 128 }),
  bwd({ B: 1, T: 5, Tk: 23, H: 3, Hkv: 1, hd: 32 }),
  bwd({ B: 2, T: 33, H: 4, Hkv: 2, hd: 24 }, { TD: 2, BQ: 4, BK: 3 }),
  { name: "attention backward twice: bitwise-identical dq, dk, dv (B=2 T=37 H=4 Hkv=2 hd=32)", run: (gpu) => determinismCase(gpu, { B: 2, T: 37, H: 4, Hkv: 2, hd: 32 }) },
  { name: "attention rejects wrong shapes with a GpuError", run: (gpu) => rejectsCase(gpu) },
];
