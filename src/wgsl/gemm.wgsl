// Linear layer: y[m, n] = epilogue( sum_k x[m, k] * w[n, k] + bias[n] ).
// x: [M, K] row-major; w: [N, K] (PyTorch's nn.Linear layout, rows are output features);
// bias: [N]; y: [M, N]. Any M, N, K: tiles are bounds-checked and zero-filled.
// Epilogues (override EPILOGUE): 0 none, 1 exact-erf GELU, 2 residual accumulate (y += result,
// in place, as in `x = x + proj(...)`). HAS_BIAS = false skips the bias read.
//
// Tiling: a workgroup of 16×16 invocations computes a (16·TM)×64 block of y; invocation (tx, ty)
// owns rows ty·TM .. ty·TM+TM-1 and the 4 contiguous columns 4·tx .. 4·tx+3. K is walked BK at a
// time through workgroup memory, both tiles stored k-major as vec4s, so the inner loop is TM/4 + 1
// vec4 reads for 4·TM fused multiply-adds (an outer product).

struct Params {
  M: u32,
  N: u32,
  K: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

override EPILOGUE: u32 = 0u;
override HAS_BIAS: bool = true;
/** Rows per invocation: 4 or 8 (a multiple of 4, at most 8). */
override TM: u32 = 4u;

const BK: u32 = 32u;
const BN: u32 = 64u;
override BM: u32 = 16u * TM;
// k-major tiles of vec4s; one vec4 of padding per k-row spreads the scalar stores over banks.
override AS_STRIDE: u32 = BM / 4u + 1u;
const BS_STRIDE: u32 = BN / 4u + 1u;
var<workgroup> As: array<vec4f, BK * AS_STRIDE>;
var<workgroup> Bs: array<vec4f, BK * BS_STRIDE>;

// erfc(|z|) by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7); GELU from it without cancellation.
fn gelu_erf(v: f32) -> f32 {
  let z = abs(v) * 0.7071067811865476;
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let erfc_z = poly * exp(-z * z);
  let cdf = select(0.5 * erfc_z, 1.0 - 0.5 * erfc_z, v >= 0.0);
  return v * cdf;
}

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

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let tx = lid3.x;
  let ty = lid3.y;
  var acc: array<vec4f, 8>;   // acc[i] = y[m0 + ty*TM + i, n0 + 4*tx .. +3], i < TM
  for (var i = 0u; i < TM; i++) { acc[i] = vec4f(0.0); }

  for (var k0 = 0u; k0 < K; k0 += BK) {
    // Stage x[m0 .. m0+BM, k0 .. k0+BK] and w[n0 .. n0+64, k0 .. k0+BK] k-major: each invocation
    // fills one vec4 (4 rows at one k); consecutive invocations take consecutive k, so each of the
    // 4 global reads is contiguous across the workgroup.
    for (var idx = lid; idx < BM * BK / 4u; idx += 256u) {
      let kk = idx % BK;
      let r4 = idx / BK;
      As[kk * AS_STRIDE + r4] = load_x4(m0 + 4u * r4, k0 + kk, M, K);
    }
    for (var idx = lid; idx < BN * BK / 4u; idx += 256u) {
      let kk = idx % BK;
      let c4 = idx / BK;
      Bs[kk * BS_STRIDE + c4] = load_w4(n0 + 4u * c4, k0 + kk, N, K);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let b = Bs[kk * BS_STRIDE + tx];
      for (var i4 = 0u; i4 < TM / 4u; i4++) {
        let a = As[kk * AS_STRIDE + ty * (TM / 4u) + i4];
        acc[4u * i4 + 0u] = fma(vec4f(a.x), b, acc[4u * i4 + 0u]);
        acc[4u * i4 + 1u] = fma(vec4f(a.y), b, acc[4u * i4 + 1u]);
        acc[4u * i4 + 2u] = fma(vec4f(a.z), b, acc[4u * i4 + 2u]);
        acc[4u * i4 + 3u] = fma(vec4f(a.w), b, acc[4u * i4 + 3u]);
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < TM; i++) {
    let gm = m0 + ty * TM + i;
    if (gm >= M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let gn = n0 + 4u * tx + j;
      if (gn >= N) { break; }
      var v = acc[i][j];
      if (HAS_BIAS) { v += bias[gn]; }
      if (EPILOGUE == 1u) { v = gelu_erf(v); }
      let o = gm * N + gn;
      if (EPILOGUE == 2u) { v += y[o]; }
      y[o] = v;
    }
  }
}
