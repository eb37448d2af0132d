// Causal scaled-dot-product attention with grouped-query heads, flash style: the
// forward streams K/V tiles through workgroup memory with an online softmax and keeps
// only the output and the per-row log-sum-exp; the backward (FlashAttention-2 order)
// recomputes the probabilities from q, k and that lse. Nothing T×T is ever stored, in
// workgroup memory or in buffers: memory is linear in T.
//
// Layouts (row-major, float32):
//   q, o, dO, dq : (B, T, H, hd)        (a linear layer's output viewed as heads)
//   k, v, dk, dv : (B, kvRows, Hkv, hd)  (rows 0 … Tk−1 of each batch are used)
//   lse, delta   : (B, H, T)
// Query head h reads kv head h / (H/Hkv). Query row i sits at absolute position
// Tk − T + i and sees keys 0 … Tk − T + i (Tk = T in training: the lower triangle).
//
// Entry points:
//   forward        o, lse from q, k, v                 grid (⌈T/BQ⌉, H, B)
//   backward_prep  delta_i = Σ_d dO_i·o_i              grid1d over B·T·H rows
//   backward_dq    dq from q, k, v, dO, lse, delta     grid (⌈T/BQ⌉, H, B)
//   backward_dkdv  dk, dv (sum over the GQA group)     grid (⌈Tk/BK⌉, Hkv, B)
// The backward has no atomics: dq is owned by query-row workgroups, dk/dv by key-row
// workgroups that loop over their group's query heads in a fixed order, so the same
// inputs give bitwise-identical gradients on every run.
//
// Threads: a workgroup is TD×R threads, R = BQ (forward, dq) or BK (dkdv) rows with TD
// threads per row. Scores of a row are split over its TD threads (entry jj goes to
// thread jj % TD); the row's output dims are split the same way (dim d to thread d % TD),
// so each thread holds at most DPT accumulators and hd ≤ TD·DPT (≤ MAX_HD).
// Tiles are stored with a row stride HS = HDP + 1 (HDP ≥ hd, set by the host) so the
// TD threads of a row, which read TD different tile rows at once, hit different banks.

struct Params {
  B: u32,
  T: u32,       // query rows per sequence
  Tk: u32,      // key rows per sequence (≥ T)
  kvRows: u32,  // rows per batch in the k/v buffers (≥ Tk)
  H: u32,
  Hkv: u32,
  hd: u32,
  scale: f32,
}

const MAX_HD: u32 = 128u;
const DPT: u32 = 16u;          // accumulators per thread: hd ≤ TD·DPT
const NEG: f32 = -3.0e38;      // "minus infinity" for masked scores and the initial max

override TD: u32 = 8u;         // threads per row
override BQ: u32 = 16u;        // query rows per tile
override BK: u32 = 16u;        // key rows per tile
override HDP: u32 = 64u;       // head-dim capacity of the tiles (hd ≤ HDP ≤ MAX_HD)
override HS: u32 = HDP + 1u;   // tile row stride (padded)
override PREP_WG: u32 = 64u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> o: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
@group(0) @binding(6) var<storage, read> dO: array<f32>;
@group(0) @binding(7) var<storage, read_write> delta: array<f32>;
@group(0) @binding(8) var<storage, read_write> dq: array<f32>;
@group(0) @binding(9) var<storage, read_write> dk: array<f32>;
@group(0) @binding(10) var<storage, read_write> dv: array<f32>;

// Workgroup tiles. Each entry point uses only its own, so each pipeline's workgroup
// memory is what its entry point touches (the host checks it against the limit):
//   forward: 4·(BQ·HS + 2·BK·HS + BQ·BK) bytes
//   dq:      4·(2·BQ·HS + 2·BK·HS + BQ·BK)
//   dkdv:    4·(2·BK·HS + 2·BQ·HS + 2·BK·BQ + 2·BQ)
var<workgroup> fq: array<f32, BQ * HS>;
var<workgroup> fk: array<f32, BK * HS>;
var<workgroup> fv: array<f32, BK * HS>;
var<workgroup> fs: array<f32, BQ * BK>;

