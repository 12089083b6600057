// CPU reference (float64) for src/kernels/gemm.ts: y = epilogue(x·wᵀ + b).
import { gelu, geluTanh, quickGelu, U32 } from './math.js';

export type Epilogue = 'none' | 'gelu' | 'residual' | 'gelu_tanh' | 'quick_gelu';

export interface GemmRefResult {
  y: Float64Array;
  /** Allowed |error| per element of a float32 kernel (see gemmBound). */
  bound: Float64Array;
}

/**
 * The bound: a float32 dot product of K terms, in any order, with or without FMA, is off by at most
 * γ_K·Σ|x_k w_k| with γ_K ≈ K·u (u = 2^-24); adding the bias adds u·(|acc| + |b|). GELU is
 * 1.13-Lipschitz and its erfc approximation (A&S 7.1.26, 1.5e-7) plus exp() add ≲ 2e-7·|v|;
 * the residual add adds u·|result|. A wrong index or a missing k-term errs by ~Σ|x w|/K, far more.
 */
export function gemmRef(
  x: ArrayLike<number>,
  M: number,
  K: number,
  w: ArrayLike<number>,
  N: number,
  bias: ArrayLike<number> | null,
  epilogue: Epilogue,
  yIn?: ArrayLike<number>,
): GemmRefResult {
  const y = new Float64Array(M * N);
  const bound = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      const r = gemmRefAt(x, K, w, N, bias, epilogue, yIn, m, n);
      y[m * N + n] = r.y;
      bound[m * N + n] = r.bound;
    }
  }
  return { y, bound };
}

/** One element (m, n) of gemmRef: its value and its bound (see above). */
export function gemmRefAt(
  x: ArrayLike<number>,
  K: number,
  w: ArrayLike<number>,
  N: number,
  bias: ArrayLike<number> | null,
  epilogue: Epilogue,
  yIn: ArrayLike<number> | undefined,
  m: number,
  n: number,
): { y: number; bound: number } {
  let acc = 0,
    mag = 0;
  for (let k = 0; k < K; k++) {
    const p = x[m * K + k]! * w[n * K + k]!;
    acc += p;
    mag += Math.abs(p);
  }
  const b = bias ? bias[n]! : 0;
  let v = acc + b;
  let e = (K + 2) * U32 * (mag + Math.abs(b));
  if (epilogue === 'gelu') {
    e = 1.13 * e + 2e-7 * Math.abs(v) + U32 * Math.abs(gelu(v));
    v = gelu(v);
  }
  if (epilogue === 'gelu_tanh') {
    // |d gelu_tanh/dv| ≤ 1.13 carries the dot product's error; the kernel's 1 - 2/(exp(2u) + 1)
    // has an absolute error of a few ulp of 1 (≤ 4e-7 with exp's own error), times 0.5·|v|.
    e = 1.13 * e + 2e-7 * Math.abs(v) + U32 * Math.abs(geluTanh(v));
    v = geluTanh(v);
  }
  if (epilogue === 'quick_gelu') {
    // d/dv v·σ(1.702v) = σ + 1.702v·σ(1−σ) ≤ 1.1 carries the dot product's error. The kernel's
    // v / (1 + exp(−1.702v)): exp within 3 + 2|x| ulp (Vulkan's precision for exp), x = 1.702v, moves
    // σ by at most that relative error, the add and divide add 2 ulp: ≤ (5 + 3.5|v|)·u·|result|
    // (the clamp at exponent 80 changes a result below 1e-33, under the 1e-30 floor).
    const q = quickGelu(v);
    e = 1.1 * e + U32 * Math.abs(q) * (8 + 4 * Math.abs(v));
    v = q;
  }
  if (epilogue === 'residual') {
    const r = yIn![m * N + n]!;
    v += r;
    e += U32 * (Math.abs(v) + Math.abs(r));
  }
  return { y: v, bound: e + 1e-30 };
}

