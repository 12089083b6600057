// CPU reference (float64) for src/kernels/patch-embed.ts.
import { U32 } from './math.js';

/** image [B,3,S,S], weight [W,3,p,p], cls [W], pos [1+g²,W] → out [B,1+g²,W] and its float32 error bound. */
export function patchEmbedRef(
  image: ArrayLike<number>,
  B: number,
  S: number,
  weight: ArrayLike<number>,
  W: number,
  p: number,
  cls: ArrayLike<number>,
  pos: ArrayLike<number>,
) {
  const g = S / p,
    T = g * g,
    K = 3 * p * p;
  const out = new Float64Array(B * (T + 1) * W);
  const bound = new Float64Array(B * (T + 1) * W);
  for (let b = 0; b < B; b++) {
    for (let n = 0; n < W; n++) {
      out[b * (T + 1) * W + n] = cls[n]! + pos[n]!;
      bound[b * (T + 1) * W + n] = U32 * (Math.abs(cls[n]!) + Math.abs(pos[n]!)) + 1e-30;
    }
    for (let t = 0; t < T; t++) {
      const gy = Math.floor(t / g),
        gx = t % g;
      for (let n = 0; n < W; n++) {
        let acc = 0,
          mag = 0;
        for (let c = 0; c < 3; c++)
          for (let ky = 0; ky < p; ky++)
            for (let kx = 0; kx < p; kx++) {
              const v =
                image[((b * 3 + c) * S + gy * p + ky) * S + gx * p + kx]! * weight[((n * 3 + c) * p + ky) * p + kx]!;
              acc += v;
              mag += Math.abs(v);
            }
        const o = (b * (T + 1) + 1 + t) * W + n;
        const pv = pos[(1 + t) * W + n]!;
        out[o] = acc + pv;
        // K-term float32 dot product (γ_K·Σ|a w|), then the position add (u·|sum|).
        bound[o] = (K + 2) * U32 * (mag + Math.abs(pv)) + 1e-30;
      }
    }
  }
  return { out, bound };
}
