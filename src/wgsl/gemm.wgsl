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
// double buffering), then stores them to workgroup memory. BUFFERS = 2: two copies of the
// workgroup tiles, alternated per k-step (the next step is staged into one while the other is
// multiplied): one barrier per k-step instead of two.
//
// Staging (QUAD, set by the host where K % 4 == 0): each invocation reads 4 rows × 4 consecutive k
// (x: 4 floats of a row; w: w_quad, one word for q8, two for f16) and transposes them into 4
// k-major vec4s; otherwise (K % 4 != 0, or a prefetch tile whose 4×4 units would need more
// registers than its 4×1 ones) the scalar path, 4 rows at one k. A workgroup whose block is inside
// the matrix (m0 + BM <= M, n0 + BN <= N) stages its k-steps inside K without any compare (`full`,
// workgroup-uniform: it depends on workgroup_id and the uniforms only); edge workgroups and the
// last partial k-step keep the guarded loads. The store: the bias (and q8 scales) of the
// invocation's 8 columns read once, before the 8 rows; interior blocks store without column compares.
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
override QUAD: bool = false;
//!include _gemm_tile.wgsl
// Staging units per k-step: 4×1 (scalar path: 4 rows at one k) or 4×4 (QUAD: 4 rows × 4 k).
override XU: u32 = select(BM * BK / 4u, BM * BK / 16u, QUAD);
override WU: u32 = select(BN * BK / 4u, BN * BK / 16u, QUAD);
// Units one invocation stages per k-step, and vec4 registers per unit (derived; the prefetch tiles
// hold XL·UR + WL·UR ≤ 2·MAX_PF vec4s, checked by the host, choose/tiles.ts).
override XL: u32 = (XU + WG - 1u) / WG;
override WL: u32 = (WU + WG - 1u) / WG;
const MAX_PF: u32 = 8u;   // vec4 registers per operand = the //!unroll counts of fetch_tiles / store_tiles

// x[m .. m+3, k] as a vec4, zero outside [0, M) × [0, K); `full`: all inside, no compares.
fn load_x4(m: u32, k: u32, M: u32, K: u32, full: bool) -> vec4f {
  if (full) { return vec4f(x[m * K + k], x[(m + 1u) * K + k], x[(m + 2u) * K + k], x[(m + 3u) * K + k]); }
  var v = vec4f(0.0);
  if (k < K) {
    if (m < M) { v.x = x[m * K + k]; }
    if (m + 1u < M) { v.y = x[(m + 1u) * K + k]; }
    if (m + 2u < M) { v.z = x[(m + 2u) * K + k]; }
    if (m + 3u < M) { v.w = x[(m + 3u) * K + k]; }
  }
  return v;
}

// x[m, k .. k+3] (K % 4 == 0, k % 4 == 0), zero where m >= M or k >= K unless `full`.
fn x_quad(m: u32, k: u32, M: u32, K: u32, full: bool) -> vec4f {
  if (full || (m < M && k < K)) {
    let o = m * K + k;
    return vec4f(x[o], x[o + 1u], x[o + 2u], x[o + 3u]);
  }
  return vec4f(0.0);
}

// w[n, k .. k+3] (QUAD), zero where n >= N or k >= K unless `full`.
fn w_quad_at(n: u32, k: u32, N: u32, K: u32, full: bool) -> vec4f {
  if (full || (n < N && k < K)) { return w_quad(n, k, K); }
  return vec4f(0.0);
}

// 4×4 unit u of the x tile of k-step k0 (rows m0 + 4·(u / (BK/4)) + 0..3, k = k0 + 4·(u % (BK/4)) + 0..3)
// as the 4 k-major vec4s its As slots take (result[j]: the 4 rows at k + j).
fn x_unit(m0: u32, k0: u32, u: u32, M: u32, K: u32, full: bool) -> array<vec4f, 4> {
  let m = m0 + 4u * (u / (BK / 4u));
  let k = k0 + 4u * (u % (BK / 4u));
  let r0 = x_quad(m, k, M, K, full);
  let r1 = x_quad(m + 1u, k, M, K, full);
  let r2 = x_quad(m + 2u, k, M, K, full);
  let r3 = x_quad(m + 3u, k, M, K, full);
  return array<vec4f, 4>(vec4f(r0.x, r1.x, r2.x, r3.x), vec4f(r0.y, r1.y, r2.y, r3.y),
                         vec4f(r0.z, r1.z, r2.z, r3.z), vec4f(r0.w, r1.w, r2.w, r3.w));
}

