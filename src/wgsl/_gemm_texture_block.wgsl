// The block product of the texture GEMMs (included by gemm_texture.wgsl and patch_embed_texture.wgsl):
// the bindings x: [M, K] and w: [N, K] matrix textures (TextureRef layout, rows zero-padded to whole
// 8-value steps; w in f32, f16 or q8, _weight_format.wgsl: 2, 1 or ½ texel per step), the block size,
// and texture_block(), which returns one MR × NB block of x·wᵀ (q8 unscaled: the caller scales).
//   A workgroup is one subgroup of 8 lanes (the host checks the subgroup size is 8): lane l owns
// columns n0 + 4l .. n0 + 4l + 3 (a vec4 accumulator per row). Per step of 8 k, lane l loads x texel
// (k0/4 + (l & 1)) of rows m0 + 4j + (l >> 1), j < MR/4, and its 4 columns' two w texels; every lane
// then takes each row's 8 x values by constant-lane broadcast. MR/4 + 8 texel loads feed 32·MR
// multiply-adds per lane; no workgroup memory, no barriers. Rows past M and columns past N read a
// clamped row (the caller does not store them); k needs no guard (the padding is zero).

@group(0) @binding(1) var x: texture_storage_2d<rgba32uint, read>;   // [M, K] matrix texture (f32)
@group(0) @binding(2) var w: texture_storage_2d<rgba32uint, read>;   // [N, K] matrix texture of W_DTYPE
//!include _weight_format.wgsl
const MR: u32 = 24u;    // rows per workgroup (a multiple of 4)
const NB: u32 = 32u;    // columns per workgroup: 4 per lane

// w[c, 8s .. 8s + 7], decoded: two texel loads for f32, one for f16 and q8.
fn w_texture_step(c: u32, s: u32) -> array<vec4f, 2> {
  let q = w_step_word(s);
  let lo = textureLoad(w, vec2u(q, c));
  var hi = vec4u(0u);
  if (W_DTYPE == W_F32) { hi = textureLoad(w, vec2u(q + 1u, c)); }
  return w_step8(lo, hi, s);
}

// Rows m0 .. m0 + MR - 1 of x·wᵀ at this lane's columns c0 .. c0 + 3.
fn texture_block(m0: u32, c0: u32, lane: u32, M: u32, N: u32, K: u32) -> array<vec4f, MR> {
  let cc = min(vec4u(c0, c0 + 1u, c0 + 2u, c0 + 3u), vec4u(N - 1u));
  let li = lane >> 1u;   // the row (of each 4) whose x texel this lane loads
  let lq = lane & 1u;    // and which of the step's two texels
  var acc = array<vec4f, MR>();

  for (var k0 = 0u; k0 < K; k0 += 8u) {
    let q0 = k0 / 4u;
    var xv = array<vec4f, MR / 4u>();
    for (var j = 0u; j < MR / 4u; j++) {
      xv[j] = bitcast<vec4f>(textureLoad(x, vec2u(q0 + lq, min(m0 + 4u * j + li, M - 1u))));
    }
    // wv[kk] = w[c0 .. c0+3, k0 + kk]
    let s = k0 / 8u;
    var wv = w_by_k(w_texture_step(cc.x, s), w_texture_step(cc.y, s), w_texture_step(cc.z, s), w_texture_step(cc.w, s));
    for (var j = 0u; j < MR / 4u; j++) {
      let xj = xv[j];
      { // row m0 + 4j + 0: its 8 values sit in lanes 0 (k0 .. k0+3) and 1 (k0+4 .. k0+7)
        var a = acc[4u * j + 0u];
        a += subgroupBroadcast(xj[0], 0u) * wv[0];
        a += subgroupBroadcast(xj[1], 0u) * wv[1];
        a += subgroupBroadcast(xj[2], 0u) * wv[2];
        a += subgroupBroadcast(xj[3], 0u) * wv[3];
        a += subgroupBroadcast(xj[0], 1u) * wv[4];
        a += subgroupBroadcast(xj[1], 1u) * wv[5];
        a += subgroupBroadcast(xj[2], 1u) * wv[6];
        a += subgroupBroadcast(xj[3], 1u) * wv[7];
        acc[4u * j + 0u] = a;
      }
      { // row m0 + 4j + 1: its 8 values sit in lanes 2 (k0 .. k0+3) and 3 (k0+4 .. k0+7)
        var a = acc[4u * j + 1u];
        a += subgroupBroadcast(xj[0], 2u) * wv[0];
        a += subgroupBroadcast(xj[1], 2u) * wv[1];
        a += subgroupBroadcast(xj[2], 2u) * wv[2];
        a += subgroupBroadcast(xj[3], 2u) * wv[3];
        a += subgroupBroadcast(xj[0], 3u) * wv[4];
        a += subgroupBroadcast(xj[1], 3u) * wv[5];
        a += subgroupBroadcast(xj[2], 3u) * wv[6];
        a += subgroupBroadcast(xj[3], 3u) * wv[7];
        acc[4u * j + 1u] = a;
      }
      { // row m0 + 4j + 2: its 8 values sit in lanes 4 (k0 .. k0+3) and 5 (k0+4 .. k0+7)
        var a = acc[4u * j + 2u];
        a += subgroupBroadcast(xj[0], 4u) * wv[0];
        a += subgroupBroadcast(xj[1], 4u) * wv[1];
        a += subgroupBroadcast(xj[2], 4u) * wv[2];
        a += subgroupBroadcast(xj[3], 4u) * wv[3];
        a += subgroupBroadcast(xj[0], 5u) * wv[4];
        a += subgroupBroadcast(xj[1], 5u) * wv[5];
        a += subgroupBroadcast(xj[2], 5u) * wv[6];
        a += subgroupBroadcast(xj[3], 5u) * wv[7];
        acc[4u * j + 2u] = a;
      }
      { // row m0 + 4j + 3: its 8 values sit in lanes 6 (k0 .. k0+3) and 7 (k0+4 .. k0+7)
        var a = acc[4u * j + 3u];
        a += subgroupBroadcast(xj[0], 6u) * wv[0];
        a += subgroupBroadcast(xj[1], 6u) * wv[1];
        a += subgroupBroadcast(xj[2], 6u) * wv[2];
        a += subgroupBroadcast(xj[3], 6u) * wv[3];
        a += subgroupBroadcast(xj[0], 7u) * wv[4];
        a += subgroupBroadcast(xj[1], 7u) * wv[5];
        a += subgroupBroadcast(xj[2], 7u) * wv[6];
        a += subgroupBroadcast(xj[3], 7u) * wv[7];
        acc[4u * j + 3u] = a;
      }
    }
  }

  return acc;
}
