// Linear layer: y[m, n] = epilogue( sum_k x[m, k] * w[n, k] + bias[n] ).
// x: [M, K] row-major; w: [N, K] (PyTorch's nn.Linear layout, rows are output features);
// bias: [N]; y: [M, N]. Any M, N, K: tiles are bounds-checked and zero-filled.
// Epilogues (override EPILOGUE): 0 none, 1 exact-erf GELU, 2 residual accumulate (y += result,
// in place, as in `x = x + proj(...)`). HAS_BIAS = false skips the bias read.
// Tiling: 64x64 outputs per workgroup of 256 invocations, each 4x4 outputs strided by 16 so that
// neighbouring invocations touch neighbouring columns; K is walked in steps of 16 through
// workgroup memory, A stored k-major with a padded stride to avoid bank conflicts.

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

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;
const STRIDE: u32 = 65u;   // BM + 1: k-major rows padded so that stores hit distinct banks
var<workgroup> As: array<f32, BK * STRIDE>;
var<workgroup> Bs: array<f32, BK * STRIDE>;

// erfc(|z|) by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7); GELU from it without cancellation.
fn gelu_erf(v: f32) -> f32 {
  let z = abs(v) * 0.7071067811865476;
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let erfc_z = poly * exp(-z * z);
  let cdf = select(0.5 * erfc_z, 1.0 - 0.5 * erfc_z, v >= 0.0);
  return v * cdf;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
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
      if (gm < M && gk < K) { a = x[gm * K + gk]; }
      As[kk * STRIDE + r] = a;
      var b = 0.0;
      if (gn < N && gk < K) { b = w[gn * K + gk]; }
      Bs[kk * STRIDE + r] = b;
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
    for (var j = 0u; j < 4u; j++) {
      let gn = n0 + tx + 16u * j;
      if (gn >= N) { continue; }
      var v = acc[i * 4u + j];
      if (HAS_BIAS) { v += bias[gn]; }
      if (EPILOGUE == 1u) { v = gelu_erf(v); }
      let o = gm * N + gn;
      if (EPILOGUE == 2u) { v += y[o]; }
      y[o] = v;
    }
  }
}
