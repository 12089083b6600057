// Split-K's second pass: y[m, n] = epilogue( sum_s partials[s, m, n] (times w's row scale for q8)
// + bias[n] ), the store of the GEMM itself (_gemm_io.wgsl's store_out4: q8 scales, bias, the
// activation epilogues, the residual accumulate y += result in place), applied once to the sum of
// the S partial sums the tiled GEMM wrote with SPLIT_K (gemm.wgsl: slice s holds k in
// [s·KS, (s+1)·KS)). W_DTYPE only says whether w_scale holds a q8 weight's row scales.
//
// One invocation per 4 consecutive columns of one row; rows past the grid's y extent continue in
// its z-index (row = wid.y + wid.z · num_workgroups.y), so any M fits the per-dimension limit.

struct Params {
  M: u32,
  N: u32,
  S: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
//!include _gemm_io.wgsl
@group(0) @binding(1) var<storage, read> partials: array<f32>;   // [S, M, N]

const WG: u32 = 64u;   // invocations per workgroup (the host reads it)

// partials[s, gm, gn .. gn+3] summed over s (s in order), columns at or past N read as 0.
fn sum_partials(gm: u32, gn: u32, M: u32, N: u32, S: u32) -> vec4f {
  var v = vec4f(0.0);
  let row = gm * N;
  for (var s = 0u; s < S; s++) {
    let o = s * M * N + row + gn;
    if (gn < N) { v.x += partials[o]; }
    if (gn + 1u < N) { v.y += partials[o + 1u]; }
    if (gn + 2u < N) { v.z += partials[o + 2u]; }
    if (gn + 3u < N) { v.w += partials[o + 3u]; }
  }
  return v;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) groups: vec3u) {
  let M = params.M;
  let N = params.N;
  let gm = wid.y + wid.z * groups.y;
  let gn = 4u * (wid.x * WG + lid);
  if (gm < M && gn < N) {
    store_out4(gm, gn, N, sum_partials(gm, gn, M, N, params.S));
  }
}
