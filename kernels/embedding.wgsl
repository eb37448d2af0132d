// Token embedding. forward: out[n, :] = wte[idx[n], :].
// backward: dwte[tok, :] += Σ dout[n, :] over the positions n holding tok. The host
// groups positions by token (CSR: unique tokens, offsets, positions in ascending order),
// so each (token, channel) is summed by one thread in a fixed order: no atomics, and
// bitwise the same gradient on every run.

struct Params { N: u32, C: u32, V: u32, unique: u32 }

@group(0) @binding(0) var<storage, read> idx: array<u32>;
@group(0) @binding(1) var<storage, read> wte: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@group(0) @binding(4) var<storage, read> tokens: array<u32>;    // unique token ids
@group(0) @binding(5) var<storage, read> offsets: array<u32>;   // unique + 1
@group(0) @binding(6) var<storage, read> positions: array<u32>; // N, grouped by token
@group(0) @binding(7) var<storage, read> dout: array<f32>;
@group(0) @binding(8) var<storage, read_write> dwte: array<f32>;

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * 256u + gid.x;
  if (i >= params.N * params.C) { return; }
  let n = i / params.C;
  let c = i % params.C;
  out[i] = wte[min(idx[n], params.V - 1u) * params.C + c];
}

@compute @workgroup_size(256)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * 256u + gid.x;
  if (i >= params.unique * params.C) { return; }
  let u = i / params.C;
  let c = i % params.C;
  var sum = 0.0;
  for (var p = offsets[u]; p < offsets[u + 1u]; p++) {
    sum += dout[positions[p] * params.C + c];
  }
  let w = tokens[u] * params.C + c;
  dwte[w] = dwte[w] + sum;
}
