// The residual attention block both towers are built from: open_clip's ResidualAttentionBlock,
// pre-norm, `x = x + attn(ln_1(x))`, `x = x + mlp(ln_2(x))` with `mlp = c_proj(act(c_fc(.)))`.
import type { Graph, Tensor } from '../graph/graph.js';
import * as ops from '../graph/ops.js';
import { attentionReads, gemmReads } from '../graph/placement.js';

/** A parameter of the tower by key (without prefix); its shape comes from the tower's table. */
export type Param = (key: string) => Tensor;

export interface BlockShape {
  heads: number;
  eps: number;
  /** The MLP activation: exact-erf GELU (OpenVision's vision tower), tanh GELU (its text tower) or QuickGELU (OpenAI-layout CLIP, model_cfg.quick_gelu). */
  act: 'gelu' | 'gelu_tanh' | 'quick_gelu';
  /** Causal self-attention (OpenAI-layout text towers); default false. */
  causal?: boolean;
}

/** Adds block `i` of a tower to the graph, updating the residual stream `x` in place. */
export function residualBlock(g: Graph, P: Param, i: number, x: Tensor, s: BlockShape): void {
  const b = `transformer.resblocks.${i}.`;
  // Where the next kernel reads textures (graph/placement.ts), results go straight into textures.
  const gemmTex = gemmReads(g.kernels);
  const attnTex = attentionReads(g.kernels);
  // x = x + out_proj(attn(ln_1(x)))
  const h = ops.layerNorm(g, `${b}ln_1`, x, P(`${b}ln_1.weight`), P(`${b}ln_1.bias`), s.eps, gemmTex);
  const qkv = ops.linear(
    g,
    `${b}attn.in_proj`,
    h,
    P(`${b}attn.in_proj_weight`),
    P(`${b}attn.in_proj_bias`),
    'none',
    attnTex,
  );
  const a = ops.attention(g, `${b}attn`, qkv, s.heads, x.shape[1], s.causal ?? false);
  ops.linearAddInto(g, `${b}attn.out_proj`, x, a, P(`${b}attn.out_proj.weight`), P(`${b}attn.out_proj.bias`));
  // x = x + c_proj(act(c_fc(ln_2(x))))
  const h2 = ops.layerNorm(g, `${b}ln_2`, x, P(`${b}ln_2.weight`), P(`${b}ln_2.bias`), s.eps, gemmTex);
  const m = ops.linear(g, `${b}mlp.c_fc`, h2, P(`${b}mlp.c_fc.weight`), P(`${b}mlp.c_fc.bias`), s.act, gemmTex);
  ops.linearAddInto(g, `${b}mlp.c_proj`, x, m, P(`${b}mlp.c_proj.weight`), P(`${b}mlp.c_proj.bias`));
}
