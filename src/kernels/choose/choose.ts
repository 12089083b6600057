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
  // Subgroup matrices (tensor cores) where the device offers an f16 configuration: not yet measured on a GPU (docs/gpu.md).
  if (t.subgroupMatrix) return 'subgroup_matrix';
  return t.cpu && t.subgroupsOf8 ? 'texture' : 'tiled';
}

/**
 * The attention a model runs: on CPU adapters 'texture' (8-lane subgroups) or 'tiled', 'broadcast'
 * elsewhere. On lavapipe 'texture' > 'subgroup' > 'tiled' (bench/results/kernels-*.md); on GPUs
 * 'broadcast' reads each key once per workgroup from workgroup memory (not yet measured on a GPU).
 */
export function chooseAttentionVariant(t: AdapterTraits): AttentionVariant {
  return t.cpu ? (t.subgroupsOf8 ? 'texture' : 'tiled') : 'broadcast';
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
