enable subgroups;
// Linear layer for CPU adapters with its operands in textures: y[m, n] = epilogue( sum_k x[m, k] *
// w[n, k] + bias[n] ), the contract of gemm.wgsl, with x and w read from matrix textures (rgba32uint
// storage textures: x f32 bits, w f32, f16 or q8 words by W_DTYPE, _weight_format.wgsl). On
// llvmpipe a storage-texture load is a branchless ~1.5 instructions per value where a
// storage-buffer load is a ~9-instruction loop over the lanes
// (docs/cpu-adapters.md), which is what lifts this variant to ~2× gemm_subgroup. The block
// product (one 8-lane subgroup per 24 × 32 block, x values shared by broadcast) is
// _gemm_texture_block.wgsl's. With OUT_TEXTURE each lane's 4 columns are one texel of yt. y's rows
// are offset by M0: a call covers rows M0 .. M0 + M - 1 of y from rows 0 .. M - 1 of x's texture
// (the graph splits tall matrices into chunks).

struct Params {
  M: u32,   // rows of this call (of x's texture)
  N: u32,
  K: u32,
  M0: u32,  // y row of x's texture row 0
  yt_width: u32,  // texels per row of yt (OUT_TEXTURE)
}
@group(0) @binding(0) var<uniform> params: Params;
//!include _gemm_io.wgsl
//!include _gemm_texture_block.wgsl
// OUT_TEXTURE: the result goes to the matrix texture yt ([M, N], rows from 0; epilogues none / gelu /
// gelu_tanh / quick_gelu) instead of y, for a consumer that reads a texture (the next GEMM, attention).
override OUT_TEXTURE: bool = false;
@group(0) @binding(5) var yt: texture_storage_2d<rgba32uint, write>;

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let m0 = wid.y * MR;
  let c0 = wid.x * NB + 4u * lane;   // this lane's first column
  var acc = texture_block(m0, c0, lane, M, N, K);
  if (W_DTYPE == W_Q8) {
    let sv = w_scale4(vec4u(c0, c0 + 1u, c0 + 2u, c0 + 3u), N);   // this lane's 4 row scales of w
    for (var r = 0u; r < MR; r++) { acc[r] *= sv; }
  }

  // This lane's 4 biases, loaded once for all MR rows (a buffer load costs ~9 instructions here).
  var bv = vec4f(0.0);
  if (HAS_BIAS) {
    let cc = min(vec4u(c0, c0 + 1u, c0 + 2u, c0 + 3u), vec4u(N - 1u));
    bv = vec4f(bias[cc.x], bias[cc.y], bias[cc.z], bias[cc.w]);
  }
  for (var r = 0u; r < MR; r++) {
    let lm = m0 + r;
    if (lm >= M) { break; }
    if (OUT_TEXTURE) {
      // Columns c0 .. c0+3 are one texel of yt; columns past N are the row padding: zeros.
      if (c0 < 4u * params.yt_width) {
        var v = vec4f(0.0);
        for (var c = 0u; c < 4u; c++) {
          if (c0 + c < N) { v[c] = activate(acc[r][c] + bv[c]); }
        }
        textureStore(yt, vec2u(c0 / 4u, lm), bitcast<vec4u>(v));
      }
    } else {
      let o = (params.M0 + lm) * N + c0;
      for (var c = 0u; c < 4u; c++) {
        if (c0 + c < N) { store_value(o + c, activate(acc[r][c] + bv[c])); }
      }
    }
  }
}
