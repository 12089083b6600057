// The weight operand of the buffer kernels that read it one value at a time (gemm, patch_embed,
// embedding): binding 2, `w`, a [rows, K] weight in the layout of W_DTYPE (_weight_format.wgsl), and
// w_at(r, k, K), its value (a q8 one unscaled). Two builds (tools/embed-wgsl.mjs, //!variant):
//   packed     — u32 words decoded by w_decode: every dtype, every adapter;
//   native_f16 — f16 weights on devices with shader-f16: the same bytes read as WGSL f16.
// w_quad(r, k, K): values k .. k+3 of row r (k % 4 == 0, k < K, and for f32 k + 4 <= K; f16 and q8
// rows are padded to 8 / 16 values, so the quad stays inside the row), no compares: one u32 word for
// q8, two for f16 (packed), four for f32.
//!include _weight_format.wgsl
//!variant native_f16
@group(0) @binding(2) var<storage, read> w: array<f16>;
fn w_at(r: u32, k: u32, K: u32) -> f32 { return f32(w[2u * w_row_words(K) * r + k]); }
fn w_quad(r: u32, k: u32, K: u32) -> vec4f {
  let i = 2u * w_row_words(K) * r + k;
  return vec4f(f32(w[i]), f32(w[i + 1u]), f32(w[i + 2u]), f32(w[i + 3u]));
}
//!variant packed
@group(0) @binding(2) var<storage, read> w: array<u32>;
fn w_at(r: u32, k: u32, K: u32) -> f32 { return w_decode(w[w_word(r, k, K)], k); }
fn w_quad(r: u32, k: u32, K: u32) -> vec4f {
  let i = w_word(r, k, K);
  if (W_DTYPE == W_F16) { return vec4f(unpack2x16float(w[i]), unpack2x16float(w[i + 1u])); }
  if (W_DTYPE == W_Q8) { return w_q8x4(w[i]); }
  return bitcast<vec4f>(vec4u(w[i], w[i + 1u], w[i + 2u], w[i + 3u]));
}
//!variant end
