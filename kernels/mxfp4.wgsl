// MXFP4 (OCP Microscaling v1.0: blocks of 32 FP4 E2M1 elements sharing one E8M0 scale):
// quantise f32 → MXFP4, dequantise MXFP4 → f32, and y = x · Wᵀ reading W as MXFP4.
// The layout and the rounding rules are src/formats/mxfp4.ts's (the CPU reference):
//   blocks: u32 words, row-major, each row padded to whole blocks; element k of a row is
//           bits 4·(k mod 8) of the row's word k / 8 (= element 2i in byte i's low nibble);
//           nibble = sign << 3 | E2M1 code (0, 0.5, 1, 1.5, 2, 3, 4, 6 for codes 0…7).
//   scales: one E8M0 byte per block (2^(s − 127), 0xFF = NaN), packed four to a u32 word.
//
// quantize and dequantize work on float bits in integers only: a float32 multiply or
// compare may flush subnormals to zero on some adapters, and blocks whose scale is 2^−127
// hold exactly those, so float arithmetic could not match the CPU bit for bit. That is also
// why x and out are declared as u32 there: the bits go through untouched (NaN included).

struct Params {
  rows: u32,  // rows of the matrix (quantize, dequantize); N (matmul)
  K: u32,     // logical columns; each row holds bpr·32 elements
  bpr: u32,   // blocks per row = ceil(K / 32)
  M: u32,     // rows of x (matmul only)
  lda: u32,   // x's row stride (matmul only; K when packed)
  offA: u32,  // x's first element (matmul only)
}

@group(0) @binding(0) var<storage, read> xbits: array<u32>;           // quantize: x (f32 bits)
@group(0) @binding(1) var<storage, read_write> blocks: array<u32>;
@group(0) @binding(2) var<storage, read_write> scales: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

// dequantize reads blocks and scales and writes out; the matmul reads x and writes y.
@group(0) @binding(4) var<storage, read_write> out: array<u32>;        // dequantize: f32 bits
@group(0) @binding(5) var<storage, read> x: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;

const NAN_BITS: u32 = 0x7fc00000u;
const INF_BITS: u32 = 0x7f800000u;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.y * nwg.x * 64u + gid.x; }

// Bits of the float32 c · 2^p for 0 ≤ c < 32, exactly: normal, subnormal, or +Inf past the
// largest float. Built from integers so no adapter's flush-to-zero can touch it.
fn scaledBits(c: u32, p: i32) -> u32 {
  if (c == 0u) { return 0u; }
  let lead = i32(firstLeadingBit(c));
  let e = lead + p;
  if (e > 127) { return INF_BITS; }
  if (e >= -126) { return (u32(e + 127) << 23u) | ((c << u32(23 - lead)) & 0x7fffffu); }
  return c << u32(p + 149); // c·2^p = (c·2^(p+149)) · 2^−149, the subnormal's unit
}

// floor(log2 |x|) of a non-zero finite magnitude's bits (subnormals included).
fn floorLog2(mag: u32) -> i32 {
  let e = mag >> 23u;
  if (e > 0u) { return i32(e) - 127; }
  return i32(firstLeadingBit(mag)) - 149;
}

// E2M1 magnitude of a 3-bit code in halves: 0, 1, 2, 3, 4, 6, 8, 12.
fn halves(code: u32) -> u32 {
  let e = code >> 1u;
  let m = code & 1u;
  if (e == 0u) { return m; }
  return (2u + m) << (e - 1u);
}

fn scaleByte(g: u32) -> u32 { return (scales[g >> 2u] >> ((g & 3u) * 8u)) & 0xffu; }

