// Sums of squares (for gradient norms and Muon's Frobenius norm) and small vector ops.
// Two stages with a fixed order — partial sums per workgroup, then one workgroup over
// the partials — so the result is bitwise reproducible (no atomics).

struct Params { n: u32, offset: u32, x_off: u32, alpha: f32, beta: f32 }

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

var<workgroup> scratch: array<f32, WG>;

fn tree_sum(lid: u32, v: f32) -> f32 {
  scratch[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { scratch[lid] += scratch[lid + s]; }
    workgroupBarrier();
  }
  let r = scratch[0];
  workgroupBarrier();
  return r;
}

// partials[offset + w] = Σ x[x_off + i]² over workgroup w's strided share of i < n.
@compute @workgroup_size(WG)
fn sumsq_partial(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let stride = nwg.x * WG;
  var acc = 0.0;
  for (var i = wg.x * WG + lid; i < params.n; i += stride) { let v = x[params.x_off + i]; acc = fma(v, v, acc); }
  let t = tree_sum(lid, acc);
  if (lid == 0u) { partials[params.offset + wg.x] = t; }
}

// out[0] = Σ partials[0..n)  (one workgroup)
@compute @workgroup_size(WG)
fn sum_partials(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < params.n; i += WG) { acc += partials[i]; }
  let t = tree_sum(lid, acc);
  if (lid == 0u) { out[0] = t; }
}

// Gradient clipping factor from the total squared norm in out[0]:
// out[1] = ‖g‖, out[2] = min(1, max_norm / (‖g‖ + 1e-6)) (alpha = max_norm; ≤ 0 disables).
@compute @workgroup_size(1)
fn clip_factor() {
  let norm = sqrt(out[0]);
  out[1] = norm;
  var f = 1.0;
  if (params.alpha > 0.0) { f = min(1.0, params.alpha / (norm + 1e-6)); }
  out[2] = f;
}

// y ← alpha·x + beta·y  (Newton–Schulz combinations)
@compute @workgroup_size(WG)
fn axpby(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i < params.n) { y[i] = params.alpha * x[i] + params.beta * y[i]; }
}
