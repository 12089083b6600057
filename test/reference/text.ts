// CPU reference (float64) of the OpenVision 1 text tower, composed of the per-kernel references:
// token embedding + positions, pre-norm blocks (tanh GELU, no attention mask), ln_final, the last
// token, text_projection. The specification in plain loops, checked against the PyTorch fixture.
import { attentionRef } from './attention.js';
import { embeddingRef } from './embedding.js';
import { gemmRef } from './gemm.js';
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
  const get = (k: string) => {
    const t = w.get(k);
    if (!t) throw new Error(`reference: missing ${k}`);
    return t;
  };
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
    const p = `transformer.resblocks.${i}.`;
    const h = layerNormRef(x, rows, W, get(`${p}ln_1.weight`), get(`${p}ln_1.bias`), c.eps);
    const qkv = gemmRef(h, rows, W, get(`${p}attn.in_proj_weight`), 3 * W, get(`${p}attn.in_proj_bias`), 'none').y;
    const a = attentionRef(qkv, B, T, W, c.heads).out; // no mask: every token attends to all 80
    x = gemmRef(a, rows, W, get(`${p}attn.out_proj.weight`), W, get(`${p}attn.out_proj.bias`), 'residual', x).y;
    const h2 = layerNormRef(x, rows, W, get(`${p}ln_2.weight`), get(`${p}ln_2.bias`), c.eps);
    const m = gemmRef(h2, rows, W, get(`${p}mlp.c_fc.weight`), c.mlpWidth, get(`${p}mlp.c_fc.bias`), c.act).y;
    x = gemmRef(m, rows, c.mlpWidth, get(`${p}mlp.c_proj.weight`), W, get(`${p}mlp.c_proj.bias`), 'residual', x).y;
    if (i === 0) block0 = x.slice();
  }
  const xn = layerNormRef(x, rows, W, get('ln_final.weight'), get('ln_final.bias'), c.eps);
  const pooled = new Float64Array(B * W);
  for (let b = 0; b < B; b++) pooled.set(xn.subarray((b * T + T - 1) * W, (b * T + T) * W), b * W);
  const proj = get('text_projection');
  const projT = new Float64Array(W * c.embedDim);
  for (let r = 0; r < W; r++) for (let e = 0; e < c.embedDim; e++) projT[e * W + r] = proj[r * c.embedDim + e]!;
  const embedding = gemmRef(pooled, B, W, projT, c.embedDim, null, 'none').y;
  return { embedding, pooled, block0: block0! };
}