var<workgroup> gq: array<f32, BQ * HS>;
var<workgroup> gdo: array<f32, BQ * HS>;
var<workgroup> gk: array<f32, BK * HS>;
var<workgroup> gv: array<f32, BK * HS>;
var<workgroup> gs: array<f32, BQ * BK>;

var<workgroup> kk: array<f32, BK * HS>;
var<workgroup> kv: array<f32, BK * HS>;
var<workgroup> kq: array<f32, BQ * HS>;
var<workgroup> kdo: array<f32, BQ * HS>;
var<workgroup> kp: array<f32, BK * BQ>;
var<workgroup> kds: array<f32, BK * BQ>;
var<workgroup> klse: array<f32, BQ>;
var<workgroup> kdelta: array<f32, BQ>;

// Element (b, i, h, d) of a (B, T, H, hd) tensor.
fn qIndex(b: u32, i: u32, h: u32, d: u32) -> u32 {
  return ((b * params.T + i) * params.H + h) * params.hd + d;
}

// Element (b, j, h, d) of a (B, kvRows, Hkv, hd) tensor.
fn kvIndex(b: u32, j: u32, h: u32, d: u32) -> u32 {
  return ((b * params.kvRows + j) * params.Hkv + h) * params.hd + d;
}

// Element (b, h, i) of a (B, H, T) tensor.
fn rowIndex(b: u32, h: u32, i: u32) -> u32 {
  return (b * params.H + h) * params.T + i;
}

@compute @workgroup_size(TD, BQ)
fn forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = lid.x;
  let r = lid.y;
  let tid = r * TD + c;
  let threads = TD * BQ;
  let b = wg.z;
  let h = wg.y;
  let q0 = wg.x * BQ;
  let T = params.T;
  let Tk = params.Tk;
  let hd = params.hd;
  let kvh = h / (params.H / params.Hkv);
  let off = Tk - T;

  for (var e = tid; e < BQ * hd; e += threads) {
    let rr = e / hd;
    let d = e % hd;
    var x = 0.0;
    if (q0 + rr < T) { x = q[qIndex(b, q0 + rr, h, d)]; }
    fq[rr * HS + d] = x;
  }

  let i = q0 + r;
  let last = off + min(q0 + BQ, T) - 1u; // the tile's last row sees keys up to here
  let nKeys = min(Tk, last + 1u);
  let seen = off + i;                     // this row sees keys j ≤ seen

  var m = NEG;
  var l = 0.0;
  var acc: array<f32, DPT>;
  for (var t = 0u; t < DPT; t++) { acc[t] = 0.0; }

  for (var j0 = 0u; j0 < nKeys; j0 += BK) {
    // Only the first kEnd keys of the tile are visible to any row of the workgroup; rows
    // past kEnd are neither loaded nor read.
    let kEnd = min(BK, nKeys - j0);
    workgroupBarrier(); // the previous tile is consumed (and the Q tile is in place)
    for (var e = tid; e < kEnd * hd; e += threads) {
      let jj = e / hd;
      let d = e % hd;
      var kx = 0.0;
      var vx = 0.0;
      if (j0 + jj < Tk) {
        let idx = kvIndex(b, j0 + jj, kvh, d);
        kx = k[idx];
        vx = v[idx];
      }
      fk[jj * HS + d] = kx;
      fv[jj * HS + d] = vx;
    }
    workgroupBarrier();

    for (var jj = c; jj < kEnd; jj += TD) {
      let j = j0 + jj;
      var s = NEG;
      if (j <= seen && j < Tk) {
        var dot = 0.0;
        for (var d = 0u; d < hd; d++) { dot = fma(fq[r * HS + d], fk[jj * HS + d], dot); }
        s = dot * params.scale;
      }
      fs[r * BK + jj] = s;
    }
    workgroupBarrier();

    // Online softmax: every thread of the row runs the same max/sum over the row's scores.
    var mNew = m;
    for (var jj = 0u; jj < kEnd; jj++) { mNew = max(mNew, fs[r * BK + jj]); }
    let alpha = exp(m - mNew);
    l *= alpha;
    for (var t = 0u; t < DPT; t++) { acc[t] *= alpha; }
    for (var jj = 0u; jj < kEnd; jj++) {
      let s = fs[r * BK + jj];
      if (s == NEG) { continue; }
      let p = exp(s - mNew);
      l += p;
      for (var t = 0u; t < DPT; t++) {
        let d = c + t * TD;
        if (d >= hd) { break; }
        acc[t] = fma(p, fv[jj * HS + d], acc[t]);
      }
    }
    m = mNew;
  }

  if (i < T) {
    let inv = 1.0 / l;
    for (var t = 0u; t < DPT; t++) {
      let d = c + t * TD;
      if (d >= hd) { break; }
      o[qIndex(b, i, h, d)] = acc[t] * inv;
    }
    if (c == 0u) { lse[rowIndex(b, h, i)] = m + log(l); }
  }
}

