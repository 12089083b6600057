// The kernel families, one description each: every variant with what it needs of the adapter, the
// data layout it reads, whether it takes a GEMM tile, and the specialisations the GPU-path check
// compiles; the GEMM's epilogues. The dispatch (gemm.ts, attention.ts), the capability checks
// (the `kernels` load option, model/arguments.ts), tune's candidates (model/tune.ts), the graph's
// placement of textures (graph/placement.ts), tools/check-spirv.ts's modules, the fixture test's
// combinations and the kernel benchmark's rows (bench/kernels/) are derived from these tables.
// Adding a variant or an epilogue: its WGSL, an entry here, the wrapper's dispatch entry, its tests.
import { NEEDS_SUBGROUP_MATRIX, NEEDS_SUBGROUPS_OF_8 } from '../program/checks.js';
import type { AdapterTraits } from './adapter.js';

/** A capability a variant needs of the adapter (AdapterTraits). */
export type VariantNeed = 'subgroupsOf8' | 'subgroupMatrix';
/** Why an adapter without each capability cannot run a variant that needs it (after the variant's name). */
export const NEED_TEXT: Record<VariantNeed, string> = {
  subgroupsOf8: NEEDS_SUBGROUPS_OF_8,
  subgroupMatrix: NEEDS_SUBGROUP_MATRIX,
};

/**
 * One variant of a kernel family: 'buffer' variants run through the family's buffer wrapper
 * (gemm(), attention()); a 'texture' one reads matrix textures through its own wrapper (`wrapper`),
 * and the graph places its inputs in textures (graph/placement.ts); on buffers it runs as `bufferForm`.
 */
export interface VariantSpec {
  readonly needs: readonly VariantNeed[];
  readonly reads: 'buffer' | 'texture';
  /** The wrapper that runs a 'texture' variant (named in the buffer wrapper's refusal). */
  readonly wrapper?: string;
  /** The buffer variant a 'texture' one runs as where its operands are buffers. */
  readonly bufferForm?: string;
  /** Takes a workgroup tile (GEMM_TILES): one candidate and one benchmark row per tile. */
  readonly tiles?: boolean;
  /** Compiled by tools/check-spirv.ts (the GPU path: what an adapter without the CPU traits runs). */
  readonly gpuPath: boolean;
  /** The benchmark row's kernel column (bench/kernels/). */
  readonly row: string;
}

/**
 * The GEMM: 'tiled' (gemm.wgsl, workgroup-memory tiles, GPUs) and 'subgroup' (gemm_subgroup.wgsl,
 * one 8-lane subgroup per workgroup, CPU adapters) read buffers (gemm()); 'texture' (gemm_texture.wgsl)
 * reads matrix textures (gemmTexture, gemm-texture.ts): a model choice, for which the graph packs x
 * and the model uploads its linear weights as textures. 'subgroup_matrix' (gemm_subgroup_matrix.wgsl,
 * gemm-subgroup-matrix.ts) multiplies f16 subgroup matrices (tensor cores) where the device has
 * chromium-experimental-subgroup-matrix; not on the GPU path check (tools/check-spirv.ts compiles on
 * lavapipe, which lacks the feature).
 */
export const GEMM_FAMILY = {
  variants: {
    tiled: { needs: [], reads: 'buffer', tiles: true, gpuPath: true, row: 'gemm' },
    subgroup: { needs: ['subgroupsOf8'], reads: 'buffer', gpuPath: false, row: 'gemm' },
    texture: {
      needs: ['subgroupsOf8'],
      reads: 'texture',
      wrapper: 'gemmTexture (gemm-texture.ts) with x and w as TextureRefs',
      bufferForm: 'subgroup',
      gpuPath: false,
      row: 'gemm_texture',
    },
    subgroup_matrix: { needs: ['subgroupMatrix'], reads: 'buffer', gpuPath: false, row: 'gemm' },
  },
  /**
   * What happens to `x·wᵀ + bias` before it is stored, each with the WGSL constant of its EPILOGUE
   * code (gemm.wgsl; every GEMM variant declares the same): nothing, exact-erf GELU (nn.GELU()),
   * `y += result`, tanh-approximated GELU (nn.GELU(approximate='tanh')), QuickGELU
   * (`x·sigmoid(1.702·x)`, open_clip's QuickGELU: OpenAI-layout CLIP, `model_cfg.quick_gelu`).
   */
  epilogues: {
    none: 'EPILOGUE_NONE',
    gelu: 'EPILOGUE_GELU',
    residual: 'EPILOGUE_RESIDUAL',
    gelu_tanh: 'EPILOGUE_GELU_TANH',
    quick_gelu: 'EPILOGUE_QUICK_GELU',
  },
} as const satisfies {
  variants: Record<string, VariantSpec>;
  epilogues: Record<string, string>;
};

