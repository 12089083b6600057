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
