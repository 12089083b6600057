// Linear layer: y[m, n] = epilogue( sum_k x[m, k] * w[n, k] + bias[n] ).
// x: [M, K] row-major; w: [N, K] (PyTorch's nn.Linear layout, rows are output features) in f32, f16
// or q8 (W_DTYPE, _weight_format.wgsl; q8's row scales applied to the result);
// bias: [N]; y: [M, N]. Any M, N, K: tiles are bounds-checked and zero-filled.
// Epilogues (override EPILOGUE): 0 none, 1 exact-erf GELU, 2 residual accumulate (y += result,
// in place, as in `x = x + proj(...)`), 3 tanh-approximated GELU (OpenVision's text tower),
// 4 QuickGELU v·sigmoid(1.702·v) (OpenAI-layout CLIP, both towers). HAS_BIAS = false skips the bias read.
//
// Tiling (_gemm_tile.wgsl): a workgroup of WG_X × WG_Y invocations computes a BM × BN block of y
// (8×8 each), walking K BK at a time through workgroup memory. PREFETCH = true loads the next
// k-step's tiles from global memory into registers while the current one is multiplied (register
// double buffering), then stores them to workgroup memory.
//
// Split-K (SPLIT_K = true; src/kernels/gemm.ts `splitK`): workgroup z-index s sums only
// k in [s·KS, min(K, (s+1)·KS)) (KS a multiple of BK, so a k-step never crosses into the next
// range) and writes that partial sum, without bias, scales or epilogue, to y viewed as an [S, M, N]
// workspace (slice s); gemm_splitk_reduce.wgsl sums the S slices and applies the epilogue.

struct Params {
  M: u32,
  N: u32,
  K: u32,
  KS: u32,   // k values per workgroup z-index (split-K); a multiple of BK, ≥ K without a split
}
@group(0) @binding(0) var<uniform> params: Params;
//!include _gemm_io.wgsl
@group(0) @binding(1) var<storage, read> x: array<f32>;
//!include _weight_buffer.wgsl
override PREFETCH: bool = false;
override SPLIT_K: bool = false;
//!include _gemm_tile.wgsl
// vec4s of x and of w one invocation stages per k-step (derived; at most MAX_PF, checked by the host).
override XL: u32 = (BM * BK / 4u + WG - 1u) / WG;
override WL: u32 = (BN * BK / 4u + WG - 1u) / WG;
const MAX_PF: u32 = 8u;   // = the //!unroll counts of fetch_tiles / store_tiles

// x[m .. m+3, k] as a vec4, zero outside [0, M) × [0, K).
fn load_x4(m: u32, k: u32, M: u32, K: u32) -> vec4f {
  var v = vec4f(0.0);
  if (k < K) {
    if (m < M) { v.x = x[m * K + k]; }
    if (m + 1u < M) { v.y = x[(m + 1u) * K + k]; }
    if (m + 2u < M) { v.z = x[(m + 2u) * K + k]; }
    if (m + 3u < M) { v.w = x[(m + 3u) * K + k]; }
  }
  return v;
}

// The x and w tiles of k-step k0 into registers (the same element order as the staging loops).
// Unrolled over the MAX_PF slots (guarded by XL / WL, constants once specialised): every register
// index is a constant, so no driver has to keep xr / wr addressable (docs/gpu.md).
fn fetch_tiles(m0: u32, n0: u32, k0: u32, M: u32, N: u32, K: u32, lid: u32,
               xr: ptr<function, array<vec4f, MAX_PF>>, wr: ptr<function, array<vec4f, MAX_PF>>) {
  //!unroll i 8
  if ($i < XL) {
    let idx = lid + $i * WG;
    if (idx < BM * BK / 4u) { (*xr)[$i] = load_x4(m0 + 4u * (idx / BK), k0 + idx % BK, M, K); }
  }
  if ($i < WL) {
    let idx = lid + $i * WG;
    if (idx < BN * BK / 4u) { (*wr)[$i] = load_w4(n0 + 4u * (idx / BK), k0 + idx % BK, N, K); }
  }
  //!end
}

