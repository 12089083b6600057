// CPU reference (float64) for src/kernels/attention.ts: softmax(q kᵀ·scale) v per batch and head,
// optionally causal (query i attends to keys 0 .. i: OpenAI-layout text towers).
import { U32 } from './math.js';
import { ACCUMULATOR_ULP, F16_CHUNK, F16_INPUT_ROUNDING, F16_SUBNORMAL } from './gemm.js';

/**
 * qkv: [B, N, 3W] (q | k | v), heads of size D = W / heads. Returns out [B, N, W] and the allowed
 * float32 error per element: each score is a D-term dot product, off by ≤ (D+2)·u·scale·Σ|q_d k_d|;
 * an error δ in a score changes its weight by a factor e^δ, so the output moves by ≤ 2·max δ times
 * the weighted magnitude Σ p_j|v_j| / Σ p_j; the exps, the running rescales (one per key tile) and
 * the N-term accumulation add ≤ (N + 16)·u of the same magnitude. Causal: only keys 0 .. i enter
 * row i, so the same bound with i + 1 keys in place of N.
 *
 * precision 'f16' (the f16 build of 'flash'): q·scale, k, v and p are rounded to f16 as they are
 * staged (F16_INPUT_ROUNDING per product, reference/gemm.ts), each score is a sum of 4-wide f16 dot
 * products (4 products and 3 additions per group, one f16 ulp each: 7 ulps of the group's Σ|q k|, plus
 * 2^-24 absolute per operation below f16's normal range), so δ grows by (F16_INPUT_ROUNDING + 7 ulps)
 * of scale·Σ|q_d k_d|; P·V sums F16_CHUNK keys in f16 (F16_CHUNK + 1 ulps of Σ p|v|) before f32, and
 * p's own rounding is one more input rounding of each term.
 */
export function attentionRef(
  qkv: ArrayLike<number>,
  B: number,
  N: number,
  W: number,
  heads: number,
  scale?: number,
  causal = false,
  precision: 'f32' | 'f16' = 'f32',
) {
  const D = W / heads;
  const out = new Float64Array(B * N * W);
  const bound = new Float64Array(B * N * W);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < N; i++) {
        const r = attentionRefRow(qkv, N, W, heads, b, h, i, scale, causal, precision);
        out.set(r.out, (b * N + i) * W + h * D);
        bound.set(r.bound, (b * N + i) * W + h * D);
      }
    }
  }
  return { out, bound };
}

/** One row of attentionRef: head h of query i in batch b (D values and their bounds). */
export function attentionRefRow(
  qkv: ArrayLike<number>,
  N: number,
  W: number,
  heads: number,
  b: number,
  h: number,
  i: number,
  scale?: number,
  causal = false,
  precision: 'f32' | 'f16' = 'f32',
) {
  const f16 = precision === 'f16';
  const D = W / heads;
  const keys = causal ? i + 1 : N; // the keys row i attends to: 0 .. keys - 1
  const sc = scale ?? 1 / Math.sqrt(D);
  const row = 3 * W;
  const s = new Float64Array(N);
  const out = new Float64Array(D),
    bound = new Float64Array(D);
  const qo = (b * N + i) * row + h * D;
  let max = -Infinity;
  let maxDelta = 0;
  for (let j = 0; j < keys; j++) {
    const ko = (b * N + j) * row + W + h * D;
    let dot = 0,
      mag = 0;
    for (let d = 0; d < D; d++) {
      dot += qkv[qo + d]! * qkv[ko + d]!;
      mag += Math.abs(qkv[qo + d]! * qkv[ko + d]!);
    }
    s[j] = dot * sc;
    max = Math.max(max, s[j]!);
    const f16Delta = f16 ? (F16_INPUT_ROUNDING + 7 * ACCUMULATOR_ULP.f16) * sc * mag + 7 * D * F16_SUBNORMAL : 0;
    maxDelta = Math.max(maxDelta, (D + 2) * U32 * sc * mag + f16Delta);
  }
  let l = 0;
  for (let j = 0; j < keys; j++) {
    s[j] = Math.exp(s[j]! - max);
    l += s[j]!;
  }
  for (let d = 0; d < D; d++) {
    let acc = 0,
      mag = 0;
    for (let j = 0; j < keys; j++) {
      const v = qkv[(b * N + j) * row + 2 * W + h * D + d]!;
      acc += s[j]! * v;
      mag += s[j]! * Math.abs(v);
    }
    out[d] = acc / l;
    const pv = f16 ? F16_INPUT_ROUNDING + (F16_CHUNK + 1) * ACCUMULATOR_ULP.f16 : 0;
    const pvAbs = f16 ? (2 * keys * F16_SUBNORMAL) / l : 0;
    bound[d] = (2 * maxDelta + (keys + 16) * U32 + pv) * (mag / l) + pvAbs + 1e-30;
  }
  return { out, bound };
}