fn w_unit(n0: u32, k0: u32, u: u32, N: u32, K: u32, full: bool) -> array<vec4f, 4> {
  let n = n0 + 4u * (u / (BK / 4u));
  let k = k0 + 4u * (u % (BK / 4u));
  let r0 = w_quad_at(n, k, N, K, full);
  let r1 = w_quad_at(n + 1u, k, N, K, full);
  let r2 = w_quad_at(n + 2u, k, N, K, full);
  let r3 = w_quad_at(n + 3u, k, N, K, full);
  return array<vec4f, 4>(vec4f(r0.x, r1.x, r2.x, r3.x), vec4f(r0.y, r1.y, r2.y, r3.y),
                         vec4f(r0.z, r1.z, r2.z, r3.z), vec4f(r0.w, r1.w, r2.w, r3.w));
}

// The As / Bs slot of element j of unit u (QUAD: j = 0..3 along k; scalar: j = 0) in copy buf.
fn a_slot(u: u32, j: u32, buf: u32) -> u32 {
  if (QUAD) { return buf * AS_BUF + (4u * (u % (BK / 4u)) + j) * AS_STRIDE + u / (BK / 4u); }
  return buf * AS_BUF + (u % BK) * AS_STRIDE + u / BK;
}
fn b_slot(u: u32, j: u32, buf: u32) -> u32 {
  if (QUAD) { return buf * BS_BUF + (4u * (u % (BK / 4u)) + j) * BS_STRIDE + u / (BK / 4u); }
  return buf * BS_BUF + (u % BK) * BS_STRIDE + u / BK;
}

// Stages the x and w tiles of k-step k0 straight into copy buf (no prefetch registers).
fn stage_tiles(m0: u32, n0: u32, k0: u32, M: u32, N: u32, K: u32, lid: u32, buf: u32, full: bool) {
  if (QUAD) {
    for (var u = lid; u < XU; u += WG) {
      let v = x_unit(m0, k0, u, M, K, full);
      As[a_slot(u, 0u, buf)] = tile4(v[0]);
      As[a_slot(u, 1u, buf)] = tile4(v[1]);
      As[a_slot(u, 2u, buf)] = tile4(v[2]);
      As[a_slot(u, 3u, buf)] = tile4(v[3]);
    }
    for (var u = lid; u < WU; u += WG) {
      let v = w_unit(n0, k0, u, N, K, full);
      Bs[b_slot(u, 0u, buf)] = tile4(v[0]);
      Bs[b_slot(u, 1u, buf)] = tile4(v[1]);
      Bs[b_slot(u, 2u, buf)] = tile4(v[2]);
      Bs[b_slot(u, 3u, buf)] = tile4(v[3]);
    }
  } else {
    for (var u = lid; u < XU; u += WG) {
      As[a_slot(u, 0u, buf)] = tile4(load_x4(m0 + 4u * (u / BK), k0 + u % BK, M, K, full));
    }
    stage_w(n0, k0, N, K, lid, buf, full);
  }
}

// The x and w tiles of k-step k0 into registers. Unrolled over the unit slots (guarded by XL / WL,
// constants once specialised): every register index is a constant, so no driver has to keep
// xr / wr addressable (docs/gpu.md). QUAD: 2 slots of 4 registers; scalar: 8 slots of 1.
fn fetch_tiles(m0: u32, n0: u32, k0: u32, M: u32, N: u32, K: u32, lid: u32, full: bool,
               xr: ptr<function, array<vec4f, MAX_PF>>, wr: ptr<function, array<vec4f, MAX_PF>>) {
  if (QUAD) {
    //!unroll i 2
    if ($i < XL) {
      let u = lid + $i * WG;
      if (u < XU) {
        let v = x_unit(m0, k0, u, M, K, full);
        (*xr)[4u * $i] = v[0];
        (*xr)[4u * $i + 1u] = v[1];
        (*xr)[4u * $i + 2u] = v[2];
        (*xr)[4u * $i + 3u] = v[3];
      }
    }
    if ($i < WL) {
      let u = lid + $i * WG;
      if (u < WU) {
        let v = w_unit(n0, k0, u, N, K, full);
        (*wr)[4u * $i] = v[0];
        (*wr)[4u * $i + 1u] = v[1];
        (*wr)[4u * $i + 2u] = v[2];
        (*wr)[4u * $i + 3u] = v[3];
      }
    }
    //!end
  } else {
    //!unroll i 8
    if ($i < XL) {
      let u = lid + $i * WG;
      if (u < XU) { (*xr)[$i] = load_x4(m0 + 4u * (u / BK), k0 + u % BK, M, K, full); }
    }
    if ($i < WL) {
      let u = lid + $i * WG;
      if (u < WU) { (*wr)[$i] = load_w4(n0 + 4u * (u / BK), k0 + u % BK, N, K, full); }
    }
    //!end
  }
}

