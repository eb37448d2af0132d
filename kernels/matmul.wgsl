// Tiled float32 matrix multiply:  C = alpha · op(A) · op(B)   (or C += ... when ACCUMULATE)
//
// op(A) is M×K and op(B) is K×N. With TRANS_A the buffer holds A as K×M (row stride lda),
// with TRANS_B it holds B as N×K; that covers the forward (x·Wᵀ) and both backward
// products (dY·W and dYᵀ·X) of a linear layer without any transpose copies.
// Batches (grid z) step through A, B and C by their own element strides, so attention's
// per-head products and the Newton–Schulz iterations use the same kernel.
//
// Each workgroup computes a BM×BN tile of C, with BM = WG_Y·TM and BN = WG_X·TN.
// Per K-step it stages a BM×BK slice of op(A) and a BK×BN slice of op(B) in workgroup
// memory; each thread then accumulates a TM×TN = 8×8 block in registers. A thread owns rows
// ty + i·WG_Y and columns tx + j·WG_X (strided, not blocked), so neighbouring threads
// read neighbouring words of the B tile and write neighbouring words of C.
// Out-of-range elements load as zero and are never stored, so any M, N, K works.
//
// The 8×8 block is written out by hand (sixteen vec4 accumulators, one line per row)
// rather than as loops over a register array: software adapters (lavapipe) keep a
// loop-indexed array in memory, and there the inner product costs ~2.5× as much. An 8×8
// block also loads 16 tile words per 64 FMAs instead of 8 per 16 with 4×4 blocks, which is
// what bounds a CPU running the threads in SIMD lanes; GPUs take the same shape well.