// delta_i = Σ_d dO_i·o_i (= Σ_j P_ij·dP_ij), one thread per (b, i, h) row.
@compute @workgroup_size(PREP_WG)
fn backward_prep(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.y * (nwg.x * PREP_WG) + gid.x;
  let H = params.H;
  let T = params.T;
  if (row >= params.B * T * H) { return; }
  let h = row % H;
  let i = (row / H) % T;
  let b = row / (H * T);
  let base = row * params.hd;
  var sum = 0.0;
  for (var d = 0u; d < params.hd; d++) { sum = fma(dO[base + d], o[base + d], sum); }
  delta[rowIndex(b, h, i)] = sum;
}

// dq_i = scale · Σ_j dS_ij k_j with dS_ij = P_ij (dO_i·v_j − delta_i), P_ij = exp(s_ij − lse_i).
@compute @workgroup_size(TD, BQ)
fn backward_dq(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = lid.x;
  let r = lid.y;
  let tid = r * TD + c;
  let threads = TD * BQ;
  let b = wg.z;
  let h = wg.y;
  let q0 = wg.x * BQ;
  let T = params.T;
  let Tk = params.Tk;
  let hd = params.hd;
  let kvh = h / (params.H / params.Hkv);
  let off = Tk - T;

  for (var e = tid; e < BQ * hd; e += threads) {
    let rr = e / hd;
    let d = e % hd;
    var x = 0.0;
    var g = 0.0;
    if (q0 + rr < T) {
      let idx = qIndex(b, q0 + rr, h, d);
      x = q[idx];
      g = dO[idx];
    }
    gq[rr * HS + d] = x;
    gdo[rr * HS + d] = g;
  }

  let i = q0 + r;
  var rowLse = 0.0;
  var rowDelta = 0.0;
  if (i < T) {
    rowLse = lse[rowIndex(b, h, i)];
    rowDelta = delta[rowIndex(b, h, i)];
  }
  let last = off + min(q0 + BQ, T) - 1u;
  let nKeys = min(Tk, last + 1u);
  let seen = off + i;

  var acc: array<f32, DPT>;
  for (var t = 0u; t < DPT; t++) { acc[t] = 0.0; }

  for (var j0 = 0u; j0 < nKeys; j0 += BK) {
    let kEnd = min(BK, nKeys - j0);
    workgroupBarrier();
    for (var e = tid; e < kEnd * hd; e += threads) {
      let jj = e / hd;
      let d = e % hd;
      var kx = 0.0;
      var vx = 0.0;
      if (j0 + jj < Tk) {
        let idx = kvIndex(b, j0 + jj, kvh, d);
        kx = k[idx];
        vx = v[idx];
      }
      gk[jj * HS + d] = kx;
      gv[jj * HS + d] = vx;
    }
    workgroupBarrier();

    for (var jj = c; jj < kEnd; jj += TD) {
      let j = j0 + jj;
      var ds = 0.0;
      if (j <= seen && j < Tk && i < T) {
        var dot = 0.0;
        var dp = 0.0;
        for (var d = 0u; d < hd; d++) {
          dot = fma(gq[r * HS + d], gk[jj * HS + d], dot);
          dp = fma(gdo[r * HS + d], gv[jj * HS + d], dp);
        }
        let p = exp(dot * params.scale - rowLse);
        ds = p * (dp - rowDelta);
      }
      gs[r * BK + jj] = ds;
    }
    workgroupBarrier();

    for (var jj = 0u; jj < kEnd; jj++) {
      let ds = gs[r * BK + jj];
      for (var t = 0u; t < DPT; t++) {
        let d = c + t * TD;
        if (d >= hd) { break; }
        acc[t] = fma(ds, gk[jj * HS + d], acc[t]);
      }
    }
  }

  if (i < T) {
    for (var t = 0u; t < DPT; t++) {
      let d = c + t * TD;
      if (d >= hd) { break; }
      dq[qIndex(b, i, h, d)] = acc[t] * params.scale;
    }
  }
}

