// CPU reference (float64) for src/kernels/layernorm.ts: the kernel's specification.
import { U32 } from './math.js';

export function layerNormRef(
  x: ArrayLike<number>,
  rows: number,
  dim: number,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  eps: number,
): Float64Array {
  const y = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < dim; i++) mean += x[r * dim + i]!;
    mean /= dim;
    let v = 0;
    for (let i = 0; i < dim; i++) v += (x[r * dim + i]! - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / dim + eps);
    for (let i = 0; i < dim; i++) y[r * dim + i] = (x[r * dim + i]! - mean) * rstd * gamma[i]! + beta[i]!;
  }
  return y;
}

/**
 * Allowed |error| of a float32 LayerNorm, per element. The mean and the variance are sums of `dim`
 * terms, each off by at most dim·u relative to the sum of magnitudes (worst-case float32 summation,
 * u = 2^-24); that error reaches y through (x - mean)·rstd·gamma, so it scales with
 * (|x - mean| + max|x|)·rstd·|gamma|; the final scale-and-shift adds a few u of |gamma x̂| + |beta|.
 */
export function layerNormBound(
  x: ArrayLike<number>,
  rows: number,
  dim: number,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  eps: number,
): Float64Array {
  const b = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let mean = 0,
      maxAbs = 0;
    for (let i = 0; i < dim; i++) {
      mean += x[r * dim + i]!;
      maxAbs = Math.max(maxAbs, Math.abs(x[r * dim + i]!));
    }
    mean /= dim;
    let v = 0;
    for (let i = 0; i < dim; i++) v += (x[r * dim + i]! - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / dim + eps);
    for (let i = 0; i < dim; i++) {
      const xi = Math.abs(x[r * dim + i]! - mean);
      b[r * dim + i] =
        (dim + 16) * U32 * (xi + maxAbs) * rstd * Math.abs(gamma[i]!) + 4 * U32 * Math.abs(beta[i]!) + 1e-30;
    }
  }
  return b;
}
