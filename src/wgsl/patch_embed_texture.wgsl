enable subgroups;
// Patch embedding for CPU adapters from a patch matrix texture: the contract of patch_embed.wgsl
// (stride-p convolution without bias, class token prepended, position table added) with the
// convolution as a texture GEMM (_gemm_texture_block.wgsl: one 8-lane subgroup per 24 patches × 32
// columns, values shared by broadcast, both operands read from matrix textures (rgba32uint storage textures holding f32 bits)):
//   x: [rows, 3·p·p] matrix texture of patches P0 .. P0 + rows - 1 (patch_pack.wgsl);
//   w: [W, 3·p·p] matrix texture (the conv weight [W, 3, p, p]) in f32, f16 or q8 (W_DTYPE);  cls: [W];  pos: [1 + g·g, W];
//   out: [B, 1 + g·g, W]:  out[b, 1 + t, :] = x[m - P0]·wᵀ + pos[1 + t] for patch m = b·g² + t,
//   out[b, 0, :] = cls + pos[0] (written by the call with P0 = 0).

struct Params {
  rows: u32,   // patches of this call (rows of x)
  P0: u32,     // first patch
  batch: u32,
  grid: u32,
  dim: u32,    // W
  K: u32,      // 3·p·p
}

@group(0) @binding(0) var<uniform> params: Params;
//!include _gemm_texture_block.wgsl
@group(0) @binding(3) var<storage, read> cls: array<f32>;
@group(0) @binding(4) var<storage, read> pos: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let gg = params.grid * params.grid;
  let N = params.dim;
  let M = params.rows;
  let m0 = wid.y * MR;
  let c0 = wid.x * NB + 4u * lane;
  var acc = texture_block(m0, c0, lane, M, N, params.K);
  if (W_DTYPE == W_Q8) {
    let sv = w_scale4(vec4u(c0, c0 + 1u, c0 + 2u, c0 + 3u), N);
    for (var r = 0u; r < MR; r++) { acc[r] *= sv; }
  }

  for (var r = 0u; r < MR; r++) {
    let lm = m0 + r;
    if (lm >= M) { break; }
    let gm = params.P0 + lm;
    let b = gm / gg;
    let t = gm % gg;
    for (var c = 0u; c < 4u; c++) {
      let gn = c0 + c;
      if (gn < N) { out[(b * (gg + 1u) + 1u + t) * N + gn] = acc[r][c] + pos[(1u + t) * N + gn]; }
    }
  }
  // The first row of workgroups of the first call also writes the class-token rows of its columns.
  if (wid.y == 0u && params.P0 == 0u) {
    for (var c = 0u; c < 4u; c++) {
      let gn = c0 + c;
      if (gn >= N) { break; }
      for (var b = 0u; b < params.batch; b++) { out[b * (gg + 1u) * N + gn] = cls[gn] + pos[gn]; }
    }
  }
}
