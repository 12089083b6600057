// CPU reference (float64) for src/kernels/mean-pool.ts.
import { U32 } from './math.js';

/** x [B, rows, dim] → mean over rows skip.. → [B, dim]; bound: (T+2)·u·mean|x| for a T-term float32 sum and a divide. */
export function meanPoolRef(x: ArrayLike<number>, B: number, rows: number, dim: number, skip: number) {
  const y = new Float64Array(B * dim),
    bound = new Float64Array(B * dim);
  const T = rows - skip;
  for (let b = 0; b < B; b++)
    for (let c = 0; c < dim; c++) {
      let s = 0,
        mag = 0;
      for (let t = skip; t < rows; t++) {
        s += x[(b * rows + t) * dim + c]!;
        mag += Math.abs(x[(b * rows + t) * dim + c]!);
      }
      y[b * dim + c] = s / T;
      bound[b * dim + c] = (T + 2) * U32 * (mag / T) + 1e-30;
    }
  return { y, bound };
}
