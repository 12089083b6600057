// The built-in kernel choices and the kernel family tables, without a device (choose/ is pure).
import { describe, expect, it } from 'vitest';
import {
  ATTENTION_FLASH_WORKGROUP_BYTES,
  ATTENTION_MAX_KEY_SPLITS,
  chooseAttentionKeySplits,
  chooseAttentionVariant,
  chooseGemmTile,
  chooseGemmVariant,
  tileCandidates,
  type AdapterTraits,
} from '../../src/kernels/choose/choose.js';
import { GEMM_TILES, tileName, tileProblem } from '../../src/kernels/gemm-tile.js';
import { GEMM_EPILOGUE_CODE } from '../../src/kernels/gemm.js';
import {
  ATTENTION_FAMILY,
  bufferFormOf,
  GEMM_EPILOGUES,
  GEMM_FAMILY,
  runnableVariants,
  variantProblem,
  type VariantSpec,
} from '../../src/kernels/choose/variants.js';
import { gemmTuneCandidates } from '../../src/model/tune.js';

// WebGPU's default limits (every adapter has at least these) and a small adapter's.
const DEFAULT_LIMITS = {
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupStorageSize: 16384,
};
// Lavapipe grants 32 KiB of workgroup memory (the 128×128 k16 tile needs 16,896 B); a small GPU 64 invocations.
const LAVAPIPE_LIMITS = {
  ...DEFAULT_LIMITS,
  maxComputeWorkgroupStorageSize: 32768,
  maxComputeInvocationsPerWorkgroup: 1024,
};
const SMALL_LIMITS = {
  ...DEFAULT_LIMITS,
  maxComputeInvocationsPerWorkgroup: 64,
  maxComputeWorkgroupStorageSize: 32768,
};
const lavapipe: AdapterTraits = { cpu: true, subgroupsOf8: true, limits: LAVAPIPE_LIMITS };
const swiftshader: AdapterTraits = { cpu: true, subgroupsOf8: false, limits: DEFAULT_LIMITS };
const gpu: AdapterTraits = { cpu: false, subgroupsOf8: false, limits: DEFAULT_LIMITS };
const gpuWith8: AdapterTraits = { cpu: false, subgroupsOf8: true, limits: DEFAULT_LIMITS };
// The H200's Dawn grants 48 KiB of workgroup memory (docs/gpu.md); most GPUs 32 KiB or more.
const h200: AdapterTraits = {
  cpu: false,
  subgroupsOf8: false,
  limits: { ...LAVAPIPE_LIMITS, maxComputeWorkgroupStorageSize: 49152 },
};
const gpu32k: AdapterTraits = { cpu: false, subgroupsOf8: true, limits: LAVAPIPE_LIMITS };

