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
// BUFFERS = 2 (gemm.wgsl only; the host sets it where twice the memory fits the device,
// choose/tiles.ts tileBuffers): two copies of each tile, alternated per k-step, so the next step
// is staged into one while the other is multiplied (one barrier per k-step instead of two).
override BUFFERS: u32 = 1u;
override AS_BUF: u32 = BK * AS_STRIDE;   // vec4s of one copy of As (buffer b starts at b·AS_BUF)
override BS_BUF: u32 = BK * BS_STRIDE;
override AS_SIZE: u32 = BUFFERS * AS_BUF;
override BS_SIZE: u32 = BUFFERS * BS_BUF;
// The tiles' element type: f32, or (the f16 precision build, tools/embed-wgsl.mjs //!math) f16:
// x and w rounded to f16 as they are staged (half the workgroup memory and its traffic), their
// products summed in f16 over KF = 8 consecutive k (vec4<f16> FMAs, twice the f32 rate on GPUs with
// packed f16), each such partial sum then added to the f32 accumulators: f32 accumulation at least
// once per 8 k, so the f16 rounding does not grow with K (docs/precision.md).
//!math f16
alias tile4 = vec4<f16>;
//!math f32
alias tile4 = vec4f;
//!math end
var<workgroup> As: array<tile4, AS_SIZE>;   // As[b][k][m / 4] = rows m .. m+3 at k (copy b)
var<workgroup> Bs: array<tile4, BS_SIZE>;   // Bs[b][k][n / 4] = columns n .. n+3 at k (copy b)

// acc += the product of tile copy `buf` (0 with a single buffer). Per k: 4 vec4 reads of workgroup
// memory feed 64 fused multiply-adds (an outer product of 8 rows and 8 columns). The f16 build's
// partials h are a local array and the f32 build writes through `acc` itself: Naga refuses a pointer
// parameter passed on to another function, so the outer product is not a function of its own.
fn tile_product(tx: u32, ty: u32, buf: u32, acc: ptr<function, array<vec4f, 16>>) {
  let ab = buf * AS_BUF;
  let bb = buf * BS_BUF;
//!math f16
  for (var kc = 0u; kc < BK; kc += 8u) {   // BK is a multiple of 8 (every tile: k8, k16, k32)
    var h = array<tile4, 16>();   // with an initializer: test/wgsl/lint.test.ts says why
    for (var kk = kc; kk < kc + 8u; kk++) {
      let b0 = Bs[bb + kk * BS_STRIDE + tx];
      let b1 = Bs[bb + kk * BS_STRIDE + WG_X + tx];
      let a0 = As[ab + kk * AS_STRIDE + 2u * ty];
      let a1 = As[ab + kk * AS_STRIDE + 2u * ty + 1u];
      //!unroll i 4
      h[2u * $i] = fma(tile4(a0[$i]), b0, h[2u * $i]);
      h[2u * $i + 1u] = fma(tile4(a0[$i]), b1, h[2u * $i + 1u]);
      h[8u + 2u * $i] = fma(tile4(a1[$i]), b0, h[8u + 2u * $i]);
      h[9u + 2u * $i] = fma(tile4(a1[$i]), b1, h[9u + 2u * $i]);
      //!end
    }
    //!unroll i 16
    (*acc)[$i] += vec4f(h[$i]);
    //!end
  }
//!math f32
  for (var kk = 0u; kk < BK; kk++) {
    let b0 = Bs[bb + kk * BS_STRIDE + tx];
    let b1 = Bs[bb + kk * BS_STRIDE + WG_X + tx];
    let a0 = As[ab + kk * AS_STRIDE + 2u * ty];
    let a1 = As[ab + kk * AS_STRIDE + 2u * ty + 1u];
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
//!math end
}

// w[n .. n+3, k] as a vec4 (decoded, q8 unscaled), zero outside [0, N) × [0, K); `full`: the
// caller knows all four are inside (no compares).
fn load_w4(n: u32, k: u32, N: u32, K: u32, full: bool) -> vec4f {
  if (full) { return vec4f(w_at(n, k, K), w_at(n + 1u, k, K), w_at(n + 2u, k, K), w_at(n + 3u, k, K)); }
  var v = vec4f(0.0);
  if (k < K) {
    if (n < N) { v.x = w_at(n, k, K); }
    if (n + 1u < N) { v.y = w_at(n + 1u, k, K); }
    if (n + 2u < N) { v.z = w_at(n + 2u, k, K); }
    if (n + 3u < N) { v.w = w_at(n + 3u, k, K); }
  }
  return v;
}

// Stages w[n0 .. n0+BN, k0 .. k0+BK] into Bs copy `buf`: each invocation fills vec4s of 4 columns
// at one k; consecutive invocations take consecutive k, so each global read is contiguous across them.
fn stage_w(n0: u32, k0: u32, N: u32, K: u32, lid: u32, buf: u32, full: bool) {
  for (var idx = lid; idx < BN * BK / 4u; idx += WG) {
    let kk = idx % BK;
    let c4 = idx / BK;
    Bs[buf * BS_BUF + kk * BS_STRIDE + c4] = tile4(load_w4(n0 + 4u * c4, k0 + kk, N, K, full));
  }
}