fn store_tiles(lid: u32, xr: ptr<function, array<vec4f, MAX_PF>>, wr: ptr<function, array<vec4f, MAX_PF>>) {
  //!unroll i 8
  if ($i < XL) {
    let idx = lid + $i * WG;
    if (idx < BM * BK / 4u) { As[(idx % BK) * AS_STRIDE + idx / BK] = (*xr)[$i]; }
  }
  if ($i < WL) {
    let idx = lid + $i * WG;
    if (idx < BN * BK / 4u) { Bs[(idx % BK) * BS_STRIDE + idx / BK] = (*wr)[$i]; }
  }
  //!end
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let tx = lid3.x;
  let ty = lid3.y;
  // This workgroup's k range (the whole of K without a split).
  let kb = wid.z * params.KS;
  let ke = min(K, kb + params.KS);
  var acc: array<vec4f, 16>;   // acc[2i + h]: row 8·ty + i, columns h·BN/2 + 4·tx .. +3 (_gemm_tile.wgsl)

  if (PREFETCH) {
    var xr = array<vec4f, MAX_PF>();
    var wr = array<vec4f, MAX_PF>();
    fetch_tiles(m0, n0, kb, M, N, K, lid, &xr, &wr);
    store_tiles(lid, &xr, &wr);
    workgroupBarrier();
    for (var k0 = kb; k0 < ke; k0 += BK) {
      let more = k0 + BK < ke;   // uniform: the barrier below is reached by all or none
      if (more) { fetch_tiles(m0, n0, k0 + BK, M, N, K, lid, &xr, &wr); }
      tile_product(tx, ty, &acc);
      workgroupBarrier();
      if (more) {
        store_tiles(lid, &xr, &wr);
        workgroupBarrier();
      }
    }
  } else {
    for (var k0 = kb; k0 < ke; k0 += BK) {
      // Stage x[m0 .. m0+BM, k0 .. k0+BK] k-major, like stage_w does for w.
      for (var idx = lid; idx < BM * BK / 4u; idx += WG) {
        let kk = idx % BK;
        let r4 = idx / BK;
        As[kk * AS_STRIDE + r4] = load_x4(m0 + 4u * r4, k0 + kk, M, K);
      }
      stage_w(n0, k0, N, K, lid);
      workgroupBarrier();
      tile_product(tx, ty, &acc);
      workgroupBarrier();
    }
  }

  // The 8×8 block, one vec4 (4 columns) at a time, unrolled: constant register indices, the
  // epilogue applied per vec4 (split-K: the raw partial sums into slice wid.z), rows and columns
  // past M, N skipped without break or continue.
  let slice = wid.z * M * N;
  //!unroll i 8
  if (m0 + 8u * ty + $i < M) {
    if (SPLIT_K) {
      store_partial4(slice + (m0 + 8u * ty + $i) * N, n0 + 4u * tx, N, acc[2u * $i]);
      store_partial4(slice + (m0 + 8u * ty + $i) * N, n0 + BN / 2u + 4u * tx, N, acc[2u * $i + 1u]);
    } else {
      store_out4(m0 + 8u * ty + $i, n0 + 4u * tx, N, acc[2u * $i]);
      store_out4(m0 + 8u * ty + $i, n0 + BN / 2u + 4u * tx, N, acc[2u * $i + 1u]);
    }
  }
  //!end
}

// y[row + gn .. row + gn+3] = v (split-K's partial sums: no scale, bias or epilogue), columns at or past N skipped.
fn store_partial4(row: u32, gn: u32, N: u32, v: vec4f) {
  if (gn < N) { y[row + gn] = v.x; }
  if (gn + 1u < N) { y[row + gn + 1u] = v.y; }
  if (gn + 2u < N) { y[row + gn + 2u] = v.z; }
  if (gn + 3u < N) { y[row + gn + 3u] = v.w; }
}
