// RMSNorm without a weight over the last dimension D:  y = x · rstd,  rstd = 1/sqrt(mean(x²) + eps).
// Used after the embedding, before attention and MLP, at the end, and as QK-norm
// (rows = B·T·heads, D = head_dim). One workgroup per row; the row's sums are reduced
// in workgroup memory in a fixed tree order, so results are bitwise reproducible.
//
// backward:  x̂ = x·rstd,  dx = rstd · (dy − x̂ · mean(dy·x̂));  with ACCUMULATE, dx += that
// (the residual stream adds the norm's gradient to the gradient flowing past it).

struct Params { rows: u32, D: u32, eps: f32 }

override WG: u32 = 64u;
override ACCUMULATE: bool = false;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read> rstd_in: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;

var<workgroup> partial: array<f32, WG>;

// Sum of `v` over the workgroup, the same tree every time; all threads get the total.
fn workgroup_sum(lid: u32, v: f32) -> f32 {
  partial[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

fn row_index(wg: vec3<u32>, nwg: vec3<u32>) -> u32 { return wg.y * nwg.x + wg.x; }

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wg, nwg);
  if (row >= params.rows) { return; } // uniform per workgroup, so barriers stay uniform
  let base = row * params.D;
  var ss = 0.0;
  for (var d = lid; d < params.D; d += WG) { let v = x[base + d]; ss = fma(v, v, ss); }
  let r = inverseSqrt(workgroup_sum(lid, ss) / f32(params.D) + params.eps);
  for (var d = lid; d < params.D; d += WG) { y[base + d] = x[base + d] * r; }
  if (lid == 0u) { rstd[row] = r; }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wg, nwg);
  if (row >= params.rows) { return; }
  let base = row * params.D;
  let r = rstd_in[row];
  var dot = 0.0;
  for (var d = lid; d < params.D; d += WG) { dot = fma(dy[base + d], x[base + d] * r, dot); }
  let mean_dot = workgroup_sum(lid, dot) / f32(params.D);
  for (var d = lid; d < params.D; d += WG) {
    var g = r * (dy[base + d] - x[base + d] * r * mean_dot);
    if (ACCUMULATE) { g += dx[base + d]; }
    dx[base + d] = g;
  }
}
