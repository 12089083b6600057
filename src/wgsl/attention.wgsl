// Fused multi-head self-attention from a packed qkv projection, flash-attention style: scores are
// never written to memory; each query keeps a running max, normaliser and output (online softmax).
//   qkv: [B, N, 3W] with q | k | v along the last axis, head h at columns h*D .. h*D+D-1 of each;
//   out: [B, N, W];  W = heads * D;  out = softmax(q k^T * scale) v per (batch, head).
// One invocation per query (BQ = 64 per workgroup); keys and values stream through workgroup memory
// BKV at a time. Workgroup grid: (ceil(N / BQ), heads, B). D = HEAD_DIM must be a multiple of 4
// and at most 4 * MAX_D4.

struct Params {
  tokens: u32,
  heads: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;

override HEAD_DIM: u32 = 64u;
override D4: u32 = HEAD_DIM / 4u;   // derived; not meant to be set
const MAX_D4: u32 = 32u;
const BQ: u32 = 64u;
const BKV: u32 = 16u;
var<workgroup> Ks: array<vec4f, BKV * D4>;
var<workgroup> Vs: array<vec4f, BKV * D4>;

@compute @workgroup_size(BQ)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let N = params.tokens;
  let b = wid.z;
  let h = wid.y;
  let qi = wid.x * BQ + lid;
  let W4 = params.heads * D4;        // one row of q, k or v, in vec4s
  let row4 = 3u * W4;                // one row of qkv
  let head4 = h * D4;
  let valid = qi < N;

  var q: array<vec4f, MAX_D4>;
  var acc: array<vec4f, MAX_D4>;
  if (valid) {
    let base = (b * N + qi) * row4 + head4;
    for (var d = 0u; d < D4; d++) {
      q[d] = qkv[base + d] * params.scale;
      acc[d] = vec4f(0.0);
    }
  }
  var m = -3.0e38;
  var l = 0.0;

  for (var kv0 = 0u; kv0 < N; kv0 += BKV) {
    for (var i = lid; i < BKV * D4; i += BQ) {
      let j = i / D4;
      let d = i % D4;
      let key = kv0 + j;
      if (key < N) {
        let base = (b * N + key) * row4 + head4 + d;
        Ks[i] = qkv[base + W4];
        Vs[i] = qkv[base + 2u * W4];
      } else {
        Ks[i] = vec4f(0.0);
        Vs[i] = vec4f(0.0);
      }
    }
    workgroupBarrier();
    if (valid) {
      // Always BKV keys (a constant trip count, so s[] stays in registers); keys past N score -inf.
      var s: array<f32, BKV>;
      var tile_max = -3.0e38;
      for (var j = 0u; j < BKV; j++) {
        var d4 = vec4f(0.0);
        for (var d = 0u; d < D4; d++) { d4 = fma(q[d], Ks[j * D4 + d], d4); }
        s[j] = select((d4.x + d4.y) + (d4.z + d4.w), -3.0e38, kv0 + j >= N);
        tile_max = max(tile_max, s[j]);
      }
      let m_new = max(m, tile_max);
      let corr = exp(m - m_new);
      l = l * corr;
      for (var d = 0u; d < D4; d++) { acc[d] = acc[d] * corr; }
      for (var j = 0u; j < BKV; j++) {
        let pj = exp(s[j] - m_new);
        l += pj;
        for (var d = 0u; d < D4; d++) { acc[d] = fma(vec4f(pj), Vs[j * D4 + d], acc[d]); }
      }
      m = m_new;
    }
    workgroupBarrier();
  }

  if (valid) {
    let inv = 1.0 / l;
    let base = (b * N + qi) * W4 + head4;
    for (var d = 0u; d < D4; d++) { out[base + d] = acc[d] * inv; }
  }
}
