// RMSNorm without a weight over the last dimension D:  y = x · rstd,  rstd = 1/sqrt(mean(x²) + eps).
// Used after the embedding, before attention and MLP, at the end, and as QK-norm
// (rows = B·T·heads, D = head_dim). A workgroup holds RPW rows of WG threads each; a
// row's sums are reduced in workgroup memory in a fixed tree order, so results are
// bitwise reproducible. Several short rows per workgroup matter on software adapters,
// where each workgroup and each barrier level costs microseconds.
//
// backward:  x̂ = x·rstd,  dx = rstd · (dy − x̂ · mean(dy·x̂));  with ACCUMULATE, dx += that
// (the residual stream adds the norm's gradient to the gradient flowing past it).

struct Params { rows: u32, D: u32, eps: f32 }

override WG: u32 = 64u;   // threads per row (power of two)
override RPW: u32 = 1u;   // rows per workgroup
override ACCUMULATE: bool = false;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read> rstd_in: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;

var<workgroup> partial: array<f32, WG * RPW>;

// Sum of `v` over the WG threads of one row (slot), the same tree every time; all of
// them get the total. Every thread of the workgroup calls it, so barriers stay uniform.
fn row_sum(lid: u32, slot: u32, v: f32) -> f32 {
  let o = slot * WG;
  partial[o + lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { partial[o + lid] += partial[o + lid + stride]; }
    workgroupBarrier();
  }
  let total = partial[o];
  workgroupBarrier();
  return total;
}

fn row_index(wg: vec3<u32>, nwg: vec3<u32>, slot: u32) -> u32 { return (wg.y * nwg.x + wg.x) * RPW + slot; }

@compute @workgroup_size(WG, RPW)
fn forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_id) l: vec3<u32>) {
  let row = row_index(wg, nwg, l.y);
  // Rows past the end (the last workgroup's spare slots) sum nothing and write nothing.
  let D = select(0u, params.D, row < params.rows);
  let base = row * params.D;
  var ss = 0.0;
  for (var d = l.x; d < D; d += WG) { let v = x[base + d]; ss = fma(v, v, ss); }
  let r = inverseSqrt(row_sum(l.x, l.y, ss) / f32(params.D) + params.eps);
  for (var d = l.x; d < D; d += WG) { y[base + d] = x[base + d] * r; }
  if (l.x == 0u && D > 0u) { rstd[row] = r; }
}

@compute @workgroup_size(WG, RPW)
fn backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_id) l: vec3<u32>) {
  let row = row_index(wg, nwg, l.y);
  let D = select(0u, params.D, row < params.rows);
  let base = row * params.D;
  let r = select(0.0, rstd_in[min(row, params.rows - 1u)], D > 0u);
  var dot = 0.0;
  for (var d = l.x; d < D; d += WG) { dot = fma(dy[base + d], x[base + d] * r, dot); }
  let mean_dot = row_sum(l.x, l.y, dot) / f32(params.D);
  for (var d = l.x; d < D; d += WG) {
    var g = r * (dy[base + d] - x[base + d] * r * mean_dot);
    if (ACCUMULATE) { g += dx[base + d]; }
    dx[base + d] = g;
  }
}
