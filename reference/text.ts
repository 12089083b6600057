// CPU reference (float64) of the OpenVision 1 text tower, composed of the per-kernel references:
// token embedding + positions, pre-norm blocks (tanh GELU, no attention mask), ln_final, the last
// token, text_projection. The specification in plain loops, checked against the PyTorch fixture.
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
  act: 'gelu' | 'gelu_tanh';
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
    x = residualBlockRef(x, B, T, c, get, i); // no mask: every token attends to all T
    if (i === 0) block0 = x.slice();
  }
  const xn = layerNormRef(x, rows, W, get('ln_final.weight'), get('ln_final.bias'), c.eps);
  const pooled = new Float64Array(B * W);
  for (let b = 0; b < B; b++) pooled.set(xn.subarray((b * T + T - 1) * W, (b * T + T) * W), b * W);
  const embedding = projectRef(pooled, B, W, get('text_projection'), c.embedDim);
  return { embedding, pooled, block0: block0! };
}