struct Params {
  M: u32, N: u32, K: u32,
  lda: u32, ldb: u32, ldc: u32,      // row strides (elements) of the stored matrices
  strideA: u32, strideB: u32, strideC: u32, // batch strides (elements)
  offA: u32, offB: u32, offC: u32,    // element offsets of batch 0
  alpha: f32,
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override ACCUMULATE: bool = false;
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
override BK: u32 = 16u;
const TM: u32 = 8u;
const TN: u32 = 8u;
override BM: u32 = WG_Y * TM;
override BN: u32 = WG_X * TN;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> tileA: array<f32, BK * BM>; // [k][m]
var<workgroup> tileB: array<f32, BK * BN>; // [k][n]

fn loadA(base: u32, m: u32, k: u32) -> f32 {
  if (m >= params.M || k >= params.K) { return 0.0; }
  if (TRANS_A) { return a[base + k * params.lda + m]; }
  return a[base + m * params.lda + k];
}

fn loadB(base: u32, k: u32, n: u32) -> f32 {
  if (k >= params.K || n >= params.N) { return 0.0; }
  if (TRANS_B) { return b[base + n * params.ldb + k]; }
  return b[base + k * params.ldb + n];
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tx = lid.x;
  let ty = lid.y;
  let tid = ty * WG_X + tx;
  let threads = WG_X * WG_Y;
  let row0 = wg.y * BM;
  let col0 = wg.x * BN;
  let baseA = params.offA + wg.z * params.strideA;
  let baseB = params.offB + wg.z * params.strideB;
  let baseC = params.offC + wg.z * params.strideC;

  // accR_0 holds row R's columns 0–3 (tx + j·WG_X, j < 4), accR_1 its columns 4–7.
  var acc0_0 = vec4<f32>(0.0); var acc0_1 = vec4<f32>(0.0);
  var acc1_0 = vec4<f32>(0.0); var acc1_1 = vec4<f32>(0.0);
  var acc2_0 = vec4<f32>(0.0); var acc2_1 = vec4<f32>(0.0);
  var acc3_0 = vec4<f32>(0.0); var acc3_1 = vec4<f32>(0.0);
  var acc4_0 = vec4<f32>(0.0); var acc4_1 = vec4<f32>(0.0);
  var acc5_0 = vec4<f32>(0.0); var acc5_1 = vec4<f32>(0.0);
  var acc6_0 = vec4<f32>(0.0); var acc6_1 = vec4<f32>(0.0);
  var acc7_0 = vec4<f32>(0.0); var acc7_1 = vec4<f32>(0.0);

  for (var k0 = 0u; k0 < params.K; k0 += BK) {
    // Stage the tiles. Walk them in the order that is contiguous in memory so
    // consecutive threads read consecutive addresses.
    for (var e = tid; e < BM * BK; e += threads) {
      var m: u32; var k: u32;
      if (TRANS_A) { k = e / BM; m = e % BM; } else { m = e / BK; k = e % BK; }
      tileA[k * BM + m] = loadA(baseA, row0 + m, k0 + k);
    }
    for (var e = tid; e < BK * BN; e += threads) {
      var k: u32; var n: u32;
      if (TRANS_B) { n = e / BK; k = e % BK; } else { k = e / BN; n = e % BN; }
      tileB[k * BN + n] = loadB(baseB, k0 + k, col0 + n);
    }
    workgroupBarrier();

    for (var k = 0u; k < BK; k++) {
      let ia = k * BM + ty;
      let ib = k * BN + tx;
      let b0 = vec4<f32>(tileB[ib], tileB[ib + WG_X], tileB[ib + 2u * WG_X], tileB[ib + 3u * WG_X]);
      let b1 = vec4<f32>(tileB[ib + 4u * WG_X], tileB[ib + 5u * WG_X], tileB[ib + 6u * WG_X], tileB[ib + 7u * WG_X]);
      let a0 = tileA[ia];            acc0_0 = fma(vec4<f32>(a0), b0, acc0_0); acc0_1 = fma(vec4<f32>(a0), b1, acc0_1);
      let a1 = tileA[ia + WG_Y];      acc1_0 = fma(vec4<f32>(a1), b0, acc1_0); acc1_1 = fma(vec4<f32>(a1), b1, acc1_1);
      let a2 = tileA[ia + 2u * WG_Y]; acc2_0 = fma(vec4<f32>(a2), b0, acc2_0); acc2_1 = fma(vec4<f32>(a2), b1, acc2_1);
      let a3 = tileA[ia + 3u * WG_Y]; acc3_0 = fma(vec4<f32>(a3), b0, acc3_0); acc3_1 = fma(vec4<f32>(a3), b1, acc3_1);
      let a4 = tileA[ia + 4u * WG_Y]; acc4_0 = fma(vec4<f32>(a4), b0, acc4_0); acc4_1 = fma(vec4<f32>(a4), b1, acc4_1);
      let a5 = tileA[ia + 5u * WG_Y]; acc5_0 = fma(vec4<f32>(a5), b0, acc5_0); acc5_1 = fma(vec4<f32>(a5), b1, acc5_1);
      let a6 = tileA[ia + 6u * WG_Y]; acc6_0 = fma(vec4<f32>(a6), b0, acc6_0); acc6_1 = fma(vec4<f32>(a6), b1, acc6_1);
      let a7 = tileA[ia + 7u * WG_Y]; acc7_0 = fma(vec4<f32>(a7), b0, acc7_0); acc7_1 = fma(vec4<f32>(a7), b1, acc7_1);
    }
    workgroupBarrier();
  }

  let m = row0 + ty;
  let n = col0 + tx;
  storeRow(baseC, m, n, acc0_0, acc0_1);
  storeRow(baseC, m + WG_Y, n, acc1_0, acc1_1);
  storeRow(baseC, m + 2u * WG_Y, n, acc2_0, acc2_1);
  storeRow(baseC, m + 3u * WG_Y, n, acc3_0, acc3_1);
  storeRow(baseC, m + 4u * WG_Y, n, acc4_0, acc4_1);
  storeRow(baseC, m + 5u * WG_Y, n, acc5_0, acc5_1);
  storeRow(baseC, m + 6u * WG_Y, n, acc6_0, acc6_1);
  storeRow(baseC, m + 7u * WG_Y, n, acc7_0, acc7_1);
}

// One thread's row of outputs: columns n0 + j·WG_X for j < 8, the ones inside C.
fn storeRow(baseC: u32, m: u32, n0: u32, lo: vec4<f32>, hi: vec4<f32>) {
  if (m >= params.M) { return; }
  store4(baseC + m * params.ldc, n0, lo);
  store4(baseC + m * params.ldc, n0 + 4u * WG_X, hi);
}

fn store4(rowBase: u32, n0: u32, v: vec4<f32>) {
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + j * WG_X;
    if (n >= params.N) { return; }
    var x = params.alpha * v[j];
    if (ACCUMULATE) { x += c[rowBase + n]; }
    c[rowBase + n] = x;
  }
}

