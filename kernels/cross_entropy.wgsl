// Logit softcap + cross-entropy over a chunk of rows of lm_head logits, loss and
// gradient in one pass:
//   c = CAP·tanh(z/CAP);  loss_r = w_r · (logsumexp(c_r) − c_r[target_r])   (0 when target_r < 0)
//   dz = grad_scale · w_r · (softmax(c_r) − onehot(target_r)) · (1 − (c/CAP)²)
// w_r is the row's weight: 1 in ordinary training; in RL the advantage of the sample the
// token belongs to, so the mean loss is the policy-gradient objective −Σ A·log p / count.
// dz overwrites z in place, so the caller's chunk of (rows × V) logits is the only
// vocab-sized buffer; the model walks B·T in chunks and never holds all logits.
// One workgroup per row; reductions use a fixed tree (bitwise reproducible).

struct Params { rows: u32, V: u32, target_offset: u32, loss_offset: u32, cap: f32, grad_scale: f32 }

override WG: u32 = 256u;
override WRITE_GRAD: bool = true;

@group(0) @binding(0) var<storage, read_write> logits: array<f32>; // rows × V, chunk-local
@group(0) @binding(1) var<storage, read> targets: array<i32>;      // whole batch, read at target_offset + row
@group(0) @binding(2) var<storage, read_write> losses: array<f32>; // whole batch, written at loss_offset + row
@group(0) @binding(3) var<uniform> params: Params;
@group(0) @binding(7) var<storage, read> weights: array<f32>;      // whole batch, read at target_offset + row

var<workgroup> scratch: array<f32, WG>;

fn tree(lid: u32, v: f32, is_max: bool) -> f32 {
  scratch[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      if (is_max) { scratch[lid] = max(scratch[lid], scratch[lid + s]); }
      else { scratch[lid] += scratch[lid + s]; }
    }
    workgroupBarrier();
  }
  let r = scratch[0];
  workgroupBarrier();
  return r;
}

fn capped(z: f32) -> f32 {
  if (params.cap > 0.0) { return params.cap * tanh(z / params.cap); }
  return z;
}

@compute @workgroup_size(WG)
fn softcap_cross_entropy(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_index) lid: u32) {
  let row = wg.y * nwg.x + wg.x;
  if (row >= params.rows) { return; }
  let base = row * params.V;
  let tgt = targets[params.target_offset + row];
  let w = weights[params.target_offset + row];

  var m = -3.0e38;
  for (var j = lid; j < params.V; j += WG) { m = max(m, capped(logits[base + j])); }
  m = tree(lid, m, true);
  var s = 0.0;
  for (var j = lid; j < params.V; j += WG) { s += exp(capped(logits[base + j]) - m); }
  s = tree(lid, s, false);
  let lse = m + log(s);

  if (lid == 0u) {
    var loss = 0.0;
    if (tgt >= 0) { loss = w * (lse - capped(logits[base + u32(tgt)])); }
    losses[params.loss_offset + row] = loss;
  }
  if (!WRITE_GRAD) { return; }
  // Thread 0 has read the target's logit above; wait before it is overwritten.
  workgroupBarrier();
  for (var j = lid; j < params.V; j += WG) {
    let z = logits[base + j];
    let c = capped(z);
    var g = exp(c - lse);
    if (tgt < 0) { g = 0.0; } else if (j == u32(tgt)) { g -= 1.0; }
    var dcap = 1.0;
    if (params.cap > 0.0) { let t = c / params.cap; dcap = 1.0 - t * t; }
    logits[base + j] = params.grad_scale * w * g * dcap;
  }
}

// Softcap in place, for inference: logits of the last positions only.
@compute @workgroup_size(WG)
fn softcap(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i < params.rows * params.V) { logits[i] = capped(logits[i]); }
}

// Sum of `losses` (n values) times scale into losses_out[0], one workgroup, fixed order.
struct SumParams { n: u32, scale: f32 }
@group(0) @binding(4) var<storage, read> values: array<f32>;
@group(0) @binding(5) var<storage, read_write> total: array<f32>;
@group(0) @binding(6) var<uniform> sum_params: SumParams;

@compute @workgroup_size(WG)
fn sum(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < sum_params.n; i += WG) { acc += values[i]; }
  let t = tree(lid, acc, false);
  if (lid == 0u) { total[0] = t * sum_params.scale; }
}
