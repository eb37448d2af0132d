// Muon for a 2-D weight (rows × cols, PyTorch (out, in) layout). The orthogonalisation
// runs on X, a copy of the Nesterov update that is "wide" (X is min×max: transposed when
// rows > cols, as the reference does), using the matmul kernel for X·Xᵀ, A·A and B·X.
//
//   momentum:  buf ← μ·buf + (1−μ)·g ;  U = (1−μ)·g + μ·buf ;  X = U (or Uᵀ)
//   normalise: X ← X / (‖X‖_F + 1e-7)
//   5 × { A = X·Xᵀ ; B = b·A + c·A·A ; X ← a·X + B·X }   (a, b, c) = (3.4445, −4.7750, 2.0315)
//   update:    p ← p − lr·sqrt(max(1, rows/cols))·X (transposed back)

struct Params { rows: u32, cols: u32, transposed: u32, momentum: f32, scale: f32, x_off: u32 }

@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read_write> buf: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<storage, read> grad_scale: array<f32>; // [2] = clip factor (reduce.wgsl clip_factor)
@group(0) @binding(4) var<uniform> params: Params;
@group(0) @binding(5) var<storage, read_write> p: array<f32>;
@group(0) @binding(6) var<storage, read> norm_sq: array<f32>;   // [0] = ‖X‖²

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.y * nwg.x * 256u + gid.x; }

// Index of element (r, c) of the weight inside X: matrices of one shape share X (their
// Newton–Schulz runs batched), this one from x_off.
fn x_index(r: u32, c: u32) -> u32 {
  if (params.transposed == 1u) { return params.x_off + c * params.rows + r; }
  return params.x_off + r * params.cols + c;
}

@compute @workgroup_size(256)
fn momentum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= params.rows * params.cols) { return; }
  let mu = params.momentum;
  let gi = g[i] * grad_scale[2];
  let b = mu * buf[i] + (1.0 - mu) * gi;
  buf[i] = b;
  x[x_index(i / params.cols, i % params.cols)] = (1.0 - mu) * gi + mu * b;
}

// x ← x / (sqrt(norm_sq) + 1e-7)
@compute @workgroup_size(256)
fn normalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= params.rows * params.cols) { return; }
  x[params.x_off + i] = x[params.x_off + i] / (sqrt(norm_sq[0]) + 1e-7);
}

// p ← p − scale·X (scale = lr·sqrt(max(1, rows/cols)), set by the host)
@compute @workgroup_size(256)
fn update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= params.rows * params.cols) { return; }
  p[i] = p[i] - params.scale * x[x_index(i / params.cols, i % params.cols)];
}
