// The kernel variants by name: declared here, where the choosing (choose.ts) needs them, and
// re-exported by the wrappers that implement them (gemm.ts, attention.ts).

/**
 * 'tiled' and 'subgroup' read buffers (gemm()); 'texture' reads matrix textures (gemmTexture,
 * gemm-texture.ts): a model choice, for which the graph packs x and the model uploads its weights
 * as textures.
 */
export type GemmVariant = 'tiled' | 'subgroup' | 'texture';
export const GEMM_VARIANTS: readonly GemmVariant[] = ['tiled', 'subgroup', 'texture'];

/**
 * 'broadcast', 'tiled' and 'subgroup' read a qkv buffer (attention()); 'texture' reads a qkv matrix
 * texture (attentionTexture, attention-texture.ts): a model choice, for which the graph packs qkv.
 */
export type AttentionVariant = 'broadcast' | 'tiled' | 'subgroup' | 'texture';
