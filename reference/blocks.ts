// What the vision and text references share, in float64: the open_clip residual attention block
// (as src/model/blocks.ts builds it on the GPU), the checked weight lookup, and the final projection.
import { attentionRef } from './attention.js';
import { gemmRef } from './gemm.js';
import { layerNormRef } from './layernorm.js';

/** A lookup of open_clip weights that names a missing key. */
export function weightGetter(w: Map<string, Float32Array>): (k: string) => Float32Array {
  return (k) => {
    const t = w.get(k);
    if (!t) throw new Error(`reference: missing ${k}`);
    return t;
  };
}

export interface BlockRefShape {
  width: number;
  heads: number;
  mlpWidth: number;
  eps: number;
  act: 'gelu' | 'gelu_tanh' | 'quick_gelu';
  /** Causal attention (OpenAI-layout text towers); default no mask. */
  causal?: boolean;
}

/** Block `i` on x [B, N, W]: x + out_proj(attn(ln_1(x))), then + c_proj(act(c_fc(ln_2(x)))); no mask unless causal. */
export function residualBlockRef(
  x: Float64Array,
  B: number,
  N: number,
  c: BlockRefShape,
  get: (k: string) => Float32Array,
  i: number,
): Float64Array {
  const W = c.width,
    rows = B * N,
    p = `transformer.resblocks.${i}.`;
  const h = layerNormRef(x, rows, W, get(`${p}ln_1.weight`), get(`${p}ln_1.bias`), c.eps);
  const qkv = gemmRef(h, rows, W, get(`${p}attn.in_proj_weight`), 3 * W, get(`${p}attn.in_proj_bias`), 'none').y;
  const a = attentionRef(qkv, B, N, W, c.heads, undefined, c.causal ?? false).out;
  x = gemmRef(a, rows, W, get(`${p}attn.out_proj.weight`), W, get(`${p}attn.out_proj.bias`), 'residual', x).y;
  const h2 = layerNormRef(x, rows, W, get(`${p}ln_2.weight`), get(`${p}ln_2.bias`), c.eps);
  const m = gemmRef(h2, rows, W, get(`${p}mlp.c_fc.weight`), c.mlpWidth, get(`${p}mlp.c_fc.bias`), c.act).y;
  return gemmRef(m, rows, c.mlpWidth, get(`${p}mlp.c_proj.weight`), W, get(`${p}mlp.c_proj.bias`), 'residual', x).y;
}

/** pooled [B, W] @ proj, with proj [W, E] as the checkpoint stores it (proj, text_projection). */
export function projectRef(pooled: Float64Array, B: number, W: number, proj: Float32Array, E: number): Float64Array {
  const projT = new Float64Array(W * E);
  for (let r = 0; r < W; r++) for (let e = 0; e < E; e++) projT[e * W + r] = proj[r * E + e]!;
  return gemmRef(pooled, B, W, projT, E, null, 'none').y;
}
