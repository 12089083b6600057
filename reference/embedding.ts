// CPU reference (float64) for src/kernels/embedding.ts: out[b, t] = table[ids[b, t]] + pos[t]
// (pos null: a plain row gather).
import { U32 } from './math.js';

/** ids [B·T] → [B, T, D]; bound: one float32 addition, u·|sum|. Ids ≥ vocab give NaN rows. */
export function embeddingRef(
  ids: ArrayLike<number>,
  B: number,
  T: number,
  table: ArrayLike<number>,
  vocab: number,
  D: number,
  pos: ArrayLike<number> | null,
) {
  const out = new Float64Array(B * T * D),
    bound = new Float64Array(B * T * D);
  for (let r = 0; r < B * T; r++) {
    const id = ids[r]!,
      t = r % T;
    for (let c = 0; c < D; c++) {
      const v = id < vocab ? table[id * D + c]! + (pos ? pos[t * D + c]! : 0) : NaN;
      out[r * D + c] = v;
      bound[r * D + c] = U32 * Math.abs(v) + 1e-30;
    }
  }
  return { out, bound };
}