describe('built-in kernel choices (pure functions of adapter traits and shape)', () => {
  it.each([
    ['lavapipe (CPU, 8-lane subgroups)', lavapipe, 'texture', 'texture'],
    ['a CPU adapter without 8-lane subgroups', swiftshader, 'tiled', 'tiled'],
    ['a GPU with 48 KiB of workgroup memory (the H200)', h200, 'tiled', 'flash'],
    ['a GPU with 32 KiB and 8-lane subgroups (still GPU kernels)', gpu32k, 'tiled', 'flash'],
    ['a GPU with only the default 16 KiB (flash does not fit)', gpu, 'tiled', 'broadcast'],
    ['a GPU with 8-lane subgroups and 16 KiB', gpuWith8, 'tiled', 'broadcast'],
  ] as const)('%s', (_, t, gemm, attention) => {
    expect(chooseGemmVariant(t)).toBe(gemm);
    expect(chooseAttentionVariant(t)).toBe(attention);
  });

  it('GEMM tiles: the least padded work among tiles that fill the adapter', () => {
    // ViT-B MLP on a CPU: 1576×3072 fills 8 workgroups with the biggest tile.
    expect(tileName(chooseGemmTile(lavapipe, { m: 1576, n: 3072 }))).toBe('128x128k16');
    // 1576×192: 128×64 pads 192 columns to 192 (cost 1664·192/1.05) where 128×128 pads to 256 (1664·256/1.1).
    expect(tileName(chooseGemmTile(lavapipe, { m: 1576, n: 192 }))).toBe('128x64k16');
    // 197×192: the 128-row tiles give 4 and 6 workgroups (< 8): 64×64 (12 workgroups).
    expect(tileName(chooseGemmTile(lavapipe, { m: 197, n: 192 }))).toBe('64x64k32');
    // Too small to fill 8 workgroups with any tile: the smallest.
    expect(tileName(chooseGemmTile(lavapipe, { m: 1, n: 64 }))).toBe('64x64k32');
    // A GPU wants ≥ 256 workgroups: 6304×2304 gives 50×18 = 900 with 128×128, the prefetching
    // tile measured fastest on the H200 at batch 32 (choose.ts).
    expect(tileName(chooseGemmTile(gpu, { m: 6304, n: 2304 }))).toBe('128x128k8p');
    // Batch 1 (197×768) fills 256 with no tile: the smallest candidate, 32×64 (7×12 = 84 workgroups
    // where 128×128 gives 12).
    expect(tileName(chooseGemmTile(gpu, { m: 197, n: 768 }))).toBe('32x64k16p');
    // 197×3072: 32×64 gives 7×48 = 336 ≥ 256, the only tile that fills the GPU.
    expect(tileName(chooseGemmTile(gpu, { m: 197, n: 3072 }))).toBe('32x64k16p');
    // 1576×3072 (batch 8): 128×128 k8p gives 13×24 = 312.
    expect(tileName(chooseGemmTile(gpu, { m: 1576, n: 3072 }))).toBe('128x128k8p');
    expect(tileName(chooseGemmTile(gpu))).toBe('128x128k8p');
  });

  it("attention: 'flash' where its workgroup memory fits (CPU adapters keep theirs)", () => {
    const at = (bytes: number): AdapterTraits => ({
      ...gpu,
      limits: { ...DEFAULT_LIMITS, maxComputeWorkgroupStorageSize: bytes },
    });
    expect(chooseAttentionVariant(at(ATTENTION_FLASH_WORKGROUP_BYTES))).toBe('flash');
    expect(chooseAttentionVariant(at(ATTENTION_FLASH_WORKGROUP_BYTES - 1))).toBe('broadcast');
    expect(chooseAttentionVariant({ ...lavapipe, limits: h200.limits })).toBe('texture');
    expect(chooseAttentionVariant({ ...swiftshader, limits: h200.limits })).toBe('tiled');
  });

  it('attention key splits: only where batch × heads × query tiles cannot fill the adapter', () => {
    // Batch 1 at 448 px / patch 16 (785 tokens, B/16: 12 heads, 25 query tiles of 32 = 300
    // workgroups, 25 key blocks of 32): 4 splits make 1200 ≥ 1024.
    expect(chooseAttentionKeySplits(h200, { workgroups: 12 * 25, keyBlocks: 25 })).toBe(4);
    // B/16 ×32 (197 tokens: 7 tiles × 12 heads × 32 = 2688): none.
    expect(chooseAttentionKeySplits(h200, { workgroups: 2688, keyBlocks: 7 })).toBe(1);
    // Batch 1 at 224 px (84 workgroups): 13 would fill it, but 7 key blocks give 3 splits of ≥ 2.
    expect(chooseAttentionKeySplits(h200, { workgroups: 84, keyBlocks: 7 })).toBe(3);
    // ViT-H/14 at 448 px (1025 tokens, 16 heads: 33 × 16 = 528): 2.
    expect(chooseAttentionKeySplits(h200, { workgroups: 528, keyBlocks: 33 })).toBe(2);
    // One workgroup over a long sequence: capped; and by what the workspace may hold.
    expect(chooseAttentionKeySplits(h200, { workgroups: 1, keyBlocks: 1000 })).toBe(ATTENTION_MAX_KEY_SPLITS);
    expect(chooseAttentionKeySplits(h200, { workgroups: 1, keyBlocks: 1000, maxSplits: 3 })).toBe(3);
    // One key block: nothing to split. CPU adapters want 8 workgroups (their threads).
    expect(chooseAttentionKeySplits(h200, { workgroups: 1, keyBlocks: 1 })).toBe(1);
    expect(chooseAttentionKeySplits(lavapipe, { workgroups: 3, keyBlocks: 20 })).toBe(3);
    expect(chooseAttentionKeySplits(lavapipe, { workgroups: 8, keyBlocks: 20 })).toBe(1);
  });

  it('only tiles the limits allow are candidates; the reason is given for the others', () => {
    const small: AdapterTraits = { ...gpu, limits: SMALL_LIMITS };
    expect(tileCandidates(small).map((c) => tileName(c.tile))).toEqual(['64x64k16', '32x64k16p']);
    expect(tileName(chooseGemmTile(small, { m: 6304, n: 2304 }))).toBe('64x64k16');
    expect(tileProblem(SMALL_LIMITS, GEMM_TILES['128x128k8']!)).toMatch(/needs 16×16 invocations/);
    expect(tileProblem(DEFAULT_LIMITS, GEMM_TILES['128x128k16']!)).toMatch(/bytes of workgroup memory/);
    expect(tileProblem(LAVAPIPE_LIMITS, GEMM_TILES['64x64k32']!)).toBeNull();
    expect(tileProblem(DEFAULT_LIMITS, GEMM_TILES['64x64k16']!)).toBeNull();
    expect(tileProblem(DEFAULT_LIMITS, { wgX: 0, wgY: 8, bk: 8 })).toMatch(/positive integers/);
  });
});