// dv_j = Σ_h Σ_i P_ij dO_i and dk_j = scale · Σ_h Σ_i dS_ij q_i over the query heads h
// of kv head j's group and the queries i that see key j. The K/V tile stays in workgroup
// memory; query tiles stream past it.
@compute @workgroup_size(TD, BK)
fn backward_dkdv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = lid.x;
  let r = lid.y; // key row within the tile
  let tid = r * TD + c;
  let threads = TD * BK;
  let b = wg.z;
  let kvh = wg.y;
  let j0 = wg.x * BK;
  let T = params.T;
  let Tk = params.Tk;
  let hd = params.hd;
  let group = params.H / params.Hkv;
  let off = Tk - T;
  let j = j0 + r;

  for (var e = tid; e < BK * hd; e += threads) {
    let jj = e / hd;
    let d = e % hd;
    var kx = 0.0;
    var vx = 0.0;
    if (j0 + jj < Tk) {
      let idx = kvIndex(b, j0 + jj, kvh, d);
      kx = k[idx];
      vx = v[idx];
    }
    kk[jj * HS + d] = kx;
    kv[jj * HS + d] = vx;
  }

  // Query i sees key j0 iff off + i ≥ j0: earlier query rows see nothing of this tile.
  var iStart = 0u;
  if (j0 > off) { iStart = j0 - off; }

  var accK: array<f32, DPT>;
  var accV: array<f32, DPT>;
  for (var t = 0u; t < DPT; t++) {
    accK[t] = 0.0;
    accV[t] = 0.0;
  }

  for (var g = 0u; g < group; g++) {
    let h = kvh * group + g;
    for (var i0 = iStart; i0 < T; i0 += BQ) {
      let qEnd = min(BQ, T - i0);
      workgroupBarrier(); // the previous query tile is consumed (and the K/V tile is in place)
      for (var e = tid; e < qEnd * hd; e += threads) {
        let ii = e / hd;
        let d = e % hd;
        var x = 0.0;
        var gr = 0.0;
        if (i0 + ii < T) {
          let idx = qIndex(b, i0 + ii, h, d);
          x = q[idx];
          gr = dO[idx];
        }
        kq[ii * HS + d] = x;
        kdo[ii * HS + d] = gr;
      }
      for (var ii = tid; ii < qEnd; ii += threads) {
        var ls = 0.0;
        var dl = 0.0;
        if (i0 + ii < T) {
          ls = lse[rowIndex(b, h, i0 + ii)];
          dl = delta[rowIndex(b, h, i0 + ii)];
        }
        klse[ii] = ls;
        kdelta[ii] = dl;
      }
      workgroupBarrier();

      for (var ii = c; ii < qEnd; ii += TD) {
        let i = i0 + ii;
        var p = 0.0;
        var ds = 0.0;
        if (i < T && j < Tk && j <= off + i) {
          var dot = 0.0;
          var dp = 0.0;
          for (var d = 0u; d < hd; d++) {
            dot = fma(kq[ii * HS + d], kk[r * HS + d], dot);
            dp = fma(kdo[ii * HS + d], kv[r * HS + d], dp);
          }
          p = exp(dot * params.scale - klse[ii]);
          ds = p * (dp - kdelta[ii]);
        }
        kp[r * BQ + ii] = p;
        kds[r * BQ + ii] = ds;
      }
      workgroupBarrier();

      for (var ii = 0u; ii < qEnd; ii++) {
        let p = kp[r * BQ + ii];
        let ds = kds[r * BQ + ii];
        for (var t = 0u; t < DPT; t++) {
          let d = c + t * TD;
          if (d >= hd) { break; }
          accV[t] = fma(p, kdo[ii * HS + d], accV[t]);
          accK[t] = fma(ds, kq[ii * HS + d], accK[t]);
        }
      }
    }
  }

  if (j < Tk) {
    for (var t = 0u; t < DPT; t++) {
      let d = c + t * TD;
      if (d >= hd) { break; }
      let idx = kvIndex(b, j, kvh, d);
      dk[idx] = accK[t] * params.scale;
      dv[idx] = accV[t];
    }
  }
}