/**
 * Attention: 'broadcast', 'tiled', 'flash' and 'subgroup' read a qkv buffer (attention()); 'texture' reads a
 * qkv matrix texture (attentionTexture, attention-texture.ts): a model choice, for which the graph
 * packs qkv. `headDims`: the head dimensions tools/check-spirv.ts compiles each GPU-path variant at.
 */
export const ATTENTION_FAMILY = {
  variants: {
    broadcast: { needs: [], reads: 'buffer', gpuPath: true, row: 'attention' },
    tiled: { needs: [], reads: 'buffer', gpuPath: true, row: 'attention' },
    // Q/K/V tiles in workgroup memory (ATTENTION_FLASH_WORKGROUP_BYTES of it, choose.ts), optionally
    // split over keys with a combine pass (attention_flash_combine); the GPU default.
    flash: { needs: [], reads: 'buffer', gpuPath: true, row: 'attention' },
    subgroup: { needs: ['subgroupsOf8'], reads: 'buffer', gpuPath: false, row: 'attention' },
    texture: {
      needs: ['subgroupsOf8'],
      reads: 'texture',
      wrapper: 'attentionTexture (attention-texture.ts)',
      bufferForm: 'subgroup',
      gpuPath: false,
      row: 'attention_texture',
    },
  },
  headDims: [8, 32, 64, 72, 80, 128],
} as const satisfies { variants: Record<string, VariantSpec>; headDims: readonly number[] };

export type GemmVariant = keyof typeof GEMM_FAMILY.variants;
export type AttentionVariant = keyof typeof ATTENTION_FAMILY.variants;
export type GemmEpilogue = keyof typeof GEMM_FAMILY.epilogues;

/** Each variant's spec, typed for reading its optional fields. */
export const GEMM_SPECS: Readonly<Record<GemmVariant, VariantSpec>> = GEMM_FAMILY.variants;
export const ATTENTION_SPECS: Readonly<Record<AttentionVariant, VariantSpec>> = ATTENTION_FAMILY.variants;

/** The names of a family's 'buffer' variants (each has an entry in its buffer wrapper's dispatch table). */
export type BufferVariant<F extends { variants: Record<string, { reads: string }> }> = {
  [K in keyof F['variants']]: F['variants'][K]['reads'] extends 'buffer' ? K : never;
}[keyof F['variants']];
export type BufferGemmVariant = BufferVariant<typeof GEMM_FAMILY>;
export type BufferAttentionVariant = BufferVariant<typeof ATTENTION_FAMILY>;

/** The variant `v` runs as on buffers: itself, or a 'texture' variant's bufferForm. */
export function bufferFormOf<V extends string>(f: { variants: Record<V, VariantSpec> }, v: V): V {
  return (f.variants[v].bufferForm as V | undefined) ?? v;
}

/** A family's variant names, in table order. */
export const variantNames = <V extends string>(f: { variants: Record<V, VariantSpec> }): V[] =>
  Object.keys(f.variants) as V[];
export const GEMM_VARIANTS: readonly GemmVariant[] = variantNames(GEMM_FAMILY);
export const GEMM_EPILOGUES: readonly GemmEpilogue[] = Object.keys(GEMM_FAMILY.epilogues) as GemmEpilogue[];

/** The spec of variant `v` of a family, or undefined for a name that is not one. */
export function variantSpec<V extends string>(
  f: { variants: Record<V, VariantSpec> },
  v: string | undefined,
): VariantSpec | undefined {
  return v !== undefined && Object.hasOwn(f.variants, v) ? f.variants[v as V] : undefined;
}

/** What an adapter lacks to run a variant: "'subgroup' needs …", or null when it can run it. */
export function variantProblem(spec: VariantSpec, name: string, t: Pick<AdapterTraits, VariantNeed>): string | null {
  const missing = spec.needs.find((n) => !t[n]);
  return missing ? `'${name}' ${NEED_TEXT[missing]}` : null;
}

/** The variants of a family an adapter with these traits can run, in table order. */
export function runnableVariants<V extends string>(
  f: { variants: Record<V, VariantSpec> },
  t: Pick<AdapterTraits, VariantNeed>,
): V[] {
  return variantNames(f).filter((v) => variantProblem(f.variants[v], v, t) === null);
}