// One thread per scale word: four consecutive blocks (possibly in different rows), so no
// two threads write the same word.
@compute @workgroup_size(64)
fn quantize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let q = index(gid, nwg);
  let nblocks = params.rows * params.bpr;
  if (q * 4u >= nblocks) { return; }
  var word = 0u;
  for (var j = 0u; j < 4u; j++) {
    let g = q * 4u + j;
    if (g >= nblocks) { break; }
    let row = g / params.bpr;
    let k0 = (g % params.bpr) * 32u;
    let base = row * params.K;
    // Magnitudes compare as their bits; NaN's lie above Inf's, so one max finds both.
    var mx = 0u;
    for (var i = 0u; i < 32u; i++) {
      if (k0 + i < params.K) { mx = max(mx, xbits[base + k0 + i] & 0x7fffffffu); }
    }
    var s = 0xffu;
    if (mx < INF_BITS) {
      var e = -127;
      if (mx != 0u) { e = clamp(floorLog2(mx) - 2, -127, 127); }
      s = u32(e + 127);
      // The midpoints between E2M1 values (0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5 = c/4 for
      // these c) times 2^e: an element's code is how many it passes. On a midpoint the code
      // goes to the even one: past midpoints 1, 3, 5 (>=), not past 0, 2, 4, 6 (>).
      let t0 = scaledBits(1u, e - 2); let t1 = scaledBits(3u, e - 2);
      let t2 = scaledBits(5u, e - 2); let t3 = scaledBits(7u, e - 2);
      let t4 = scaledBits(10u, e - 2); let t5 = scaledBits(14u, e - 2);
      let t6 = scaledBits(20u, e - 2);
      for (var w = 0u; w < 4u; w++) {
        var pk = 0u;
        for (var n = 0u; n < 8u; n++) {
          let k = k0 + w * 8u + n;
          if (k < params.K) {
            let b = xbits[base + k];
            let m = b & 0x7fffffffu;
            let code = u32(m > t0) + u32(m >= t1) + u32(m > t2) + u32(m >= t3) + u32(m > t4) + u32(m >= t5) + u32(m > t6);
            pk |= (((b >> 31u) << 3u) | code) << (4u * n);
          }
        }
        blocks[g * 4u + w] = pk;
      }
    } else {
      for (var w = 0u; w < 4u; w++) { blocks[g * 4u + w] = 0u; }
    }
    word |= s << (8u * j);
  }
  scales[q] = word;
}

// Bits of the float32 an element decodes to: sign · E2M1 · 2^(s − 127), or NaN for s = 0xFF.
fn decodeBits(nibble: u32, s: u32) -> u32 {
  if (s == 0xffu) { return NAN_BITS; }
  return scaledBits(halves(nibble & 7u), i32(s) - 128) | ((nibble >> 3u) << 31u);
}

// One thread per block word (8 elements).
@compute @workgroup_size(64)
fn dequantize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = index(gid, nwg);
  if (w >= params.rows * params.bpr * 4u) { return; }
  let g = w / 4u;
  let row = g / params.bpr;
  let k0 = (g % params.bpr) * 32u + (w % 4u) * 8u;
  let s = scaleByte(g);
  let pk = blocks[w];
  for (var n = 0u; n < 8u; n++) {
    let k = k0 + n;
    if (k < params.K) { out[row * params.K + k] = decodeBits((pk >> (4u * n)) & 15u, s); }
  }
}

// y = x · Wᵀ with x M×K f32 (rows lda apart from offA), W N×K in MXFP4, y M×N: the skinny matmul's shape
// (kernels/matmul.wgsl) for decoding, M a few rows. A workgroup of SW threads owns one
// output column n (W's row n); the threads split that row's words (8 weights each, the
// scale read once a word), keep SM row sums each in f32, and a tree reduction finishes
// all SM at once. Any M works (SM rows at a time); grid: columns over x and y.
// Weights are decoded with float arithmetic here (E2M1 halves × 2^(s−128)), the same
// values as dequantize except that an adapter may flush the 2^−128 of scale 0x00 to zero.
override SW: u32 = 64u;  // threads per workgroup (power of two)
const SM: u32 = 8u;      // rows summed per pass

var<workgroup> red: array<f32, SM * SW>;

@compute @workgroup_size(SW)
fn matmul(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) tid: u32) {
  let n = wg.y * nwg.x + wg.x;
  let words = params.bpr * 4u;
  for (var m0 = 0u; m0 < params.M; m0 += SM) {
    var acc: array<f32, SM>;
    for (var i = 0u; i < SM; i++) { acc[i] = 0.0; }
    let rows = min(SM, params.M - m0);
    if (n < params.rows) {
      for (var w = tid; w < words; w += SW) {
        let g = n * params.bpr + w / 4u;
        let unit = bitcast<f32>(decodeBits(1u, scaleByte(g))); // 2^(s−128), NaN for 0xFF
        let pk = blocks[n * words + w];
        let k0 = w * 8u;
        for (var j = 0u; j < 8u; j++) {
          let k = k0 + j;
          if (k >= params.K) { break; }
          let nib = (pk >> (4u * j)) & 15u;
          var wv = f32(halves(nib & 7u)) * unit;
          if ((nib & 8u) != 0u) { wv = -wv; }
          for (var i = 0u; i < rows; i++) { acc[i] = fma(x[params.offA + (m0 + i) * params.lda + k], wv, acc[i]); }
        }
      }
    }
    for (var i = 0u; i < SM; i++) { red[i * SW + tid] = acc[i]; }
    workgroupBarrier();
    for (var s = SW / 2u; s > 0u; s = s / 2u) {
      if (tid < s) {
        for (var i = 0u; i < rows; i++) { red[i * SW + tid] += red[i * SW + tid + s]; }
      }
      workgroupBarrier();
    }
    if (tid < rows && n < params.rows) { y[(m0 + tid) * params.rows + n] = red[tid * SW]; }
    workgroupBarrier(); // the sums are read before the next rows overwrite them
  }
}
