// Patch embedding for a ViT: a stride-p convolution without bias, the class token prepended and
// the position table added.
//   image: [B, 3, S, S] (NCHW);  weight: [W, 3*p*p] (the conv weight [W, 3, p, p], same memory);
//   cls: [W];  pos: [1 + g*g, W];  out: [B, 1 + g*g, W], g = S / p.
//   out[b, 0, :]     = cls + pos[0]
//   out[b, 1 + t, :] = sum_{c,ky,kx} image[b, c, gy*p+ky, gx*p+kx] * weight[:, c, ky, kx] + pos[1 + t]
// Computed as a GEMM over M = B*g*g patches, N = W, K = 3*p*p with the image gathered patch-wise
// while it is staged in workgroup memory (no im2col buffer). Same tiling as gemm.wgsl.

struct Params {
  batch: u32,
  image: u32,
  patch_size: u32,
  grid: u32,
  dim: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> image: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> cls: array<f32>;
@group(0) @binding(4) var<storage, read> pos: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;
const STRIDE: u32 = 65u;
var<workgroup> As: array<f32, BK * STRIDE>;
var<workgroup> Bs: array<f32, BK * STRIDE>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let p = params.patch_size;
  let S = params.image;
  let g = params.grid;
  let gg = g * g;
  let N = params.dim;
  let M = params.batch * gg;
  let K = 3u * p * p;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let tx = lid % 16u;
  let ty = lid / 16u;
  var acc: array<f32, 16>;
  for (var i = 0u; i < 16u; i++) { acc[i] = 0.0; }

  for (var k0 = 0u; k0 < K; k0 += BK) {
    for (var l = 0u; l < 4u; l++) {
      let idx = lid + l * 256u;
      let r = idx / BK;
      let kk = idx % BK;
      let gk = k0 + kk;
      let gm = m0 + r;
      let gn = n0 + r;
      var a = 0.0;
      if (gm < M && gk < K) {
        let b = gm / gg;
        let t = gm % gg;
        let c = gk / (p * p);
        let rem = gk % (p * p);
        let iy = (t / g) * p + rem / p;
        let ix = (t % g) * p + rem % p;
        a = image[((b * 3u + c) * S + iy) * S + ix];
      }
      As[kk * STRIDE + r] = a;
      var wv = 0.0;
      if (gn < N && gk < K) { wv = weight[gn * K + gk]; }
      Bs[kk * STRIDE + r] = wv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        a[i] = As[kk * STRIDE + ty + 16u * i];
        b[i] = Bs[kk * STRIDE + tx + 16u * i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
          acc[i * 4u + j] = fma(a[i], b[j], acc[i * 4u + j]);
        }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    let gm = m0 + ty + 16u * i;
    if (gm >= M) { continue; }
    let b = gm / gg;
    let t = gm % gg;
    for (var j = 0u; j < 4u; j++) {
      let gn = n0 + tx + 16u * j;
      if (gn >= N) { continue; }
      out[(b * (gg + 1u) + 1u + t) * N + gn] = acc[i * 4u + j] + pos[(1u + t) * N + gn];
    }
  }
  // The first row of workgroups also writes the class-token rows of its columns.
  if (wid.y == 0u && lid < BN) {
    let gn = n0 + lid;
    if (gn < N) {
      for (var b = 0u; b < params.batch; b++) {
        out[b * (gg + 1u) * N + gn] = cls[gn] + pos[gn];
      }
    }
  }
}