fn store_tiles(lid: u32, buf: u32, xr: ptr<function, array<vec4f, MAX_PF>>, wr: ptr<function, array<vec4f, MAX_PF>>) {
  if (QUAD) {
    //!unroll i 2
    if ($i < XL) {
      let u = lid + $i * WG;
      if (u < XU) {
        As[a_slot(u, 0u, buf)] = tile4((*xr)[4u * $i]);
        As[a_slot(u, 1u, buf)] = tile4((*xr)[4u * $i + 1u]);
        As[a_slot(u, 2u, buf)] = tile4((*xr)[4u * $i + 2u]);
        As[a_slot(u, 3u, buf)] = tile4((*xr)[4u * $i + 3u]);
      }
    }
    if ($i < WL) {
      let u = lid + $i * WG;
      if (u < WU) {
        Bs[b_slot(u, 0u, buf)] = tile4((*wr)[4u * $i]);
        Bs[b_slot(u, 1u, buf)] = tile4((*wr)[4u * $i + 1u]);
        Bs[b_slot(u, 2u, buf)] = tile4((*wr)[4u * $i + 2u]);
        Bs[b_slot(u, 3u, buf)] = tile4((*wr)[4u * $i + 3u]);
      }
    }
    //!end
  } else {
    //!unroll i 8
    if ($i < XL) {
      let u = lid + $i * WG;
      if (u < XU) { As[a_slot(u, 0u, buf)] = tile4((*xr)[$i]); }
    }
    if ($i < WL) {
      let u = lid + $i * WG;
      if (u < WU) { Bs[b_slot(u, 0u, buf)] = tile4((*wr)[$i]); }
    }
    //!end
  }
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
  // The block inside the matrix: its k-steps inside K stage with no compare (workgroup-uniform).
  let inside = m0 + BM <= M && n0 + BN <= N;
  var acc: array<vec4f, 16>;   // acc[2i + h]: row 8·ty + i, columns h·BN/2 + 4·tx .. +3 (_gemm_tile.wgsl)

  // Every branch below depends on kb, ke, k0, `inside` and overrides only (workgroup_id and
  // uniforms): each barrier is reached by all invocations of the workgroup or by none.
  if (BUFFERS == 2u) {
    var buf = 0u;
    if (PREFETCH) {
      var xr = array<vec4f, MAX_PF>();
      var wr = array<vec4f, MAX_PF>();
      fetch_tiles(m0, n0, kb, M, N, K, lid, inside && kb + BK <= K, &xr, &wr);
      store_tiles(lid, 0u, &xr, &wr);
      workgroupBarrier();
      for (var k0 = kb; k0 < ke; k0 += BK) {
        let more = k0 + BK < ke;
        if (more) { fetch_tiles(m0, n0, k0 + BK, M, N, K, lid, inside && k0 + 2u * BK <= K, &xr, &wr); }
        tile_product(tx, ty, buf, &acc);
        if (more) { store_tiles(lid, 1u - buf, &xr, &wr); }
        workgroupBarrier();   // copy 1 - buf complete; copy buf free for the step after
        buf = 1u - buf;
      }
    } else {
      stage_tiles(m0, n0, kb, M, N, K, lid, 0u, inside && kb + BK <= K);
      workgroupBarrier();
      for (var k0 = kb; k0 < ke; k0 += BK) {
        if (k0 + BK < ke) { stage_tiles(m0, n0, k0 + BK, M, N, K, lid, 1u - buf, inside && k0 + 2u * BK <= K); }
        tile_product(tx, ty, buf, &acc);
        workgroupBarrier();
        buf = 1u - buf;
      }
    }
  } else if (PREFETCH) {
    var xr = array<vec4f, MAX_PF>();
    var wr = array<vec4f, MAX_PF>();
    fetch_tiles(m0, n0, kb, M, N, K, lid, inside && kb + BK <= K, &xr, &wr);
    store_tiles(lid, 0u, &xr, &wr);
    workgroupBarrier();
    for (var k0 = kb; k0 < ke; k0 += BK) {
      let more = k0 + BK < ke;   // uniform: the barrier below is reached by all or none
      if (more) { fetch_tiles(m0, n0, k0 + BK, M, N, K, lid, inside && k0 + 2u * BK <= K, &xr, &wr); }
      tile_product(tx, ty, 0u, &acc);
      workgroupBarrier();
      if (more) {
        store_tiles(lid, 0u, &xr, &wr);
        workgroupBarrier();
      }
    }
  } else {
    for (var k0 = kb; k0 < ke; k0 += BK) {
      stage_tiles(m0, n0, k0, M, N, K, lid, 0u, inside && k0 + BK <= K);
      workgroupBarrier();
      tile_product(tx, ty, 0u, &acc);
      workgroupBarrier();
    }
  }

  // The 8×8 block, one vec4 (4 columns) at a time, unrolled: constant register indices, the
  // epilogue applied per vec4 (split-K: the raw partial sums into slice wid.z), rows and columns
  // past M, N skipped without break or continue. The bias and q8 scales of the two column groups
  // are read once, here, before the 8 rows.
  let gn0 = n0 + 4u * tx;
  let gn1 = n0 + BN / 2u + 4u * tx;
  let cols = select(N, 0xffffffffu, inside);   // interior: no column compares
  if (SPLIT_K) {
    let slice = wid.z * M * N;
    //!unroll i 8
    if (m0 + 8u * ty + $i < M) {
      store_partial4(slice + (m0 + 8u * ty + $i) * N, gn0, cols, acc[2u * $i]);
      store_partial4(slice + (m0 + 8u * ty + $i) * N, gn1, cols, acc[2u * $i + 1u]);
    }
    //!end
  } else {
    let s0 = w_scale4(vec4u(gn0, gn0 + 1u, gn0 + 2u, gn0 + 3u), N);
    let s1 = w_scale4(vec4u(gn1, gn1 + 1u, gn1 + 2u, gn1 + 3u), N);
    let bias0 = bias4(gn0, N);
    let bias1 = bias4(gn1, N);
    //!unroll i 8
    if (m0 + 8u * ty + $i < M) {
      store_row4((m0 + 8u * ty + $i) * N, gn0, cols, fma(acc[2u * $i], s0, bias0));
      store_row4((m0 + 8u * ty + $i) * N, gn1, cols, fma(acc[2u * $i + 1u], s1, bias1));
    }
    //!end
  }
}