/**
 * The allowed |error| of a GEMM on f16 subgroup matrices (the 'subgroup_matrix' variant) at (m, n),
 * beside the exact result of its f32 inputs, given gemmRefAt's f32 bound `f32Bound`. x and w are
 * rounded to f16 as they are staged, each off by under one f16 ulp (2^-10 relative: WGSL's f32 → f16
 * may take either neighbour), so each product is off by < F16_INPUT_ROUNDING·|x w|, plus, below f16's
 * normal range, an absolute 2^-24 per input (F16_SUBNORMAL). Products of f16 values are exact in the
 * accumulator; each of the K additions is off by one ulp of it at most (ACCUMULATOR_ULP: 2^-23 for
 * f32 — one, not a half, since tensor cores may align by truncation — and 2^-10 for f16, which also
 * covers the final f16 store). The activation epilogues are at most 1.2-Lipschitz (GELU 1.13,
 * QuickGELU 1.1) and their own f32 error is in `f32Bound`.
 */
export const F16_INPUT_ROUNDING = 2 * 2 ** -10 + 2 ** -20;
export const F16_SUBNORMAL = 2 ** -24;
export const ACCUMULATOR_ULP = { f32: 2 ** -23, f16: 2 ** -10 } as const;
export const EPILOGUE_LIPSCHITZ = 1.2;

/**
 * What both f16 bounds scale at (m, n): Σ|x_k w_k|, Σ(|x_k| + |w_k|) (for the absolute error below
 * f16's normal range) and the epilogue's Lipschitz constant.
 */
function f16Terms(x: ArrayLike<number>, K: number, w: ArrayLike<number>, epilogue: Epilogue, m: number, n: number) {
  let absDot = 0,
    absSum = 0;
  for (let k = 0; k < K; k++) {
    absDot += Math.abs(x[m * K + k]! * w[n * K + k]!);
    absSum += Math.abs(x[m * K + k]!) + Math.abs(w[n * K + k]!);
  }
  return { absDot, absSum, lip: epilogue === 'none' || epilogue === 'residual' ? 1 : EPILOGUE_LIPSCHITZ };
}

export function subgroupMatrixBoundAt(
  x: ArrayLike<number>,
  K: number,
  w: ArrayLike<number>,
  epilogue: Epilogue,
  accumulator: 'f32' | 'f16',
  f32Bound: number,
  m: number,
  n: number,
): number {
  const { absDot, absSum, lip } = f16Terms(x, K, w, epilogue, m, n);
  return lip * ((F16_INPUT_ROUNDING + K * ACCUMULATOR_ULP[accumulator]) * absDot + F16_SUBNORMAL * absSum) + f32Bound;
}

/**
 * Products of f16 values summed in f16 over at most this many k (the f16 precision builds of the
 * tiled GEMM and of flash attention, tools/embed-wgsl.mjs //!math), each partial then added in f32.
 */
export const F16_CHUNK = 8;

/**
 * The allowed |error| of the tiled GEMM's f16 precision build at (m, n), beside the exact result of
 * its f32 inputs, given gemmRefAt's f32 bound `f32Bound`. x and w are rounded to f16 as they are
 * staged (F16_INPUT_ROUNDING per product, as for subgroup matrices); within a chunk of F16_CHUNK k,
 * each product and each addition is one f16 operation off by at most one ulp (2^-10 relative:
 * neither Vulkan nor WGSL fixes f16's rounding mode, so round-toward-zero is allowed), F16_CHUNK + 1
 * ulps of the chunk's Σ|x w| in all, plus 2^-24 absolute per operation where a value falls below
 * f16's normal range; the chunks' f32 sum is inside f32Bound (K + 2 f32 ulps of Σ|x w|).
 */
export function f16PrecisionBoundAt(
  x: ArrayLike<number>,
  K: number,
  w: ArrayLike<number>,
  epilogue: Epilogue,
  f32Bound: number,
  m: number,
  n: number,
): number {
  const { absDot, absSum, lip } = f16Terms(x, K, w, epilogue, m, n);
  const ops = (F16_CHUNK + 1) * ACCUMULATOR_ULP.f16;
  return lip * ((F16_INPUT_ROUNDING + ops) * absDot + F16_SUBNORMAL * (absSum + 2 * K)) + f32Bound;
}
