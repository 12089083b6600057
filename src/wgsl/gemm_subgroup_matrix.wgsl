// Linear layer on subgroup matrices (tensor cores through Vulkan cooperative matrix, Metal simdgroup
// matrices): y[m, n] = epilogue( sum_k x[m, k] * w[n, k] + bias[n] ), the contract of gemm.wgsl
// (x [M, K] f32, w [N, K] in f32 / f16 / q8, bias [N], y [M, N]; the same EPILOGUE codes and
// HAS_BIAS, _gemm_io.wgsl). Needs the device features chromium-experimental-subgroup-matrix,
// subgroups and shader-f16 (Dawn's feature document, subgroup_matrix.md in google/dawn).
//
// TEMPLATE: the SGM_* names below are placeholders, not WGSL: the host writes in the chosen
// configuration's result type (f32 or f16) and its M, N, K (specialiseSubgroupMatrix,
// src/kernels/gemm-subgroup-matrix.ts), because the matrix types take literal sizes. Both operands
// are f16 in every configuration used.
//
// A workgroup of 4 subgroups (WG = 4 × the adapter's largest subgroup size, which the feature requires
// the workgroup's x size to be a multiple of; where the subgroups come out smaller, those past the
// fourth only stage and store) computes a BM × BN = 4·SGM_M × 4·SGM_N block of y, walking K BK = 2·SGM_K
// at a time. Each k-step every invocation stages x and w into workgroup memory as f16, zero outside
// [0, M) × [0, K) and [0, N) × [0, K) (so any M, N, K); subgroup s (2 × 2 of them) multiplies its
// 2 × 2 matrices of SGM_M × SGM_N, accumulating in SGM_RESULT. After the loop the results go through
// workgroup memory (subgroupMatrixStore into Cs) and every invocation applies the epilogue of the
// tiled GEMM on f32 values (store_out: q8 row scale, bias, activation, residual) to the ones inside y.
diagnostic(off, chromium.subgroup_matrix_uniformity);
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;

struct Params {
  M: u32,
  N: u32,
  K: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
//!include _gemm_io.wgsl
@group(0) @binding(1) var<storage, read> x: array<f32>;
//!include _weight_buffer.wgsl

// Invocations per workgroup: 4 × subgroupMaxSize (the host sets it).
override WG: u32 = 128u;
const SUBGROUPS: u32 = 4u;
const BLOCK_MATRICES: u32 = 4u;        // matrices per side of the block: 2 subgroups × 2 (the host reads it)
const BM: u32 = BLOCK_MATRICES * SGM_M;   // rows of y per workgroup
const BN: u32 = BLOCK_MATRICES * SGM_N;   // columns of y per workgroup
const BK: u32 = 2u * SGM_K;               // k per step: 2 matrix products per step
var<workgroup> As: array<f16, BM * BK>;           // As[r * BK + k] = x[m0 + r, k0 + k]: row-major, stride BK
var<workgroup> Bs: array<f16, BN * BK>;           // Bs[c * BK + k] = w[n0 + c, k0 + k]: B = wᵀ column-major, stride BK
var<workgroup> Cs: array<SGM_RESULT, BM * BN>;    // Cs[r * BN + c]: the block's results, row-major, stride BN

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_id) sg: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  // Subgroup sg < 4 owns rows r0 .. r0 + 2·SGM_M and columns c0 .. c0 + 2·SGM_N of the block.
  let r0 = (sg % 2u) * 2u * SGM_M;
  let c0 = (sg / 2u) * 2u * SGM_N;
  var c00: subgroup_matrix_result<SGM_RESULT, SGM_N, SGM_M>;
  var c01: subgroup_matrix_result<SGM_RESULT, SGM_N, SGM_M>;
  var c10: subgroup_matrix_result<SGM_RESULT, SGM_N, SGM_M>;
  var c11: subgroup_matrix_result<SGM_RESULT, SGM_N, SGM_M>;

  for (var k0 = 0u; k0 < K; k0 += BK) {
    // Stage: consecutive invocations take consecutive k (contiguous global reads); f16 on the way in.
    for (var i = lid; i < BM * BK; i += WG) {
      let gm = m0 + i / BK;
      let gk = k0 + i % BK;
      var v = 0.0;
      if (gm < M && gk < K) { v = x[gm * K + gk]; }
      As[i] = f16(v);
    }
    for (var i = lid; i < BN * BK; i += WG) {
      let gn = n0 + i / BK;
      let gk = k0 + i % BK;
      var v = 0.0;
      if (gn < N && gk < K) { v = w_at(gn, gk, K); }
      Bs[i] = f16(v);
    }
    workgroupBarrier();
    if (sg < SUBGROUPS) {
      for (var kk = 0u; kk < BK; kk += SGM_K) {
        var a0: subgroup_matrix_left<f16, SGM_K, SGM_M> =
          subgroupMatrixLoad<subgroup_matrix_left<f16, SGM_K, SGM_M>>(&As, r0 * BK + kk, false, BK);
        var a1: subgroup_matrix_left<f16, SGM_K, SGM_M> =
          subgroupMatrixLoad<subgroup_matrix_left<f16, SGM_K, SGM_M>>(&As, (r0 + SGM_M) * BK + kk, false, BK);
        var b0: subgroup_matrix_right<f16, SGM_N, SGM_K> =
          subgroupMatrixLoad<subgroup_matrix_right<f16, SGM_N, SGM_K>>(&Bs, c0 * BK + kk, true, BK);
        var b1: subgroup_matrix_right<f16, SGM_N, SGM_K> =
          subgroupMatrixLoad<subgroup_matrix_right<f16, SGM_N, SGM_K>>(&Bs, (c0 + SGM_N) * BK + kk, true, BK);
        c00 = subgroupMatrixMultiplyAccumulate(a0, b0, c00);
        c01 = subgroupMatrixMultiplyAccumulate(a0, b1, c01);
        c10 = subgroupMatrixMultiplyAccumulate(a1, b0, c10);
        c11 = subgroupMatrixMultiplyAccumulate(a1, b1, c11);
      }
    }
    workgroupBarrier();
  }

  if (sg < SUBGROUPS) {
    subgroupMatrixStore(&Cs, r0 * BN + c0, c00, false, BN);
    subgroupMatrixStore(&Cs, r0 * BN + c0 + SGM_N, c01, false, BN);
    subgroupMatrixStore(&Cs, (r0 + SGM_M) * BN + c0, c10, false, BN);
    subgroupMatrixStore(&Cs, (r0 + SGM_M) * BN + c0 + SGM_N, c11, false, BN);
  }
  workgroupBarrier();
  // The epilogue on f32 values, for the block's elements inside y (consecutive invocations: consecutive n).
  for (var i = lid; i < BM * BN; i += WG) {
    let gm = m0 + i / BN;
    let gn = n0 + i % BN;
    if (gm < M && gn < N) { store_out(gm, gn, N, f32(Cs[i])); }
  }
}