// ---------------------------------------------------------------- decode
// One new query row per sequence (T = 1) against Tk cached keys: the KV-cache decode
// step. The forward's tiles would leave all but one query row idle, so this entry
// spreads the keys over the workgroup instead (flash-decoding within one workgroup):
// each chunk of DW keys is scored one key per thread, the chunk's max and sum come from
// tree reductions, and each thread accumulates hd/DW of the output dims over the chunk.
// The query sits at position Tk − 1 and sees every key 0 … Tk − 1.
// Grid (H, B); workgroup memory 4·(MAX_HD + 2·DW) bytes.

override DW: u32 = 64u;          // threads per workgroup = keys per chunk (power of two, ≥ 32)
const DEC_DIMS: u32 = 4u;        // output dims per thread: hd ≤ DW·DEC_DIMS (MAX_HD / 32)

var<workgroup> decQ: array<f32, MAX_HD>;
var<workgroup> decP: array<f32, DW>;
var<workgroup> decRed: array<f32, DW>;

fn decode_tree(tid: u32, v: f32, isMax: bool) -> f32 {
  decRed[tid] = v;
  workgroupBarrier();
  for (var s = DW / 2u; s > 0u; s = s / 2u) {
    if (tid < s) {
      if (isMax) { decRed[tid] = max(decRed[tid], decRed[tid + s]); } else { decRed[tid] += decRed[tid + s]; }
    }
    workgroupBarrier();
  }
  let r = decRed[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(DW)
fn decode(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let h = wg.x;
  let b = wg.y;
  let hd = params.hd;
  let Tk = params.Tk;
  let kvh = h / (params.H / params.Hkv);
  for (var d = tid; d < hd; d += DW) { decQ[d] = q[qIndex(b, 0u, h, d)]; }
  workgroupBarrier();

  var m = NEG;
  var l = 0.0;
  var acc: array<f32, DEC_DIMS>;
  for (var t = 0u; t < DEC_DIMS; t++) { acc[t] = 0.0; }

  for (var j0 = 0u; j0 < Tk; j0 += DW) {
    let j = j0 + tid;
    var s = NEG;
    if (j < Tk) {
      var dot = 0.0;
      for (var d = 0u; d < hd; d++) { dot = fma(decQ[d], k[kvIndex(b, j, kvh, d)], dot); }
      s = dot * params.scale;
    }
    let mNew = max(m, decode_tree(tid, s, true));
    var p = 0.0;
    if (j < Tk) { p = exp(s - mNew); }
    decP[tid] = p;
    let alpha = exp(m - mNew);
    l = l * alpha + decode_tree(tid, p, false); // its barriers also publish decP
    let n = min(DW, Tk - j0);
    for (var t = 0u; t < DEC_DIMS; t++) {
      let d = tid + t * DW;
      if (d >= hd) { break; }
      var a = acc[t] * alpha;
      for (var jj = 0u; jj < n; jj++) { a = fma(decP[jj], v[kvIndex(b, j0 + jj, kvh, d)], a); }
      acc[t] = a;
    }
    m = mNew;
    workgroupBarrier(); // decP is read by everyone before the next chunk rewrites it
  }

  let inv = 1.0 / l;
  for (var t = 0u; t < DEC_DIMS; t++) {
    let d = tid + t * DW;
    if (d >= hd) { break; }
    o[qIndex(b, 0u, h, d)] = acc[t] * inv;
  }
  if (tid == 0u) { lse[rowIndex(b, h, 0u)] = m + log(l); }
}
