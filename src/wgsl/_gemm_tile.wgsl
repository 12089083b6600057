// Shared by gemm.wgsl and patch_embed.wgsl (included by tools/embed-wgsl.mjs at `//!include`):
// the register-tiled product of one BK-deep slice of two k-major tiles in workgroup memory, and
// the staging of the weight tile from the including shader's `w: array<f32>` ([N, K] row-major).
// A workgroup of 16×16 invocations computes a (16·TM)×64 output block; invocation (tx, ty) owns
// rows ty·TM .. ty·TM+TM-1 and the 4 contiguous columns 4·tx .. 4·tx+3, as acc[0..TM) of vec4s.
// Per k: TM/4 + 1 vec4 reads feed 4·TM fused multiply-adds (an outer product).

/** Rows per invocation: 4 or 8. */
override TM: u32 = 4u;
const BK: u32 = 32u;
const BN: u32 = 64u;
override BM: u32 = 16u * TM;
// One vec4 of padding per k-row spreads the stores of consecutive k over banks.
override AS_STRIDE: u32 = BM / 4u + 1u;
const BS_STRIDE: u32 = BN / 4u + 1u;
var<workgroup> As: array<vec4f, BK * AS_STRIDE>;   // As[k][m / 4] = rows m .. m+3 at k
var<workgroup> Bs: array<vec4f, BK * BS_STRIDE>;   // Bs[k][n / 4] = columns n .. n+3 at k

fn tile_product(tx: u32, ty: u32, acc: ptr<function, array<vec4f, 8>>) {
  for (var kk = 0u; kk < BK; kk++) {
    let b = Bs[kk * BS_STRIDE + tx];
    for (var i4 = 0u; i4 < TM / 4u; i4++) {
      let a = As[kk * AS_STRIDE + ty * (TM / 4u) + i4];
      (*acc)[4u * i4 + 0u] = fma(vec4f(a.x), b, (*acc)[4u * i4 + 0u]);
      (*acc)[4u * i4 + 1u] = fma(vec4f(a.y), b, (*acc)[4u * i4 + 1u]);
      (*acc)[4u * i4 + 2u] = fma(vec4f(a.z), b, (*acc)[4u * i4 + 2u]);
      (*acc)[4u * i4 + 3u] = fma(vec4f(a.w), b, (*acc)[4u * i4 + 3u]);
    }
  }
}

// w[n .. n+3, k] as a vec4, zero outside [0, N) × [0, K).
fn load_w4(n: u32, k: u32, N: u32, K: u32) -> vec4f {
  var v = vec4f(0.0);
  if (k < K) {
    if (n < N) { v.x = w[n * K + k]; }
    if (n + 1u < N) { v.y = w[(n + 1u) * K + k]; }
    if (n + 2u < N) { v.z = w[(n + 2u) * K + k]; }
    if (n + 3u < N) { v.w = w[(n + 3u) * K + k]; }
  }
  return v;
}

// Stages w[n0 .. n0+64, k0 .. k0+BK] into Bs: each invocation fills vec4s of 4 columns at one k;
// consecutive invocations take consecutive k, so each global read is contiguous across them.
fn stage_w(n0: u32, k0: u32, N: u32, K: u32, lid: u32) {
  for (var idx = lid; idx < BN * BK / 4u; idx += 256u) {
    let kk = idx % BK;
    let c4 = idx / BK;
    Bs[kk * BS_STRIDE + c4] = load_w4(n0 + 4u * c4, k0 + kk, N, K);
  }
}
