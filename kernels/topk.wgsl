// Top-k of each row of logits, so decoding reads back k candidates a row instead of the
// whole vocabulary: the k largest values and their ids, largest first, ties broken by the
// lower id — the order src/engine/sampling.ts's topKIndices gives, so sampling among them
// on the host picks exactly the token it would have picked from the full row.
//
// One workgroup per row. Each thread keeps a sorted list of the best k of its strided
// elements (j = lid, lid + WG, …: ascending ids, so an equal value never displaces an
// earlier one); then k rounds of a workgroup arg-max over the threads' list heads, the
// winner popping its head. out holds, per row, k values (as f32 bits) then k ids.

struct Params { rows: u32, V: u32, k: u32 }

const WG = 256u;
const MAX_K = 64u;

@group(0) @binding(0) var<storage, read> logits: array<f32>;  // rows × V
@group(0) @binding(1) var<storage, read_write> out: array<u32>; // rows × 2k: values' bits, then ids
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> bestV: array<f32, WG>;
var<workgroup> bestI: array<u32, WG>;
var<workgroup> bestT: array<u32, WG>;

/** Whether (va, ia) comes before (vb, ib): the larger value, or the lower id at equal values. */
fn before(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
  return va > vb || (va == vb && ia < ib);
}

@compute @workgroup_size(WG)
fn topk(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.y * nwg.x + wg.x;
  let k = params.k;
  let V = params.V;
  // Uniform across the workgroup, so the barriers below stay in uniform control flow.
  let live = row < params.rows;
  let base = row * V;

  var lv: array<f32, MAX_K>;
  var li: array<u32, MAX_K>;
  var n = 0u;
  if (live) {
    for (var j = lid; j < V; j += WG) {
      let v = logits[base + j];
      if (n == k && !(v > lv[k - 1u])) { continue; }
      var pos = n;
      if (n < k) { n += 1u; } else { pos = k - 1u; }
      while (pos > 0u && lv[pos - 1u] < v) {
        lv[pos] = lv[pos - 1u];
        li[pos] = li[pos - 1u];
        pos -= 1u;
      }
      lv[pos] = v;
      li[pos] = j;
    }
  }

  var head = 0u;
  for (var r = 0u; r < k; r++) {
    let has = head < n;
    bestV[lid] = select(0.0, lv[min(head, MAX_K - 1u)], has);
    bestI[lid] = select(0xffffffffu, li[min(head, MAX_K - 1u)], has);
    bestT[lid] = lid;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      if (lid < s) {
        let oi = bestI[lid + s];
        let mi = bestI[lid];
        // An empty slot (id 0xffffffff) loses to any candidate.
        if (oi != 0xffffffffu && (mi == 0xffffffffu || before(bestV[lid + s], oi, bestV[lid], mi))) {
          bestV[lid] = bestV[lid + s];
          bestI[lid] = oi;
          bestT[lid] = bestT[lid + s];
        }
      }
      workgroupBarrier();
    }
    if (live && lid == 0u) {
      out[row * 2u * k + r] = bitcast<u32>(bestV[0]);
      out[row * 2u * k + k + r] = bestI[0];
    }
    if (bestT[0] == lid && has) { head += 1u; }
    workgroupBarrier();
  }
}
