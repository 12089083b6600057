// Patch embedding for a ViT: a stride-p convolution without bias, the class token prepended and
// the position table added.
//   image: [B, 3, S, S] (NCHW);  w: [W, 3*p*p] (the conv weight [W, 3, p, p], same memory) in f32,
//   f16 or q8 (W_DTYPE, _weight_format.wgsl; q8's scales applied per output column);
//   cls: [W];  pos: [1 + g*g, W];  out: [B, 1 + g*g, W], g = S / p.
//   out[b, 0, :]     = cls + pos[0]
//   out[b, 1 + t, :] = sum_{c,ky,kx} image[b, c, gy*p+ky, gx*p+kx] * w[:, c, ky, kx] + pos[1 + t]
// Computed as a GEMM over M = B*g*g patches, N = W, K = 3*p*p, with the image gathered patch-wise
// while it is staged in workgroup memory (no im2col buffer); tiling as gemm.wgsl (_gemm_tile.wgsl).

struct Params {
  batch: u32,
  image_size: u32,
  patch_size: u32,
  grid: u32,
  dim: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> image: array<f32>;
// w (binding 2): [W, 3·p·p], read through w_at
//!include _weight_buffer.wgsl
@group(0) @binding(3) var<storage, read> cls: array<f32>;
@group(0) @binding(4) var<storage, read> pos: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

//!include _gemm_tile.wgsl

// The image value of patch m at (flattened) kernel position k, zero outside [0, M) × [0, K).
fn patch_value(m: u32, k: u32, M: u32, K: u32) -> f32 {
  if (m >= M || k >= K) { return 0.0; }
  let p = params.patch_size;
  let g = params.grid;
  let S = params.image_size;
  let b = m / (g * g);
  let t = m % (g * g);
  let c = k / (p * p);
  let rem = k % (p * p);
  let iy = (t / g) * p + rem / p;
  let ix = (t % g) * p + rem % p;
  return image[((b * 3u + c) * S + iy) * S + ix];
}

// out[b, 1 + t, gn .. gn+3] = v + pos[1 + t, gn .. gn+3] for patch gm = b·g² + t; columns past N skipped.
fn store_patch4(gm: u32, gn: u32, N: u32, gg: u32, acc_v: vec4f) {
  let v = acc_v * w_scale4(vec4u(gn, gn + 1u, gn + 2u, gn + 3u), N);
  let b = gm / gg;
  let t = gm % gg;
  let o = (b * (gg + 1u) + 1u + t) * N + gn;
  let po = (1u + t) * N + gn;
  if (gn < N) { out[o] = v.x + pos[po]; }
  if (gn + 1u < N) { out[o + 1u] = v.y + pos[po + 1u]; }
  if (gn + 2u < N) { out[o + 2u] = v.z + pos[po + 2u]; }
  if (gn + 3u < N) { out[o + 3u] = v.w + pos[po + 3u]; }
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let p = params.patch_size;
  let gg = params.grid * params.grid;
  let N = params.dim;
  let M = params.batch * gg;
  let K = 3u * p * p;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let tx = lid3.x;
  let ty = lid3.y;
  var acc: array<vec4f, 16>;   // acc[2i + h]: row 8·ty + i, columns h·BN/2 + 4·tx .. +3 (_gemm_tile.wgsl)

  for (var k0 = 0u; k0 < K; k0 += BK) {
    for (var idx = lid; idx < BM * BK / 4u; idx += WG) {
      let kk = idx % BK;
      let m = m0 + 4u * (idx / BK);
      let k = k0 + kk;
      As[kk * AS_STRIDE + idx / BK] = tile4(vec4f(patch_value(m, k, M, K), patch_value(m + 1u, k, M, K),
                                                  patch_value(m + 2u, k, M, K), patch_value(m + 3u, k, M, K)));
    }
    stage_w(n0, k0, N, K, lid, 0u, false);
    workgroupBarrier();
    tile_product(tx, ty, 0u, &acc);
    workgroupBarrier();
  }

  // The 8×8 block unrolled (constant register indices; rows and columns past M, N skipped).
  //!unroll i 8
  if (m0 + 8u * ty + $i < M) {
    store_patch4(m0 + 8u * ty + $i, n0 + 4u * tx, N, gg, acc[2u * $i]);
    store_patch4(m0 + 8u * ty + $i, n0 + BN / 2u + 4u * tx, N, gg, acc[2u * $i + 1u]);
  }
  //!end
  // The first row of workgroups also writes the class-token rows of its columns.
  if (wid.y == 0u) {
    for (var c = lid; c < BN; c += WG) {
      let gn = n0 + c;
      if (gn >= N) { break; }
      for (var b = 0u; b < params.batch; b++) {
        out[b * (gg + 1u) * N + gn] = cls[gn] + pos[gn];
      }
    }
  }
}
