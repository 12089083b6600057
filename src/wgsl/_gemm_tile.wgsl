// Shared by gemm.wgsl and patch_embed.wgsl (included by tools/embed-wgsl.mjs at `//!include`):
// the register-tiled product of one BK-deep slice of two k-major tiles in workgroup memory, and
// the staging of the weight tile through the includer's w_at ([N, K] in the layout of W_DTYPE,
// _weight_buffer.wgsl).
//
// A workgroup of WG_X × WG_Y invocations computes a BM × BN = 8·WG_Y × 8·WG_X output block, 8×8
// per invocation: invocation (tx, ty) owns rows 8·ty .. 8·ty+7 and the columns 4·tx .. 4·tx+3 and
// BN/2 + 4·tx .. BN/2 + 4·tx+3, as acc[2·i + h] (row i, column half h). Per k: 4 vec4 reads from
// workgroup memory feed 64 fused multiply-adds (an outer product). The tile shape is chosen per
// adapter by the host (src/kernels/gemm-tile.ts) through the overrides WG_X, WG_Y and BK; the
// others are derived from them and are not meant to be set.

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
override BK: u32 = 32u;
override WG: u32 = WG_X * WG_Y;
const PER_INVOCATION: u32 = 8u;   // rows and columns of y per invocation (acc: 8×8); the host reads it
override BM: u32 = PER_INVOCATION * WG_Y;
override BN: u32 = PER_INVOCATION * WG_X;
// One vec4 of padding per k-row spreads the stores of consecutive k over banks.
override AS_STRIDE: u32 = 2u * WG_Y + 1u;
override BS_STRIDE: u32 = 2u * WG_X + 1u;
override AS_SIZE: u32 = BK * AS_STRIDE;
override BS_SIZE: u32 = BK * BS_STRIDE;
var<workgroup> As: array<vec4f, AS_SIZE>;   // As[k][m / 4] = rows m .. m+3 at k
var<workgroup> Bs: array<vec4f, BS_SIZE>;   // Bs[k][n / 4] = columns n .. n+3 at k

fn tile_product(tx: u32, ty: u32, acc: ptr<function, array<vec4f, 16>>) {
  for (var kk = 0u; kk < BK; kk++) {
    let b0 = Bs[kk * BS_STRIDE + tx];
    let b1 = Bs[kk * BS_STRIDE + WG_X + tx];
    let a0 = As[kk * AS_STRIDE + 2u * ty];
    let a1 = As[kk * AS_STRIDE + 2u * ty + 1u];
    (*acc)[0] = fma(vec4f(a0.x), b0, (*acc)[0]);
    (*acc)[1] = fma(vec4f(a0.x), b1, (*acc)[1]);
    (*acc)[2] = fma(vec4f(a0.y), b0, (*acc)[2]);
    (*acc)[3] = fma(vec4f(a0.y), b1, (*acc)[3]);
    (*acc)[4] = fma(vec4f(a0.z), b0, (*acc)[4]);
    (*acc)[5] = fma(vec4f(a0.z), b1, (*acc)[5]);
    (*acc)[6] = fma(vec4f(a0.w), b0, (*acc)[6]);
    (*acc)[7] = fma(vec4f(a0.w), b1, (*acc)[7]);
    (*acc)[8] = fma(vec4f(a1.x), b0, (*acc)[8]);
    (*acc)[9] = fma(vec4f(a1.x), b1, (*acc)[9]);
    (*acc)[10] = fma(vec4f(a1.y), b0, (*acc)[10]);
    (*acc)[11] = fma(vec4f(a1.y), b1, (*acc)[11]);
    (*acc)[12] = fma(vec4f(a1.z), b0, (*acc)[12]);
    (*acc)[13] = fma(vec4f(a1.z), b1, (*acc)[13]);
    (*acc)[14] = fma(vec4f(a1.w), b0, (*acc)[14]);
    (*acc)[15] = fma(vec4f(a1.w), b1, (*acc)[15]);
  }
}

// w[n .. n+3, k] as a vec4 (decoded, q8 unscaled), zero outside [0, N) × [0, K).
fn load_w4(n: u32, k: u32, N: u32, K: u32) -> vec4f {
  var v = vec4f(0.0);
  if (k < K) {
    if (n < N) { v.x = w_at(n, k, K); }
    if (n + 1u < N) { v.y = w_at(n + 1u, k, K); }
    if (n + 2u < N) { v.z = w_at(n + 2u, k, K); }
    if (n + 3u < N) { v.w = w_at(n + 3u, k, K); }
  }
  return v;
}

// Stages w[n0 .. n0+BN, k0 .. k0+BK] into Bs: each invocation fills vec4s of 4 columns at one k;
// consecutive invocations take consecutive k, so each global read is contiguous across them.
fn stage_w(n0: u32, k0: u32, N: u32, K: u32, lid: u32) {
  for (var idx = lid; idx < BN * BK / 4u; idx += WG) {
    let kk = idx % BK;
    let c4 = idx / BK;
    Bs[kk * BS_STRIDE + c4] = load_w4(n0 + 4u * c4, k0 + kk, N, K);
  }
}
