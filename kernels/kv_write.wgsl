// KV-cache writes. The cache of one layer holds k (or v) as (rows, capacity, width)
// with width = n_kv_head·head_dim; a step's new keys arrive packed as (B, T, width).
//
//   append     cache[b, pos + t, :] = src[b, t, :]            for b < B, t < T
//   broadcast  cache[b, t, :] = cache[0, t, :]                for 1 ≤ b < B, t < pos
// `broadcast` shares one prefill (written to row 0) with the other rows, so n samples
// of one prompt pay for the prompt once.

struct Params { B: u32, T: u32, width: u32, capacity: u32, pos: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> cache: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn append(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * 256u + gid.x;
  let W = params.width;
  if (i >= params.B * params.T * W) { return; }
  let e = i % W;
  let t = (i / W) % params.T;
  let b = i / (W * params.T);
  cache[(b * params.capacity + params.pos + t) * W + e] = src[i];
}

@compute @workgroup_size(256)
fn broadcast(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * 256u + gid.x;
  let W = params.width;
  let per = params.pos * W;            // elements of one row's filled prefix
  if (i >= (params.B - 1u) * per) { return; }
  let b = 1u + i / per;
  let e = i % per;
  cache[b * params.capacity * W + e] = cache[e];
}