describe('the kernel family tables (choose/variants.ts)', () => {
  it('what each adapter can run follows from the variants’ needs', () => {
    expect(runnableVariants(GEMM_FAMILY, lavapipe)).toEqual(['tiled', 'subgroup', 'texture']);
    expect(runnableVariants(GEMM_FAMILY, swiftshader)).toEqual(['tiled']);
    expect(runnableVariants(ATTENTION_FAMILY, lavapipe)).toEqual([
      'broadcast',
      'tiled',
      'flash',
      'subgroup',
      'texture',
    ]);
    expect(runnableVariants(ATTENTION_FAMILY, gpu)).toEqual(['broadcast', 'tiled', 'flash']);
    expect(variantProblem(GEMM_FAMILY.variants.texture, 'texture', gpu)).toBe(
      "'texture' needs the subgroups feature with a subgroup size of exactly 8",
    );
    expect(variantProblem(GEMM_FAMILY.variants.tiled, 'tiled', gpu)).toBeNull();
  });

  it('the built-in choices are variants of the tables, runnable where chosen', () => {
    for (const t of [lavapipe, swiftshader, gpu, gpuWith8, h200, gpu32k]) {
      expect(runnableVariants(GEMM_FAMILY, t)).toContain(chooseGemmVariant(t));
      expect(runnableVariants(ATTENTION_FAMILY, t)).toContain(chooseAttentionVariant(t));
    }
  });

  it('a texture variant names its wrapper and its buffer form; the epilogues are gemm.wgsl’s codes', () => {
    for (const f of [GEMM_FAMILY, ATTENTION_FAMILY] as { variants: Record<string, VariantSpec> }[])
      for (const [v, spec] of Object.entries(f.variants)) {
        if (spec.reads === 'texture') {
          expect(spec.wrapper, v).toBeTruthy();
          expect(f.variants[bufferFormOf(f, v)]!.reads, v).toBe('buffer');
        } else expect(bufferFormOf(f, v)).toBe(v);
      }
    expect(GEMM_EPILOGUES).toEqual(['none', 'gelu', 'residual', 'gelu_tanh', 'quick_gelu']);
    expect(new Set(Object.values(GEMM_EPILOGUE_CODE)).size).toBe(GEMM_EPILOGUES.length);
  });

  it("tune's GEMM candidates: the runnable variants, most specialised first, a tiled one per allowed tile", () => {
    const names = gemmTuneCandidates(lavapipe).map(([n]) => n);
    expect(names.slice(0, 2)).toEqual(['gemm texture', 'gemm subgroup']);
    expect(names.slice(2)).toEqual(
      Object.values(GEMM_TILES)
        .filter((t) => tileProblem(LAVAPIPE_LIMITS, t) === null)
        .map((t) => `gemm tiled ${tileName(t)}`),
    );
    expect(gemmTuneCandidates(gpu).every(([n]) => n.startsWith('gemm tiled '))).toBe(true);
  });
});

describe('subgroup matrices (AdapterTraits.subgroupMatrix)', () => {
  const config = { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 } as const;
  const tensorCores: AdapterTraits = { ...gpu, subgroupMatrix: config };
  it("'subgroup_matrix' is runnable only where the device has a configuration, and chosen only when asked for", () => {
    expect(chooseGemmVariant(tensorCores)).toBe('tiled');
    expect(chooseGemmVariant({ ...tensorCores, preferSubgroupMatrix: true })).toBe('subgroup_matrix');
    expect(chooseGemmVariant({ ...gpu, preferSubgroupMatrix: true })).toBe('tiled');
    expect(chooseGemmVariant({ ...gpu, subgroupMatrix: null })).toBe('tiled');
    expect(runnableVariants(GEMM_FAMILY, tensorCores)).toEqual(['tiled', 'subgroup_matrix']);
    expect(runnableVariants(GEMM_FAMILY, gpu)).not.toContain('subgroup_matrix');
    expect(variantProblem(GEMM_FAMILY.variants.subgroup_matrix, 'subgroup_matrix', gpu)).toMatch(
      /^'subgroup_matrix' needs chromium-experimental-subgroup-matrix/,
    );
  });
  it('tune times it beside the tiles where it can run', () => {
    expect(gemmTuneCandidates(tensorCores).map(([n]) => n)).not.toContain('gemm subgroup_matrix');
    expect(gemmTuneCandidates({ ...tensorCores, preferSubgroupMatrix: true }).map(([n]) => n)[0]).toBe(
      'gemm subgroup_matrix',
    );
    expect(gemmTuneCandidates(gpu).map(([n]) => n)).not.toContain('gemm subgroup_matrix');
  });
});
