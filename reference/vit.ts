// CPU reference (float64) of the whole OpenVision encoder, composed of the per-kernel references:
// the model's specification in plain loops, used to check depth (error growth over many blocks).
import { projectRef, residualBlockRef, weightGetter } from './blocks.js';
import { layerNormRef } from './layernorm.js';
import { meanPoolRef } from './mean-pool.js';
import { patchEmbedRef } from './patch-embed.js';

export interface RefConfig {
  width: number;
  layers: number;
  heads: number;
  mlpWidth: number;
  patchSize: number;
  embedDim: number;
  eps: number;
  /** open_clip's switches (defaults: OpenVision's): ln_pre, pooling from the mean or the class token, ln_post before or after pooling. */
  lnPre?: boolean;
  pool?: 'avg' | 'tok';
  finalLnAfterPool?: boolean;
  /** The MLP activation (default 'gelu', exact erf; 'quick_gelu' for OpenAI-layout CLIP). */
  act?: 'gelu' | 'quick_gelu';
}

/** weights: open_clip keys without prefix; proj is [W, E] as in the checkpoint. */
export function vitRef(c: RefConfig, w: Map<string, Float32Array>, image: Float32Array, B: number, S: number) {
  const W = c.width,
    g = S / c.patchSize,
    N = 1 + g * g,
    rows = B * N;
  const get = weightGetter(w);
  let x: Float64Array = patchEmbedRef(
    image,
    B,
    S,
    get('conv1.weight'),
    W,
    c.patchSize,
    get('class_embedding'),
    get('positional_embedding'),
  ).out;
  if (c.lnPre) x = layerNormRef(x, rows, W, get('ln_pre.weight'), get('ln_pre.bias'), c.eps);
  let block0: Float64Array | null = null;
  const hidden: Float64Array[] = []; // after each block, [B, N, W]
  for (let i = 0; i < c.layers; i++) {
    x = residualBlockRef(x, B, N, { ...c, act: c.act ?? 'gelu' }, get, i);
    if (i === 0) block0 = x.slice();
    hidden.push(x.slice());
  }
  const after = c.finalLnAfterPool ?? true;
  if (!after) x = layerNormRef(x, rows, W, get('ln_post.weight'), get('ln_post.bias'), c.eps);
  const tokens = new Float64Array(B * (N - 1) * W);
  for (let b = 0; b < B; b++) tokens.set(x.subarray((b * N + 1) * W, (b + 1) * N * W), b * (N - 1) * W);
  let pool: Float64Array;
  if ((c.pool ?? 'avg') === 'avg') pool = meanPoolRef(x, B, N, W, 1).y;
  else {
    pool = new Float64Array(B * W);
    for (let b = 0; b < B; b++) pool.set(x.subarray(b * N * W, b * N * W + W), b * W);
  }
  const pooled = after ? layerNormRef(pool, B, W, get('ln_post.weight'), get('ln_post.bias'), c.eps) : pool;
  const embedding = projectRef(pooled, B, W, get('proj'), c.embedDim);
  return { tokens, pooled, embedding, block0: block0!, hidden };
}
