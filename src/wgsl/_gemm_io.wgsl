// What the GEMM variants share (included by gemm.wgsl, gemm_subgroup.wgsl and gemm_texture.wgsl):
// the bindings bias: [N], y: [M, N] (f32, row-major) — each variant declares its uniforms (binding 0),
//   x: [M, K] and w: [N, K] (nn.Linear layout) itself, as it reads them;
// the epilogue codes and functions, and the store (which applies a q8 weight's row scales,
// _weight_format.wgsl).

//!include _weight_format.wgsl
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

override EPILOGUE: u32 = 0u;
// The epilogue codes (the host reads them from here, src/kernels/gemm.ts).
const EPILOGUE_NONE: u32 = 0u;
const EPILOGUE_GELU: u32 = 1u;
const EPILOGUE_RESIDUAL: u32 = 2u;
const EPILOGUE_GELU_TANH: u32 = 3u;
const EPILOGUE_QUICK_GELU: u32 = 4u;
override HAS_BIAS: bool = true;
// erfc(|z|) by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7); GELU from it without cancellation.
fn gelu_erf(v: f32) -> f32 {
  let z = abs(v) * 0.7071067811865476;
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let erfc_z = poly * exp(-z * z);
  let cdf = select(0.5 * erfc_z, 1.0 - 0.5 * erfc_z, v >= 0.0);
  return v * cdf;
}

// GELU with the tanh approximation, torch.nn.GELU(approximate='tanh'):
// 0.5·v·(1 + tanh(√(2/π)·(v + 0.044715·v³))). tanh as 1 - 2/(exp(2u) + 1) with u clamped to ±15
// (tanh(15) = 1 - 2e-13): no inf/inf for large |v|, whatever the platform's tanh does.
fn gelu_tanh(v: f32) -> f32 {
  let u = clamp(0.7978845608028654 * (v + 0.044715 * v * v * v), -15.0, 15.0);
  return 0.5 * v * (2.0 - 2.0 / (exp(2.0 * u) + 1.0));
}

// QuickGELU, OpenAI CLIP's activation (open_clip's QuickGELU, model_cfg.quick_gelu):
// v·sigmoid(1.702·v) = v / (1 + exp(-1.702·v)). The exponent is clamped to 80 (exp(80) = 5.5e34,
// finite in f32): for v < -47 the result is v·1.8e-35 instead of v·exp(1.702·v), both below 1e-33,
// and no platform's exp overflow can reach the division.
fn quick_gelu(v: f32) -> f32 {
  return v / (1.0 + exp(min(-1.702 * v, 80.0)));
}

// v through the activation epilogues (none, erf GELU, tanh GELU, QuickGELU; not the residual add).
fn activate(v: f32) -> f32 {
  if (EPILOGUE == EPILOGUE_GELU) { return gelu_erf(v); }
  if (EPILOGUE == EPILOGUE_GELU_TANH) { return gelu_tanh(v); }
  if (EPILOGUE == EPILOGUE_QUICK_GELU) { return quick_gelu(v); }
  return v;
}

// acc_v (times w's row scale for q8) + bias[gn] through the activation epilogues.
fn epilogue_value(gn: u32, acc_v: f32) -> f32 {
  var v = acc_v * w_scale1(gn);
  if (HAS_BIAS) { v += bias[gn]; }
  return activate(v);
}

// y[o] = v, or y[o] += v with the residual epilogue.
fn store_value(o: u32, v: f32) {
  var r = v;
  if (EPILOGUE == EPILOGUE_RESIDUAL) { r += y[o]; }
  y[o] = r;
}

// The erf GELU of 4 values at once (gelu_erf, component-wise).
fn gelu_erf4(v: vec4f) -> vec4f {
  let z = abs(v) * 0.7071067811865476;
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let erfc_z = poly * exp(-z * z);
  let cdf = select(0.5 * erfc_z, 1.0 - 0.5 * erfc_z, v >= vec4f(0.0));
  return v * cdf;
}

// The tanh GELU of 4 values at once (gelu_tanh, component-wise).
fn gelu_tanh4(v: vec4f) -> vec4f {
  let u = clamp(0.7978845608028654 * (v + 0.044715 * v * v * v), vec4f(-15.0), vec4f(15.0));
  return 0.5 * v * (2.0 - 2.0 / (exp(2.0 * u) + 1.0));
}

// QuickGELU of 4 values at once (quick_gelu, component-wise).
fn quick_gelu4(v: vec4f) -> vec4f {
  return v / (1.0 + exp(min(-1.702 * v, vec4f(80.0))));
}

// y[gm, gn .. gn+3] = epilogue(v + bias[gn .. gn+3]), columns at or past N skipped: the store of
// the GPU GEMMs (gemm.wgsl), one vec4 of accumulators at a time, every component named.
fn store_out4(gm: u32, gn: u32, N: u32, acc_v: vec4f) {
  var v = acc_v * w_scale4(vec4u(gn, gn + 1u, gn + 2u, gn + 3u), N);
  if (HAS_BIAS) {
    let last = N - 1u;   // bias reads clamped to [0, N): the values past N are never stored
    v += vec4f(bias[min(gn, last)], bias[min(gn + 1u, last)], bias[min(gn + 2u, last)], bias[min(gn + 3u, last)]);
  }
  if (EPILOGUE == EPILOGUE_GELU) { v = gelu_erf4(v); }
  if (EPILOGUE == EPILOGUE_GELU_TANH) { v = gelu_tanh4(v); }
  if (EPILOGUE == EPILOGUE_QUICK_GELU) { v = quick_gelu4(v); }
  let o = gm * N + gn;
  if (gn < N) { store_value(o, v.x); }
  if (gn + 1u < N) { store_value(o + 1u, v.y); }
  if (gn + 2u < N) { store_value(o + 2u, v.z); }
  if (gn + 3u < N) { store_value(o + 3u, v.w); }
}

// y[gm, gn] = epilogue(v + bias[gn]): the store the GEMM variants end with.
fn store_out(gm: u32, gn: u32, N: u32, acc_v: f32) {
  store_value(gm * N + gn, epilogue_value(gn, acc_v));
}
