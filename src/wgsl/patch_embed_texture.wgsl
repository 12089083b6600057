enable subgroups;
// Patch embedding for CPU adapters, with the conv weight read from a matrix texture: the contract of
// patch_embed.wgsl (stride-p convolution without bias, class token prepended, position table added)
//   image: [B, 3, S, S] (NCHW) buffer;  w: [W, 3·p·p] matrix texture (the conv weight [W, 3, p, p]);
//   cls: [W];  pos: [1 + g·g, W];  out: [B, 1 + g·g, W], g = S / p.
// computed as gemm_subgroup.wgsl computes its GEMM (one 8-lane subgroup per MR patches × NB
// columns, no workgroup memory or barriers, image values shared by constant-lane broadcast), with
// the weight's texels read as gemm_texture.wgsl reads w (~1.5 instructions per value on llvmpipe
// instead of ~9, shared/notes/lavapipe.md). Lane l loads the image value of each of the MR patches
// at kernel position k0 + l (the im2col gather, zero past K = 3·p·p) and the two w texels of each of
// its 4 columns.

struct Params {
  batch: u32,
  image_size: u32,
  patch_size: u32,
  grid: u32,
  dim: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> image: array<f32>;
@group(0) @binding(2) var w: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var<storage, read> cls: array<f32>;
@group(0) @binding(4) var<storage, read> pos: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
const MR: u32 = 16u;    // patches per workgroup
const NB: u32 = 32u;    // output columns per workgroup: 4 per lane

// The image value of patch m at (flattened) kernel position k, zero outside [0, M) × [0, K).
fn patch_value(m: u32, k: u32, M: u32, K: u32) -> f32 {
  let p = params.patch_size;
  let g = params.grid;
  let S = params.image_size;
  let mc = min(m, M - 1u);
  let kc = min(k, K - 1u);
  let b = mc / (g * g);
  let t = mc % (g * g);
  let c = kc / (p * p);
  let rem = kc % (p * p);
  let iy = (t / g) * p + rem / p;
  let ix = (t % g) * p + rem % p;
  return select(0.0, image[((b * 3u + c) * S + iy) * S + ix], m < M && k < K);
}

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let p = params.patch_size;
  let gg = params.grid * params.grid;
  let N = params.dim;
  let M = params.batch * gg;
  let K = 3u * p * p;
  let m0 = wid.y * MR;
  let c0 = wid.x * NB + 4u * lane;
  let cc = min(vec4u(c0, c0 + 1u, c0 + 2u, c0 + 3u), vec4u(N - 1u));
  var acc = array<vec4f, MR>();

  for (var k0 = 0u; k0 < K; k0 += 8u) {
    var xv = array<f32, MR>();
    for (var r = 0u; r < MR; r++) { xv[r] = patch_value(m0 + r, k0 + lane, M, K); }
    let q0 = k0 / 4u;
    let q1 = q0 + 1u;
    let a0 = textureLoad(w, vec2u(q0, cc.x));
    let a1 = textureLoad(w, vec2u(q1, cc.x));
    let b0 = textureLoad(w, vec2u(q0, cc.y));
    let b1 = textureLoad(w, vec2u(q1, cc.y));
    let d0 = textureLoad(w, vec2u(q0, cc.z));
    let d1 = textureLoad(w, vec2u(q1, cc.z));
    let e0 = textureLoad(w, vec2u(q0, cc.w));
    let e1 = textureLoad(w, vec2u(q1, cc.w));
    var wv = array<vec4f, 8>(
      vec4f(a0.x, b0.x, d0.x, e0.x), vec4f(a0.y, b0.y, d0.y, e0.y), vec4f(a0.z, b0.z, d0.z, e0.z), vec4f(a0.w, b0.w, d0.w, e0.w),
      vec4f(a1.x, b1.x, d1.x, e1.x), vec4f(a1.y, b1.y, d1.y, e1.y), vec4f(a1.z, b1.z, d1.z, e1.z), vec4f(a1.w, b1.w, d1.w, e1.w));
    for (var r = 0u; r < MR; r++) {
      let xr = xv[r];
      var a = acc[r];
      a += subgroupBroadcast(xr, 0u) * wv[0];
      a += subgroupBroadcast(xr, 1u) * wv[1];
      a += subgroupBroadcast(xr, 2u) * wv[2];
      a += subgroupBroadcast(xr, 3u) * wv[3];
      a += subgroupBroadcast(xr, 4u) * wv[4];
      a += subgroupBroadcast(xr, 5u) * wv[5];
      a += subgroupBroadcast(xr, 6u) * wv[6];
      a += subgroupBroadcast(xr, 7u) * wv[7];
      acc[r] = a;
    }
  }

  for (var r = 0u; r < MR; r++) {
    let gm = m0 + r;
    if (gm >= M) { break; }
    let b = gm / gg;
    let t = gm % gg;
    for (var c = 0u; c < 4u; c++) {
      let gn = c0 + c;
      if (gn < N) { out[(b * (gg + 1u) + 1u + t) * N + gn] = acc[r][c] + pos[(1u + t) * N + gn]; }
    }
  }
  // The first row of workgroups also writes the class-token rows of its columns.
  if (wid.y == 0u) {
    for (var c = 0u; c < 4u; c++) {
      let gn = c0 + c;
      if (gn >= N) { break; }
      for (var b = 0u; b < params.batch; b++) { out[b * (gg + 1u) * N + gn] = cls[gn] + pos[gn]; }
    }
  }
}
