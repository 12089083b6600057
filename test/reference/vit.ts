// CPU reference (float64) of the whole OpenVision encoder, composed of the per-kernel references:
// the model's specification in plain loops, used to check depth (error growth over many blocks).
import { attentionRef } from './attention.js';
import { gemmRef } from './gemm.js';
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
}

/** weights: open_clip keys without prefix; proj is [W, E] as in the checkpoint. */
export function vitRef(c: RefConfig, w: Map<string, Float32Array>, image: Float32Array, B: number, S: number) {
  const W = c.width,
    g = S / c.patchSize,
    N = 1 + g * g,
    rows = B * N;
  const get = (k: string) => {
    const t = w.get(k);
    if (!t) throw new Error(`reference: missing ${k}`);
    return t;
  };
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
    const p = `transformer.resblocks.${i}.`;
    const h = layerNormRef(x, rows, W, get(`${p}ln_1.weight`), get(`${p}ln_1.bias`), c.eps);
    const qkv = gemmRef(h, rows, W, get(`${p}attn.in_proj_weight`), 3 * W, get(`${p}attn.in_proj_bias`), 'none').y;
    const a = attentionRef(qkv, B, N, W, c.heads).out;
    x = gemmRef(a, rows, W, get(`${p}attn.out_proj.weight`), W, get(`${p}attn.out_proj.bias`), 'residual', x).y;
    const h2 = layerNormRef(x, rows, W, get(`${p}ln_2.weight`), get(`${p}ln_2.bias`), c.eps);
    const m = gemmRef(h2, rows, W, get(`${p}mlp.c_fc.weight`), c.mlpWidth, get(`${p}mlp.c_fc.bias`), 'gelu').y;
    x = gemmRef(m, rows, c.mlpWidth, get(`${p}mlp.c_proj.weight`), W, get(`${p}mlp.c_proj.bias`), 'residual', x).y;
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
  const proj = get('proj');
  const projT = new Float64Array(W * c.embedDim);
  for (let r = 0; r < W; r++) for (let e = 0; e < c.embedDim; e++) projT[e * W + r] = proj[r * c.embedDim + e]!;
  const embedding = gemmRef(pooled, B, W, projT, c.embedDim, null, 'none').y;
  return { tokens, pooled, embedding, block0: block0!, hidden };
}
