enable subgroups;
// Linear layer for CPU adapters (Mesa llvmpipe): y[m, n] = epilogue( sum_k x[m, k] * w[n, k] + bias[n] ),
// the same contract as gemm.wgsl, written for how llvmpipe runs WGSL (docs/cpu-adapters.md):
// every storage load costs ~9 instructions per lane whatever its pattern, so the kernel maximises
// multiply-adds per loaded element and shares values between lanes with constant-lane
// subgroupBroadcast (one vector permute) instead of workgroup memory and barriers.
//   A workgroup is one subgroup of 8 lanes (the host checks the adapter's subgroup size is 8) and
// computes an MR × NB block of y: lane l owns columns n0 + 4l .. n0 + 4l + 3 (a vec4 accumulator
// per row). Per step of 8 k: lane l loads x[m0 + r, k0 + l] for the MR rows (each row's 8 values
// spread over the 8 lanes) and its 4 columns × 8 k of w; then every lane takes row r's value at k0 +
// kk from lane kk by broadcast. MR scalar + 8 vec4 loads (4 for f16 and q8 weights) feed 32·MR
// multiply-adds per lane. An f32 w is read as vec4s along k, so K must be a multiple of 4 (the host
// picks the tiled variant otherwise); f16 and q8 rows are padded (any K).
// Loads outside [0, M) × [0, K) or [0, N) × [0, K) read a clamped address and are replaced by 0.

struct Params {
  M: u32,
  N: u32,
  K: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
//!include _gemm_io.wgsl
@group(0) @binding(1) var<storage, read> x: array<f32>;
// [N, K] in W_DTYPE's packed rows as vec4 words (_weight_format.wgsl): f32 K / 4 per row (K % 4 == 0,
// the host checks), f16 ⌈K/8⌉, q8 ⌈K/16⌉; or, in the native_f16 build (tools/embed-wgsl.mjs), f16
// as 2·⌈K/8⌉ vec4<f16> per row (the same bytes).
//!variant native_f16
@group(0) @binding(2) var<storage, read> w: array<vec4<f16>>;
fn w_row_vec4s(K: u32) -> u32 { return 2u * ((K + 7u) / 8u); }
// w[col, 8s .. 8s + 7] as f32 (zero where !ok); RW vec4<f16> per row.
fn w_buffer_step(col: u32, ok: bool, s: u32, RW: u32) -> array<vec4f, 2> {
  let q = 2u * s;
  let lo = select(vec4f(0.0), vec4f(w[col * RW + min(q, RW - 1u)]), ok && q < RW);
  let hi = select(vec4f(0.0), vec4f(w[col * RW + min(q + 1u, RW - 1u)]), ok && q + 1u < RW);
  return array<vec4f, 2>(lo, hi);
}
//!variant packed
@group(0) @binding(2) var<storage, read> w: array<vec4u>;
fn w_row_vec4s(K: u32) -> u32 { return select(w_row_words(K) / 4u, K / 4u, W_DTYPE == W_F32); }
// w[col, 8s .. 8s + 7], decoded (zero where !ok, past N, or past an f32 row's end); RW vec4 words per row.
fn w_buffer_step(col: u32, ok: bool, s: u32, RW: u32) -> array<vec4f, 2> {
  let q = w_step_word(s);
  let lo = select(vec4u(0u), w[col * RW + min(q, RW - 1u)], ok && q < RW);
  var hi = vec4u(0u);
  if (W_DTYPE == W_F32) { hi = select(vec4u(0u), w[col * RW + min(q + 1u, RW - 1u)], ok && q + 1u < RW); }
  return w_step8(lo, hi, s);
}
//!variant end
const MR: u32 = 16u;    // rows of y per workgroup
const NB: u32 = 32u;    // columns of y per workgroup: 4 per lane

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let m0 = wid.y * MR;
  let c0 = wid.x * NB + 4u * lane;   // this lane's first column
  var acc = array<vec4f, MR>();

  for (var k0 = 0u; k0 < K; k0 += 8u) {
    // x[m0 + r, k0 + lane] for every row r of the block.
    let kl = k0 + lane;
    let klc = min(kl, K - 1u);
    var xv = array<f32, MR>();
    for (var r = 0u; r < MR; r++) {
      let m = m0 + r;
      xv[r] = select(0.0, x[min(m, M - 1u) * K + klc], kl < K && m < M);
    }
    // w[c0 .. c0+3, k0 .. k0+7]: per column two vec4 loads along k (f32) or one (f16, q8), zero past
    // K or N, then the per-k vec4s of the 4 columns.
    let RW = w_row_vec4s(K);
    let s = k0 / 8u;
    let c = vec4u(c0, c0 + 1u, c0 + 2u, c0 + 3u);
    let cc = min(c, vec4u(N - 1u));
    let ok = c < vec4u(N);
    var wv = w_by_k(w_buffer_step(cc.x, ok.x, s, RW), w_buffer_step(cc.y, ok.y, s, RW),
                    w_buffer_step(cc.z, ok.z, s, RW), w_buffer_step(cc.w, ok.w, s, RW));
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
    for (var c = 0u; c < 4u; c++) {
      if (c0 + c < N) { store_out(gm, c0 + c, N, acc[r][c]); }
    }
  }
}
