// Fused AdamW step for one parameter tensor (nanochat's formulation, as in its DistAdamW):
//   p ← p·(1 − lr·wd)
//   m ← β1·m + (1 − β1)·g ;  v ← β2·v + (1 − β2)·g²
//   p ← p − lr · sqrt(1 − β2ᵗ)/(1 − β1ᵗ) · m / (sqrt(v) + eps)
// The host folds the bias corrections into step_size = lr·sqrt(1 − β2ᵗ)/(1 − β1ᵗ), so
// per-group learning rates and schedules only change the uniform, never the kernel.
// grad_scale[2] multiplies g on the fly (gradient clipping without another pass); it is
// read from a buffer so the clip factor can be computed on the GPU without a readback.

struct Params { n: u32, step_size: f32, decay: f32, beta1: f32, beta2: f32, eps: f32 }

@group(0) @binding(0) var<storage, read_write> p: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> grad_scale: array<f32>; // [2] = clip factor, written by reduce.wgsl clip_factor (1 when not clipping)
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(256)
fn step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * 256u + gid.x;
  if (i >= params.n) { return; }
  let gi = g[i] * grad_scale[2];
  let mi = params.beta1 * m[i] + (1.0 - params.beta1) * gi;
  let vi = params.beta2 * v[i] + (1.0 - params.beta2) * gi * gi;
  m[i] = mi;
  v[i] = vi;
  p[i] = p[i] * params.decay - params.step_size * mi / (sqrt(vi) + params.eps);
}
