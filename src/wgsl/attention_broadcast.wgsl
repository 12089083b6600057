// Fused multi-head self-attention from a packed qkv projection, flash-attention style: scores are
// never written to memory; each query keeps a running max, normaliser and output (online softmax).
//   qkv: [B, N, 3W] with q | k | v along the last axis, head h at columns h*D .. h*D+D-1 of each;
//   out: [B, N, W];  W = heads * D;  out = softmax(q k^T * scale) v per (batch, head).
// The 'broadcast' variant (the host also has attention_tiled.wgsl): one invocation per query
// (BQ = 64 per workgroup), its q and output in registers; keys and values stream through workgroup
// memory BKV at a time and every invocation reads the same key (a broadcast read). Keys are taken
// four at a time so that their scores stay in one vec4. Workgroup grid: (ceil(N / BQ), heads, B).
// D = HEAD_DIM must be a multiple of 4 and at most 4 * MAX_D4. The loops over the head dimension
// are unrolled MAX_D4 times (guarded by D4, a constant once specialised), so q and acc are only
// ever indexed by constants and stay in registers on every driver (docs/gpu.md).

//!include _attention_io.wgsl
const MAX_D4: u32 = 32u;   // = the //!unroll counts below
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
    //!unroll d 32
    if ($d < D4) { q[$d] = qkv[base + $d] * params.scale; }
    //!end
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
      // Four keys at a time: their scores are one vec4 (registers, not an indexed array), and the
      // running max / sum / output are rescaled once per four keys, only when the max grew.
      let nk = min(BKV, N - kv0);
      for (var j0 = 0u; j0 < nk; j0 += 4u) {
        var d0 = vec4f(0.0);
        var d1 = vec4f(0.0);
        var d2 = vec4f(0.0);
        var d3 = vec4f(0.0);
        //!unroll d 32
        if ($d < D4) {
          d0 = fma(q[$d], Ks[j0 * D4 + $d], d0);
          d1 = fma(q[$d], Ks[(j0 + 1u) * D4 + $d], d1);
          d2 = fma(q[$d], Ks[(j0 + 2u) * D4 + $d], d2);
          d3 = fma(q[$d], Ks[(j0 + 3u) * D4 + $d], d3);
        }
        //!end
        // Keys past N (zero-filled rows) score -inf.
        let live = vec4u(kv0 + j0) + vec4u(0u, 1u, 2u, 3u) < vec4u(N);
        let s = select(vec4f(-3.0e38), vec4f(hsum(d0), hsum(d1), hsum(d2), hsum(d3)), live);
        let m_new = max(m, hmax(s));
        if (m_new > m) {
          let corr = exp(m - m_new);
          l = l * corr;
          //!unroll d 32
          if ($d < D4) { acc[$d] = acc[$d] * corr; }
          //!end
          m = m_new;
        }
        let p = exp(s - vec4f(m));
        l += hsum(p);
        //!unroll d 32
        if ($d < D4) {
          let a = fma(vec4f(p.x), Vs[j0 * D4 + $d], acc[$d]);
          let a2 = fma(vec4f(p.z), Vs[(j0 + 2u) * D4 + $d], fma(vec4f(p.y), Vs[(j0 + 1u) * D4 + $d], a));
          acc[$d] = fma(vec4f(p.w), Vs[(j0 + 3u) * D4 + $d], a2);
        }
        //!end
      }
    }
    workgroupBarrier();
  }

  if (valid) {
    let inv = 1.0 / l;
    let base = (b * N + qi) * W4 + head4;
    //!unroll d 32
    if ($d < D4) { out[base + $d] = acc[$d] * inv; }
    //!end
  }
}
