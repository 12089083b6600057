// float64 helpers for the CPU references.

/** erf(x) to ~1e-15: Taylor series for |x| < 2.5, Laplace continued fraction for erfc beyond. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = x,
      sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(z) = exp(-z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))), evaluated from the tail.
  let f = ax;
  for (let k = 80; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** Exact GELU, x·Φ(x), as torch.nn.GELU() (approximate='none'). */
export const gelu = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));

/** GELU with the tanh approximation, as torch.nn.GELU(approximate='tanh'). */
export const geluTanh = (x: number): number =>
  0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/** QuickGELU, x·sigmoid(1.702·x), as open_clip's QuickGELU (OpenAI CLIP). */
export const quickGelu = (x: number): number => x / (1 + Math.exp(-1.702 * x));

/** float32 unit roundoff, 2^-24. */
export const U32 = 2 ** -24;
