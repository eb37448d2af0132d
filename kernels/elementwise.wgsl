// Small element-wise kernels over n floats: residual add, ReLU² forward/backward, scale, fill.
// 1-D work is laid over a 2-D grid (x ≤ 65535 workgroups) so large tensors fit the limits.

struct Params { n: u32, alpha: f32 }

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.y * nwg.x * 256u + gid.x; }

// out = a + b   (residual stream)
@compute @workgroup_size(256)
fn add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < params.n) { out[i] = a[i] + b[i]; }
}

// out = relu(a)²   (the MLP activation)
@compute @workgroup_size(256)
fn relu2_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < params.n) { let r = max(a[i], 0.0); out[i] = r * r; }
}

// out = b · 2·relu(a)   where a is the pre-activation and b the incoming gradient
@compute @workgroup_size(256)
fn relu2_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < params.n) { out[i] = b[i] * 2.0 * max(a[i], 0.0); }
}

// out = alpha · out
@compute @workgroup_size(256)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < params.n) { out[i] = params.alpha * out[i]; }
}

// out = alpha  (zeroing gradients before accumulation)
@compute @workgroup_size(256)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < params.n) { out[i] = params.alpha; }
}
