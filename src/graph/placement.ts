// Where a model's tensors live, buffers or matrix textures, decided once from its kernel choices:
// a variant whose family table (kernels/choose/variants.ts) says it reads 'texture' makes its
// operands textures — the GEMM's weights uploaded as textures at load (paramStorage) and its input
// written or packed into one (gemmReads), the attention's qkv likewise (attentionReads). The
// parameters' roles (which keys are matrices, which a GEMM reads, which are stored [in, out]) are
// one table (PARAM_ROLES), used by the upload, the dtype conversion and this placement.
import { ATTENTION_FAMILY, ATTENTION_SPECS, GEMM_FAMILY, GEMM_SPECS, variantSpec } from '../kernels/choose/variants.js';
import type { KernelChoices, TensorStorage } from './graph.js';

/**
 * What a matrix parameter is: a linear layer's weight ([out, in] in the file, read by a GEMM), a
 * projection (read by a GEMM, stored [in, out]: x @ proj), the patch embedding (read by the patch
 * GEMM), or the token embedding (a table lookup). Every other parameter is a vector (biases,
 * LayerNorms, positions, the class token), always an f32 buffer.
 */
export type ParamRole = 'linear' | 'projection' | 'patch' | 'embedding';

/** Each role: whether a GEMM reads it (so it follows the GEMM's layout), whether it is stored [in, out]. */
export const ROLE_TRAITS: Readonly<Record<ParamRole, { readonly gemm: boolean; readonly inOut: boolean }>> = {
  linear: { gemm: true, inOut: false },
  projection: { gemm: true, inOut: true },
  patch: { gemm: true, inOut: false },
  embedding: { gemm: false, inOut: false },
};

/**
 * The matrix parameters by key (open_clip's names, without the 'visual.' prefix): `block` keys end a
 * residual block's key (`transformer.resblocks.<i>.attn.in_proj_weight`), `top` keys are a tower's own.
 */
export const PARAM_ROLES = {
  block: {
    in_proj_weight: 'linear',
    'out_proj.weight': 'linear',
    'c_fc.weight': 'linear',
    'c_proj.weight': 'linear',
  },
  top: {
    proj: 'projection',
    text_projection: 'projection',
    'conv1.weight': 'patch',
    'token_embedding.weight': 'embedding',
  },
} as const satisfies Record<'block' | 'top', Record<string, ParamRole>>;

const TOP: Readonly<Record<string, ParamRole>> = PARAM_ROLES.top;
const BLOCK: readonly [string, ParamRole][] = Object.entries(PARAM_ROLES.block);

/** The role of a parameter key (without the 'visual.' prefix), or null for a vector. */
export function paramRole(key: string): ParamRole | null {
  if (Object.hasOwn(TOP, key)) return TOP[key]!;
  for (const [k, role] of BLOCK) if (key === k || key.endsWith(`.${k}`)) return role;
  return null;
}

/** The layout the model's GEMM variant reads its x and w in ('buffer' when none is chosen). */
export function gemmReads(kernels: KernelChoices): TensorStorage {
  return variantSpec(GEMM_FAMILY, kernels.gemmVariant)?.reads ?? 'buffer';
}

/** The layout the model's attention variant reads its qkv in ('buffer' when none is chosen). */
export function attentionReads(kernels: KernelChoices): TensorStorage {
  return variantSpec(ATTENTION_FAMILY, kernels.attentionVariant)?.reads ?? 'buffer';
}

/**
 * Where a parameter lives on the GPU: the weights a GEMM reads in matrix textures when the model's
 * GEMM reads textures, everything else in buffers.
 */
export function paramStorage(kernels: KernelChoices, key: string): TensorStorage {
  const role = paramRole(key);
  return role && ROLE_TRAITS[role].gemm && gemmReads(kernels) === 'texture' ? 'texture' : 'buffer';
}

/**
 * The choices a graph is built with: `asked`, plus the adapter's own variants (`builtIn`) where they
 * read textures and nothing else was asked for that family (for the GEMM, neither a variant nor a
 * tile, nor a split-K) — the graph's structure (packs, texture-stored weights) depends on them, so they are settled
 * at load. A buffer variant left unset is picked per call by the wrappers.
 */
export function settleLayouts(
  asked: KernelChoices,
  builtIn: Required<Pick<KernelChoices, 'gemmVariant' | 'attentionVariant'>>,
): KernelChoices {
  const settled = { ...asked };
  if (
    asked.gemmVariant === undefined &&
    asked.gemmTile === undefined &&
    asked.gemmSplitK === undefined &&
    GEMM_SPECS[builtIn.gemmVariant].reads === 'texture'
  )
    settled.gemmVariant = builtIn.gemmVariant;
  if (asked.attentionVariant === undefined && ATTENTION_SPECS[builtIn.attentionVariant].reads === 'texture')
    settled.attentionVariant = builtIn.attentionVariant;
  return settled;
}
