// The built-in kernel choices as pure functions of what an adapter reports (AdapterTraits) and the
// shape: no device needed, so they are unit-tested as tables (test/kernels/choose.test.ts). The
// per-device functions (gemmVariantFor, attentionVariantFor, gemmTileFor) read the traits and call
// these. A stored tuning profile (`wgsl-vit tune`, src/model/tune.ts) replaces them with choices
// measured on the adapter in hand.
import type { AdapterTraits } from './adapter.js';
import { GEMM_TILES, tileBlock, tileProblem, type GemmTile } from './tiles.js';
import type { AttentionVariant, GemmVariant } from './variants.js';

export type { AdapterTraits };

/**
 * The GEMM a model runs: 'texture' on CPU adapters with 8-lane subgroups (on lavapipe ~2× 'subgroup',
 * which is ~2× 'tiled': bench/results/kernels-*.md), 'tiled' elsewhere (workgroups of 8 starve a GPU).
 */
export function chooseGemmVariant(t: AdapterTraits): GemmVariant {
  // Subgroup matrices (tensor cores, f16 inputs) where the device offers a configuration and they are
  // asked for (AdapterTraits.preferSubgroupMatrix): never measured or run on a GPU yet (docs/gpu.md).
  if (t.subgroupMatrix && t.preferSubgroupMatrix) return 'subgroup_matrix';
  return t.cpu && t.subgroupsOf8 ? 'texture' : 'tiled';
}

/**
 * Workgroup memory attention_flash needs at its largest (head dim 100: BK = 32 keys per block, rows of
 * 25 vec4s; src/wgsl/attention_flash.wgsl, whose other head dims need less). The wrapper computes it
 * per head dim (flashWorkgroupBytes, attention.ts); test/kernels/attention.test.ts checks that this
 * is their maximum over every head dim ≤ 128. Every WebGPU adapter has 16 KiB, lavapipe 32, the H200 48.
 */
export const ATTENTION_FLASH_WORKGROUP_BYTES = 30720;

/**
 * The attention a model runs: on CPU adapters 'texture' (8-lane subgroups) or 'tiled', 'flash'
 * elsewhere where the adapter has the workgroup memory it needs (ATTENTION_FLASH_WORKGROUP_BYTES),
 * else 'broadcast'. On lavapipe 'texture' > 'subgroup' > 'tiled' (bench/results/kernels-*.md); on
 * GPUs 'flash' holds register tiles for Q·Kᵀ and P·V (3–4 FMAs per workgroup-memory float where
 * 'broadcast' does 1) and splits the keys when a batch is too small to fill the GPU; neither is
 * measured on a GPU yet (docs/gpu.md).
 */
export function chooseAttentionVariant(t: AdapterTraits): AttentionVariant {
  if (t.cpu) return t.subgroupsOf8 ? 'texture' : 'tiled';
  return t.limits.maxComputeWorkgroupStorageSize >= ATTENTION_FLASH_WORKGROUP_BYTES ? 'flash' : 'broadcast';
}

/**
 * Workgroups an attention dispatch should have before its keys are not split (CPU: its threads; GPU:
 * about one full wave of 64-invocation workgroups on a large GPU — the H200 has 132 SMs, each holding
 * ~8 such workgroups at ~110 registers per invocation; an estimate, to be measured).
 */
export const ATTENTION_MIN_WORKGROUPS = { cpu: 8, gpu: 1024 } as const;
/** The most key splits attention_flash takes, and the fewest key blocks each split gets (but the last). */
export const ATTENTION_MAX_KEY_SPLITS = 16;
export const ATTENTION_MIN_BLOCKS_PER_SPLIT = 2;

/**
 * How many key ranges attention_flash splits the keys into (1: none, no combine pass), for a dispatch
 * of `workgroups` workgroups (batch × heads × query tiles) over `keyBlocks` key blocks, at most
 * `maxSplits` (what the workspace may hold): none where the dispatch fills the adapter
 * (ATTENTION_MIN_WORKGROUPS); else as many as fill it, each with at least
 * ATTENTION_MIN_BLOCKS_PER_SPLIT key blocks, at most ATTENTION_MAX_KEY_SPLITS. Batch 1 at 448 px /
 * patch 8 (785 tokens, 12 heads: 300 workgroups) gets 4 splits on a GPU; B/16 ×32 (2688) none.
 */
