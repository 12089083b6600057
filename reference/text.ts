// CPU reference (float64) of the CLIP text tower, composed of the per-kernel references: token
// embedding + positions, pre-norm blocks (OpenVision 1: tanh GELU, no attention mask; OpenAI's
// layout: QuickGELU, causal mask), ln_final, the last token (OpenVision) or the one with the largest
// id (OpenAI's <|endoftext|>), text_projection. The specification in plain loops, checked against
// the PyTorch fixtures.
import { projectRef, residualBlockRef, weightGetter } from './blocks.js';
import { embeddingRef } from './embedding.js';
import { layerNormRef } from './layernorm.js';

export interface TextRefConfig {
  width: number;
  layers: number;
  heads: number;
  mlpWidth: number;
  contextLength: number;
  vocabSize: number;
  embedDim: number;
  eps: number;
  act: 'gelu' | 'gelu_tanh' | 'quick_gelu';
  /** Causal attention (default false). */
  causal?: boolean;
  /** 'last' (default) or 'argmax': the position of each text's largest id (its first occurrence). */
  pool?: 'last' | 'argmax';
}

/** weights: open_clip keys (top level); text_projection is [W, E] as in the checkpoint. ids: [B, T]. */
export function textRef(c: TextRefConfig, w: Map<string, Float32Array>, ids: ArrayLike<number>, B: number) {
  const W = c.width,
    T = c.contextLength,
    rows = B * T;
  const get = weightGetter(w);
  let x: Float64Array = embeddingRef(
    ids,
    B,
    T,
    get('token_embedding.weight'),
    c.vocabSize,
    W,
    get('positional_embedding'),
  ).out;
  let block0: Float64Array | null = null;
  for (let i = 0; i < c.layers; i++) {
    x = residualBlockRef(x, B, T, c, get, i); // unmasked: every token attends to all T; causal: to 0 .. itself
    if (i === 0) block0 = x.slice();
  }
  const xn = layerNormRef(x, rows, W, get('ln_final.weight'), get('ln_final.bias'), c.eps);
  const pooled = new Float64Array(B * W);
  for (let b = 0; b < B; b++) {
    let t = T - 1;
    if (c.pool === 'argmax') {
      t = 0;
      for (let j = 1; j < T; j++) if (ids[b * T + j]! > ids[b * T + t]!) t = j;
    }
    pooled.set(xn.subarray((b * T + t) * W, (b * T + t + 1) * W), b * W);
  }
  const embedding = projectRef(pooled, B, W, get('text_projection'), c.embedDim);
  return { embedding, pooled, block0: block0! };
}