// One thread per output element, straight from global memory: the baseline that
// `deno task bench matmul` compares the tiled kernel against. Same Params and bindings.
@compute @workgroup_size(16, 16)
fn naive(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  let m = gid.y;
  if (m >= params.M || n >= params.N) { return; }
  let baseA = params.offA + gid.z * params.strideA;
  let baseB = params.offB + gid.z * params.strideB;
  var sum = 0.0;
  for (var k = 0u; k < params.K; k++) {
    sum = fma(loadA(baseA, m, k), loadB(baseB, k, n), sum);
  }
  let idx = params.offC + gid.z * params.strideC + m * params.ldc + n;
  var v = params.alpha * sum;
  if (ACCUMULATE) { v += c[idx]; }
  c[idx] = v;
}

// Skinny products (M ≤ a few rows: decoding one token per sequence). The tiled kernel
// would compute BM = 64 rows to keep M of them, so here a workgroup of SW threads owns
// one output column n instead: the threads split K (reading A's rows and B's column
// contiguously when B is a linear layer's weight, TRANS_B), keep SM row sums each, and a
// tree reduction over the workgroup finishes all SM sums at once. Any M works (rows go
// SM at a time); grid (columns over x and y, batch).
override SW: u32 = 64u;     // threads per workgroup (power of two)
const SM: u32 = 8u;         // rows summed per pass

var<workgroup> skinnyRed: array<f32, SM * SW>;

@compute @workgroup_size(SW)
fn skinny(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) tid: u32) {
  let n = wg.y * nwg.x + wg.x;
  let baseA = params.offA + wg.z * params.strideA;
  let baseB = params.offB + wg.z * params.strideB;
  let baseC = params.offC + wg.z * params.strideC;
  for (var m0 = 0u; m0 < params.M; m0 += SM) {
    var acc: array<f32, SM>;
    for (var i = 0u; i < SM; i++) { acc[i] = 0.0; }
    let rows = min(SM, params.M - m0);
    if (n < params.N) {
      for (var k = tid; k < params.K; k += SW) {
        let bv = loadB(baseB, k, n);
        for (var i = 0u; i < rows; i++) { acc[i] = fma(loadA(baseA, m0 + i, k), bv, acc[i]); }
      }
    }
    for (var i = 0u; i < SM; i++) { skinnyRed[i * SW + tid] = acc[i]; }
    workgroupBarrier();
    for (var s = SW / 2u; s > 0u; s = s / 2u) {
      if (tid < s) {
        for (var i = 0u; i < rows; i++) { skinnyRed[i * SW + tid] += skinnyRed[i * SW + tid + s]; }
      }
      workgroupBarrier();
    }
    if (tid < SM && n < params.N && m0 + tid < params.M) {
      let idx = baseC + (m0 + tid) * params.ldc + n;
      var v = params.alpha * skinnyRed[tid * SW];
      if (ACCUMULATE) { v += c[idx]; }
      c[idx] = v;
    }
    workgroupBarrier(); // the sums are read before the next rows overwrite them
  }
}
