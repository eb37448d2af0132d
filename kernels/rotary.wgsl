// Rotary position embedding, nanochat's half-split convention, in place on (rows, heads, hd)
// where row = b·T + t and the position is t + pos_offset:
//   x1 = first hd/2 channels, x2 = last hd/2;  y1 = x1·cos + x2·sin,  y2 = −x1·sin + x2·cos.
// The backward is the inverse rotation (sin → −sin), so one entry point with a sign
// override serves both: INVERSE=false forward, INVERSE=true backward on the gradient.
// cos/sin tables are (max_positions, hd/2), computed on the host in float64.

struct Params { rows: u32, T: u32, heads: u32, hd: u32, pos_offset: u32 }

override INVERSE: bool = false;

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> cos_table: array<f32>;
@group(0) @binding(2) var<storage, read> sin_table: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn rotate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let half = params.hd / 2u;
  let i = gid.y * nwg.x * 64u + gid.x; // one thread per (row, head, pair)
  if (i >= params.rows * params.heads * half) { return; }
  let pair = i % half;
  let rh = i / half;                   // row * heads + head
  let t = (rh / params.heads) % params.T + params.pos_offset;
  let c = cos_table[t * half + pair];
  var s = sin_table[t * half + pair];
  if (INVERSE) { s = -s; }
  let base = rh * params.hd;
  let x1 = x[base + pair];
  let x2 = x[base + half + pair];
  x[base + pair] = x1 * c + x2 * s;
  x[base + half + pair] = x2 * c - x1 * s;
}
