// Fused multi-head attention reading a qkv matrix texture, for CPU adapters (attention.ts has the
// buffer variants). WGSL: src/wgsl/attention_texture.wgsl. In a model the graph packs the in_proj
// output into a texture first (texture_pack).
import { KernelArgumentError } from '../errors.js';
import { ATTENTION_VARIANTS, attentionHeadDim, attentionTextureKernel, expectCausal } from './attention.js';
import {
  createDispatch,
  expectF32Texture,
  expectShape,
  expectSubgroupsOf8,
  type Dispatch,
  type TensorRef,
  type TextureRef,
} from './program/index.js';
import { expectKnownArgs } from './program/checks.js';
import type { KeyList } from '../options.js';

export { attentionTextureKernel };
const QB = ATTENTION_VARIANTS.texture.queryBlock;

export interface AttentionTextureArgs {
  /** [batches · tokens, 3W] matrix texture: q | k | v per row (texture_pack of the in_proj output). */
  qkv: TextureRef;
  /** Tokens per sequence (N); qkv holds qkv.shape[0] / tokens whole sequences. */
  tokens: number;
  /** [B, N, W] output buffer. */
  out: TensorRef;
  heads: number;
  /** The out batch of the texture's first sequence (default 0): a tall qkv runs as several calls. */
  batch0?: number;
  /** Softmax scale; defaults to 1/sqrt(head_dim). */
  scale?: number;
  /** Causal mask: query i attends to keys 0 .. i of its sequence only (as AttentionArgs.causal). Default false. */
  causal?: boolean;
}

/** The keys of AttentionTextureArgs (an unknown one is refused). */
export const ATTENTION_TEXTURE_ARG_KEYS = {
  qkv: true,
  tokens: true,
  out: true,
  heads: true,
  batch0: true,
  scale: true,
  causal: true,
} as const satisfies KeyList<AttentionTextureArgs>;

/** out[batch0 : batch0 + qkv rows / N] = concat_h softmax(q_h k_hᵀ · scale) v_h. Needs 8-lane subgroups. */
export function attentionTexture(device: GPUDevice, a: AttentionTextureArgs): Dispatch {
  const k = attentionTextureKernel.name;
  expectKnownArgs(k, a, ATTENTION_TEXTURE_ARG_KEYS);
  const [rows, W3] = a.qkv.shape;
  expectF32Texture(k, 'qkv', a.qkv);
  const N = a.tokens;
  if (!Number.isInteger(N) || N <= 0 || rows % N !== 0)
    throw new KernelArgumentError(k, 'tokens', `${N} does not divide qkv's ${rows} rows into whole sequences`);
  const D = attentionHeadDim(k, W3, a.heads);
  const W = W3 / 3;
  const causal = expectCausal(k, a.causal);
  if (a.out.shape.length !== 3 || a.out.shape[1] !== N || a.out.shape[2] !== W)
    throw new KernelArgumentError(k, 'out', `expected [B, ${N}, ${W}], got [${a.out.shape.join(', ')}]`);
  expectShape(k, 'out', a.out, a.out.shape);
  const batches = rows / N;
  const batch0 = a.batch0 ?? 0;
  if (!Number.isInteger(batch0) || batch0 < 0 || batch0 + batches > a.out.shape[0]!)
    throw new KernelArgumentError(
      k,
      'batch0',
      `sequences ${batch0} .. ${batch0 + batches - 1} are outside out's ${a.out.shape[0]!}`,
    );
  expectSubgroupsOf8(device, k, 'device');
  return createDispatch(device, attentionTextureKernel, {
    overrides: { HEAD_DIM: D, CAUSAL: causal },
    uniforms: { tokens: N, heads: a.heads, scale: a.scale ?? 1 / Math.sqrt(D), B0: batch0 },
    tensors: { out: a.out },
    textures: { qkv: a.qkv },
    workgroups: [Math.ceil(N / QB), a.heads, batches],
  });
}
