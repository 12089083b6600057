// The weight operand of the buffer kernels that read it one value at a time (gemm, patch_embed,
// embedding): binding 2, `w`, a [rows, K] weight in the layout of W_DTYPE (_weight_format.wgsl), and
// w_at(r, k, K), its value (a q8 one unscaled). Two builds (tools/embed-wgsl.mjs, //!variant):
//   packed     — u32 words decoded by w_decode: every dtype, every adapter;
//   native_f16 — f16 weights on devices with shader-f16: the same bytes read as WGSL f16.
//!include _weight_format.wgsl
//!variant native_f16
@group(0) @binding(2) var<storage, read> w: array<f16>;
fn w_at(r: u32, k: u32, K: u32) -> f32 { return f32(w[2u * w_row_words(K) * r + k]); }
//!variant packed
@group(0) @binding(2) var<storage, read> w: array<u32>;
fn w_at(r: u32, k: u32, K: u32) -> f32 { return w_decode(w[w_word(r, k, K)], k); }
//!variant end