// bias[gn .. gn+3] (reads clamped to [0, N): the values past N are never stored), or zeros without a bias.
fn bias4(gn: u32, N: u32) -> vec4f {
  if (!HAS_BIAS) { return vec4f(0.0); }
  let last = N - 1u;
  return vec4f(bias[min(gn, last)], bias[min(gn + 1u, last)], bias[min(gn + 2u, last)], bias[min(gn + 3u, last)]);
}

// y[row + gn .. row + gn+3] = epilogue(v) (v: scaled, bias added), columns at or past `cols` skipped.
fn store_row4(row: u32, gn: u32, cols: u32, acc_v: vec4f) {
  var v = acc_v;
  if (EPILOGUE == EPILOGUE_GELU) { v = gelu_erf4(v); }
  if (EPILOGUE == EPILOGUE_GELU_TANH) { v = gelu_tanh4(v); }
  if (EPILOGUE == EPILOGUE_QUICK_GELU) { v = quick_gelu4(v); }
  let o = row + gn;
  if (gn < cols) { store_value(o, v.x); }
  if (gn + 1u < cols) { store_value(o + 1u, v.y); }
  if (gn + 2u < cols) { store_value(o + 2u, v.z); }
  if (gn + 3u < cols) { store_value(o + 3u, v.w); }
}

// y[row + gn .. row + gn+3] = v (split-K's partial sums: no scale, bias or epilogue), columns at or past `cols` skipped.
fn store_partial4(row: u32, gn: u32, cols: u32, v: vec4f) {
  if (gn < cols) { y[row + gn] = v.x; }
  if (gn + 1u < cols) { y[row + gn + 1u] = v.y; }
  if (gn + 2u < cols) { y[row + gn + 2u] = v.z; }
  if (gn + 3u < cols) { y[row + gn + 3u] = v.w; }
}
