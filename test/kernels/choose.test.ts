// The built-in kernel choices and the kernel family tables, without a device (choose/ is pure).
import { describe, expect, it } from 'vitest';
import {
  ATTENTION_FLASH_WORKGROUP_BYTES,
  ATTENTION_MAX_KEY_SPLITS,
  chooseAttentionKeySplits,
  chooseAttentionVariant,
  chooseGemmPlan,
  chooseGemmSplit,
  chooseGemmTile,
  chooseGemmVariant,
  COST_MODEL,
  gemmPlanCost,
  SHAPE_CLASSES,
  splitKRange,
  TILE_MODELS,
  tileCandidates,
  type AdapterTraits,
} from '../../src/kernels/choose/choose.js';
import { ASSUMED_GPU_COMPUTE_UNITS, computeUnitsOf } from '../../src/kernels/choose/adapter.js';
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
import { gemmTuneCandidates, SPLIT_K_TUNE, splitKTuneCandidates } from '../../src/model/tune.js';
import { fromStored, toStored } from '../../src/model/profiles.js';

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

  it('GEMM tiles: the least estimated time, wave-quantised padded work over the speed in its shape class', () => {
    // A CPU adapter (8 threads assumed) counts no waves: the least padded work over the tile's speed
    // among the tiles whose grid fills the threads (the rule before waves were counted).
    // ViT-B MLP: 1576×3072 in 13×24 blocks of the biggest tile.
    expect(tileName(chooseGemmTile(lavapipe, { m: 1576, n: 3072, k: 768 }))).toBe('128x128k16');
    // 1576×192: 128×64 pads 192 columns to 192 (cost 1664·192/1.05) where 128×128 pads to 256 (1664·256/1.1).
    expect(tileName(chooseGemmTile(lavapipe, { m: 1576, n: 192 }))).toBe('128x64k16');
    // 197×192: the 128-row tiles give 4 and 6 workgroups (< 8 threads): 64×64 (12 workgroups).
    expect(tileName(chooseGemmTile(lavapipe, { m: 197, n: 192 }))).toBe('64x64k32');
    // Too small to fill 8 workgroups with any tile: the one with the most workgroups, then the least work.
    expect(tileName(chooseGemmTile(lavapipe, { m: 1, n: 64 }))).toBe('64x64k32');
    expect(tileName(chooseGemmTile(lavapipe, { m: 65, n: 57 }))).toBe('64x64k32');
    // B qkv b32, 6304×2304: 900 blocks of 128×128 are 3.4 waves of k8 (2 per SM: 4 waves) and 6.8 of
    // k8p (1 per SM: 7 waves at its few/short speed 1.2): k8p.
    expect(tileName(chooseGemmTile(gpu, { m: 6304, n: 2304, k: 768 }))).toBe('128x128k8p');
    // B fc ×64, 12608×3072, the sweep's largest grid: 18 waves of k8p ('many', 0.71: it lost there,
    // 21.6 vs 30.3 TFLOP/s) against 9 of k8: k8.
    expect(tileName(chooseGemmTile(gpu, { m: 12608, n: 3072, k: 768 }))).toBe('128x128k8');
    // L fc2 b32, 8224×1024, K 4096: 3.9 waves of k8p at its few/long speed 1.3.
    expect(tileName(chooseGemmTile(gpu, { m: 8224, n: 1024, k: 4096 }))).toBe('128x128k8p');
    // Batch 1 (197×768) without split-K: every tile's grid is under one wave, so each costs one wave
    // (perCU workgroups' time): k8p's one block per SM is the least.
    expect(tileName(chooseGemmTile(gpu, { m: 197, n: 768, k: 768 }))).toBe('128x128k8p');
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

  it('wave quantisation: a grid of 1.14 waves costs 2 waves, one of 0.1 wave a whole one', () => {
    const k8 = tileCandidates(gpu).find((c) => tileName(c.tile) === '128x128k8')!;
    const cost = (blocksM: number, blocksN: number) =>
      gemmPlanCost(gpu, k8.model, k8.tile, { m: 128 * blocksM, n: 128 * blocksN, k: 768 }, 1);
    // A wave of 128×128 k8 is 132 SMs × 2 = 264 workgroups.
    expect(cost(50, 6).waves).toBeCloseTo(300 / 264);
    expect(cost(50, 6).us).toBeCloseTo(cost(88, 6).us); // 300 and 528 workgroups: both 2 waves
    expect(cost(265, 1).us).toBeCloseTo(2 * cost(264, 1).us);
    expect(cost(1, 26).us).toBeCloseTo(cost(264, 1).us); // 26 workgroups: one whole wave
    expect(cost(50, 6).shapeClass).toBe('few/short');
    expect(gemmPlanCost(gpu, k8.model, k8.tile, { m: 128, n: 128, k: 4096 }, 1).shapeClass).toBe('few/long');
    // The compute units: assumed 132 (an H200) on a GPU, 8 threads on a CPU, or the traits' own.
    expect(computeUnitsOf(gpu)).toBe(ASSUMED_GPU_COMPUTE_UNITS);
    expect(ASSUMED_GPU_COMPUTE_UNITS).toBe(132);
    expect(computeUnitsOf(lavapipe)).toBe(8);
    expect(gemmPlanCost({ ...gpu, computeUnits: 66 }, k8.model, k8.tile, { m: 128 * 50, n: 768 }, 1).waves).toBeCloseTo(
      300 / 132,
    );
  });

  it('split-K: chosen where the output blocks alone leave the GPU idle (batch 1), not for full grids or on CPUs', () => {
    const split = (t: AdapterTraits, m: number, n: number, k: number) => chooseGemmPlan(t, { m, n, k });
    // Batch 1 of B/16 (M = 197): proj / fc2 (N = 768) give 12 blocks of 128×128 for 132 SMs, fc (N =
    // 3072) 48, qkv (N = 2304) 36: each split until about one wave is full.
    for (const [n, k] of [
      [768, 768],
      [3072, 768],
      [768, 3072],
      [2304, 768],
    ] as const) {
      const p = split(gpu, 197, n, k);
      expect(p.splitK, `197×${n}×${k}`).toBeGreaterThan(1);
      expect(p.waves, `197×${n}×${k}`).toBeLessThanOrEqual(3);
      expect(p.us).toBeLessThan(chooseGemmPlan(gpu, { m: 197, n, k }, { splitK: 1 }).us);
    }
    expect(split(gpu, 197, 768, 768)).toMatchObject({ splitK: 11, waves: 1 });
    // Large grids: no split (B fc b32, B fc ×64, L fc2 b32).
    expect(split(gpu, 6304, 3072, 768).splitK).toBe(1);
    expect(split(gpu, 12608, 3072, 768).splitK).toBe(1);
    expect(split(gpu, 8224, 1024, 4096).splitK).toBe(1);
    // A CPU adapter never splits (COST_MODEL.cpu.maxSplitK: lavapipe's threads each take a run of workgroups).
    expect(COST_MODEL.cpu.maxSplitK).toBe(1);
    expect(split(swiftshader, 197, 768, 768).splitK).toBe(1);
    // The split is bounded by K's steps and by the workspace's binding size.
    expect(split(gpu, 197, 768, 16).splitK).toBe(1); // K = 16: two k-steps of 8 give at most S = 2, not worth a pass
    expect(split({ ...gpu, maxBindingBytes: 197 * 768 * 4 }, 197, 768, 768).splitK).toBe(1);
    // With a tile given (a model's gemmTile), the split for that tile.
    const t32 = GEMM_TILES['32x64k16p']!;
    expect(chooseGemmPlan(gpu, { m: 197, n: 768, k: 768 }, { tile: t32 }).tile).toBe(t32);
    expect(chooseGemmSplit(gpu, { m: 197, n: 768, k: 768 }, t32)).toBeGreaterThanOrEqual(1);
    // K ranges are whole k-steps: K = 300 in 3 ranges of BK = 16 is 7 steps each (the last 6 and 12 values short).
    expect(splitKRange(300, 16, 3)).toBe(112);
    expect(splitKRange(768, 8, 11)).toBe(72);
  });

  it('every default speed and occupancy says where it comes from', () => {
    for (const kind of ['cpu', 'gpu'] as const)
      for (const m of TILE_MODELS[kind]) {
        expect(GEMM_TILES[m.tile], m.tile).toBeDefined();
        expect(m.perCU).toBeGreaterThan(0);
        expect(m.perCUFrom.length, m.tile).toBeGreaterThan(10);
        for (const c of SHAPE_CLASSES) {
          const [speed, from] = m.speeds[c];
          expect(speed, `${m.tile} ${c}`).toBeGreaterThan(0);
          expect(from.length, `${m.tile} ${c}`).toBeGreaterThan(10);
        }
      }
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
    expect(names.slice(0, 3)).toEqual(['gemm texture', 'gemm subgroup', 'gemm tiled per shape']);
    expect(names.slice(3)).toEqual(
      Object.values(GEMM_TILES)
        .filter((t) => tileProblem(LAVAPIPE_LIMITS, t) === null)
        .map((t) => `gemm tiled ${tileName(t)}`),
    );
    expect(gemmTuneCandidates(gpu).every(([n]) => n.startsWith('gemm tiled '))).toBe(true);
    // Each tile alone is timed without a split; the per-shape candidate leaves both to the built-in choice.
    for (const [n, k] of gemmTuneCandidates(gpu))
      expect(k.gemmSplitK, n).toBe(n === 'gemm tiled per shape' ? undefined : 1);
  });

  it("tune's split-K candidates: each SPLIT_K_TUNE count, and the per-shape split, with the fastest tiled choice", () => {
    const tile = GEMM_TILES['128x128k8p']!;
    const c = splitKTuneCandidates({ gemmVariant: 'tiled', gemmTile: tile, gemmSplitK: 1 });
    expect(c.map(([n]) => n)).toEqual([
      ...SPLIT_K_TUNE.map((s) => `gemm tiled 128x128k8p split-K ${s}`),
      'gemm tiled 128x128k8p split-K per shape',
    ]);
    expect(c.map(([, k]) => k.gemmSplitK)).toEqual([...SPLIT_K_TUNE, undefined]);
    for (const [, k] of c) expect(k.gemmTile).toBe(tile);
    expect(splitKTuneCandidates({ gemmVariant: 'tiled' }).map(([n]) => n)).toEqual(
      SPLIT_K_TUNE.map((s) => `gemm tiled per-shape tiles split-K ${s}`),
    );
    expect(splitKTuneCandidates({ gemmVariant: 'texture' })).toEqual([]);
    // A profile stores the split with the tile, and refuses one that is not a count.
    const stored = toStored({ gemmVariant: 'tiled', gemmTile: tile, gemmSplitK: 4 });
    expect(stored).toEqual({ gemmVariant: 'tiled', gemmTile: '128x128k8p', gemmSplitK: 4 });
    expect(fromStored(stored, 'p.json')).toEqual({ gemmVariant: 'tiled', gemmTile: tile, gemmSplitK: 4 });
    expect(() => fromStored({ gemmSplitK: 0 }, 'p.json')).toThrow(/gemmSplitK 0: not one this version knows/);
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
