// How the weight kernels decode their weight operand (included by every GEMM variant, the patch
// embeddings and the token embedding): W_DTYPE says how a [rows, K] weight's rows are stored as u32
// words (src/kernels/program/weight-format.ts has the layout):
//   W_F32: one f32 per word (a buffer row: K words; a texture row: padded to whole 8-value steps);
//   W_F16: two binary16 per word (low half first), rows padded to 8-value steps (4 words);
//   W_Q8:  four int8 per word (lowest byte first), rows padded to 16-value steps (4 words), with one
//          f32 scale per row applied by the includer to its output (Σ x·(s·q) = s·Σ x·q).
// The arithmetic is f32 in every case.

override W_DTYPE: u32 = 0u;
// The W_DTYPE codes: the host reads them from here (W_DTYPE_CODE, src/kernels/program/weight-format.ts).
const W_F32: u32 = 0u;
const W_F16: u32 = 1u;
const W_Q8: u32 = 2u;

// u32 words per row of a buffer-stored [rows, K] weight.
fn w_row_words(K: u32) -> u32 {
  if (W_DTYPE == W_F16) { return 4u * ((K + 7u) / 8u); }
  if (W_DTYPE == W_Q8) { return 4u * ((K + 15u) / 16u); }
  return K;
}

// The word of a buffer-stored weight's row r that holds value k.
fn w_word(r: u32, k: u32, K: u32) -> u32 {
  if (W_DTYPE == W_F16) { return r * w_row_words(K) + k / 2u; }
  if (W_DTYPE == W_Q8) { return r * w_row_words(K) + k / 4u; }
  return r * K + k;
}

// Value k (its position within `word` is k's low bits) of a word: f32 bits, a half, an int8.
fn w_decode(word: u32, k: u32) -> f32 {
  if (W_DTYPE == W_F16) { return unpack2x16float(word)[k & 1u]; }
  if (W_DTYPE == W_Q8) { return f32(extractBits(bitcast<i32>(word), 8u * (k & 3u), 8u)); }
  return bitcast<f32>(word);
}

// The four int8 of a word as floats (lowest byte first).
fn w_q8x4(word: u32) -> vec4f {
  return vec4f((vec4i(bitcast<i32>(word)) << vec4u(24u, 16u, 8u, 0u)) >> vec4u(24u));
}

// Values 8s .. 8s + 7 of a row whose words come 4 at a time (a texel, or a vec4u of a buffer) in
// the packed layouts: `lo` / `hi` are the row's vec4 words q and q + 1 for f32 (q = 2s), the one
// vec4 word s for f16 (hi unused), the vec4 word s / 2 for q8 (its half s % 2; hi unused).
fn w_step8(lo: vec4u, hi: vec4u, s: u32) -> array<vec4f, 2> {
  if (W_DTYPE == W_F16) {
    return array<vec4f, 2>(vec4f(unpack2x16float(lo.x), unpack2x16float(lo.y)),
                           vec4f(unpack2x16float(lo.z), unpack2x16float(lo.w)));
  }
  if (W_DTYPE == W_Q8) {
    let h = select(lo.xy, lo.zw, (s & 1u) == 1u);
    return array<vec4f, 2>(w_q8x4(h.x), w_q8x4(h.y));
  }
  return array<vec4f, 2>(bitcast<vec4f>(lo), bitcast<vec4f>(hi));
}

// Four columns' values of one 8-value step (w_step8 of columns c .. c+3) as 8 per-k vec4s:
// result[kk] = (a, b, d, e)[k = 8s + kk], what the subgroup GEMMs multiply by a broadcast x value.
fn w_by_k(a: array<vec4f, 2>, b: array<vec4f, 2>, d: array<vec4f, 2>, e: array<vec4f, 2>) -> array<vec4f, 8> {
  return array<vec4f, 8>(
    vec4f(a[0].x, b[0].x, d[0].x, e[0].x), vec4f(a[0].y, b[0].y, d[0].y, e[0].y),
    vec4f(a[0].z, b[0].z, d[0].z, e[0].z), vec4f(a[0].w, b[0].w, d[0].w, e[0].w),
    vec4f(a[1].x, b[1].x, d[1].x, e[1].x), vec4f(a[1].y, b[1].y, d[1].y, e[1].y),
    vec4f(a[1].z, b[1].z, d[1].z, e[1].z), vec4f(a[1].w, b[1].w, d[1].w, e[1].w));
}

// The vec4-word index (texel column) of step s (8 values) in a packed row; for f32 the step's
// second word is the next one.
fn w_step_word(s: u32) -> u32 {
  if (W_DTYPE == W_F16) { return s; }
  if (W_DTYPE == W_Q8) { return s / 2u; }
  return 2u * s;
}

// A 'q8' weight's per-row scales ([rows] f32); bound to a placeholder for the other dtypes.
@group(0) @binding(6) var<storage, read> w_scale: array<f32>;

// The scales of rows r.x .. r.w (clamped to [0, rows)), or ones for an unscaled dtype.
fn w_scale4(r: vec4u, rows: u32) -> vec4f {
  if (W_DTYPE == W_Q8) {
    let c = min(r, vec4u(rows - 1u));
    return vec4f(w_scale[c.x], w_scale[c.y], w_scale[c.z], w_scale[c.w]);
  }
  return vec4f(1.0);
}

// The scale of row r, or 1 for an unscaled dtype.
fn w_scale1(r: u32) -> f32 {
  if (W_DTYPE == W_Q8) { return w_scale[r]; }
  return 1.0;
}