export function chooseAttentionKeySplits(
  t: Pick<AdapterTraits, 'cpu'>,
  s: { workgroups: number; keyBlocks: number; maxSplits?: number },
): number {
  const target = ATTENTION_MIN_WORKGROUPS[t.cpu ? 'cpu' : 'gpu'];
  if (s.workgroups >= target) return 1;
  const n = Math.min(
    Math.ceil(target / s.workgroups),
    Math.floor(s.keyBlocks / ATTENTION_MIN_BLOCKS_PER_SPLIT),
    ATTENTION_MAX_KEY_SPLITS,
    s.maxSplits ?? Infinity,
  );
  return Math.max(1, n);
}

/**
 * Tile candidates with their throughput per output element relative to the first CPU / GPU basis
 * (padding aside), most preferred first:
 * - CPU adapters, relative to 64×64 k32: lavapipe's tile sweep
 *   (bench/results/kernels-2026-11-23T10-55-28-101Z-mesa.md).
 * - GPUs, relative to 128×128 k8: the NVIDIA H200 sweep of 2026-11-30 (docs/gpu.md, before the
 *   register-array rewrite): 128×128 k8p ran 1.3–1.8× 128×128 k8 on every batch-32 shape without
 *   the GELU cliff except one (qkv 13.6 vs 9.5 TFLOP/s, proj 6.3 vs 4.2, fc2 23.9 vs 13.3 and
 *   39.0 vs 30.1; B fc ×64 21.6 vs 30.3), hence 1.4. The 64×64 and 32×64 tiles had no clean
 *   measurement there (64×64 k32 fell off the cliff); their 0.7 and 0.5 are assumptions that only
 *   decide shapes too small for 128×128 to fill the GPU. To be re-measured on the next GPU;
 *   `wgsl-vit tune` measures on the user's.
 */
const TILE_SPEEDS: Record<'cpu' | 'gpu', readonly [string, number][]> = {
  cpu: [
    ['128x128k16', 1.1],
    ['128x64k16', 1.05],
    ['64x64k32', 1],
  ],
  gpu: [
    ['128x128k8p', 1.4],
    ['128x128k8', 1],
    ['64x64k16', 0.7],
    ['32x64k16p', 0.5],
  ],
};
/**
 * Workgroups a dispatch should have to fill the adapter (CPU threads; GPU: ~2 per compute unit of a
 * large GPU, the H200 has 132). Below it the smallest candidate is taken: batch-1 shapes (M = 197)
 * on a GPU get 32×64 blocks (84–336 workgroups) instead of 128×128 (12–48).
 */
const MIN_WORKGROUPS = { cpu: 8, gpu: 256 };

/** The tiles the 'tiled' GEMM may pick on an adapter with these traits (those its limits allow). */
export function tileCandidates(t: AdapterTraits): { tile: GemmTile; speed: number }[] {
  return TILE_SPEEDS[t.cpu ? 'cpu' : 'gpu']
    .map(([n, speed]) => ({ tile: GEMM_TILES[n]!, speed }))
    .filter(({ tile }) => tileProblem(t.limits, tile) === null);
}

/**
 * The tile for an M × N output: among the candidates that give enough workgroups to fill the adapter
 * (CPU ≥ 8, GPU ≥ 256; the smallest tile when none does), the least estimated time — padded output
 * area (a 257-row output in 128-row blocks computes 384 rows) over the tile's relative speed.
 */
export function chooseGemmTile(t: AdapterTraits, shape?: { m: number; n: number }): GemmTile {
  const candidates = tileCandidates(t);
  if (candidates.length === 0) return GEMM_TILES['64x64k32']!;
  if (!shape) return candidates[0]!.tile;
  const minWorkgroups = MIN_WORKGROUPS[t.cpu ? 'cpu' : 'gpu'];
  let best: { tile: GemmTile; cost: number } | null = null;
  for (const { tile, speed } of candidates) {
    const b = tileBlock(tile);
    const rows = Math.ceil(shape.m / b.m),
      cols = Math.ceil(shape.n / b.n);
    if (rows * cols < minWorkgroups) continue;
    const cost = (rows * b.m * cols * b.n) / speed;
    if (!best || cost < best.cost) best = { tile, cost };
  }
  return best ? best.tile : candidates[candidates.length - 1]!.tile;
}
