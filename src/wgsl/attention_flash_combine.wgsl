// The combine pass of attention_flash.wgsl's split over keys: merges the splits' partial outputs.
//   part:  [S, B, N, W] as vec4s: split s's Σ_j exp(s_j − m_s) v_j over its keys (unnormalised);
//   stats: [S, B, heads, N]: (m_s, l_s), split s's row max and Σ_j exp(s_j − m_s);
//   out:   [B, N, W]:  Σ_s e^(m_s − M) part_s / Σ_s e^(m_s − M) l_s,  M = max_s m_s,
// merged online (one pass over the splits, rescaling when the max grows; a split with no key for a
// row has m_s = −3e38 and l_s = 0, and weighs 0). One invocation per output vec4; grid
// (ceil(W / 4 / 64), N, B). Live values: the running max, sum and output vec4, one split's pair and vec4.

struct Params {
  tokens: u32,
  heads: u32,
  splits: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> part: array<vec4f>;
@group(0) @binding(2) var<storage, read> stats: array<vec2f>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;

override HEAD_DIM: u32 = 64u;
override D4: u32 = HEAD_DIM / 4u;   // derived; not meant to be set
const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let N = params.tokens;
  let W4 = params.heads * D4;
  let c = wid.x * WG + lid;          // the vec4 column within the row
  if (c >= W4) { return; }
  let q = wid.y;
  let b = wid.z;
  let B = nwg.z;
  let h = c / D4;
  var m = -3.0e38;
  var l = 0.0;
  var o = vec4f(0.0);
  for (var s = 0u; s < params.splits; s++) {
    let st = stats[((s * B + b) * params.heads + h) * N + q];
    let m_new = max(m, st.x);
    let a = exp(m - m_new);
    let w = exp(st.x - m_new);
    l = l * a + st.y * w;
    o = o * a + part[((s * B + b) * N + q) * W4 + c] * w;
    m = m_new;
  }
  out[(b * N + q) * W4 + c] = o / l;
}
