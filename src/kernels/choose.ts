// The built-in kernel choices as pure functions of what an adapter reports (AdapterTraits) and the
// shape: no device needed, so they are unit-tested as tables (test/kernels/choose.test.ts). The
// per-device functions (gemmVariantFor, attentionVariantFor, gemmTileFor) read the traits and call
// these. A stored tuning profile (`wgsl-vit tune`, src/model/tune.ts) replaces them with choices
// measured on the adapter in hand.
import type { AttentionVariant } from './attention.js';
import type { GemmVariant } from './gemm.js';
import { GEMM_TILES, tileBlock, tileProblem, type GemmTile, type TileLimits } from './gemm-tile.js';

/** What the choices depend on: the kind of adapter, its subgroup size, its workgroup limits. */
export interface AdapterTraits {
  /** A CPU implementation (Mesa lavapipe/llvmpipe, SwiftShader). */
  readonly cpu: boolean;
  /** The subgroups feature with exactly 8 lanes (what the CPU-adapter kernels assume). */
  readonly subgroupsOf8: boolean;
  readonly limits: TileLimits;
}

/**
 * The GEMM a model runs: 'texture' on CPU adapters with 8-lane subgroups (on lavapipe ~2× 'subgroup',
 * which is ~2× 'tiled': bench/results/kernels-*.md), 'tiled' elsewhere (workgroups of 8 starve a GPU).
 */
export function chooseGemmVariant(t: AdapterTraits): GemmVariant {
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
 * Tile candidates with their throughput per output element relative to 64×64 k32 (padding aside):
 * on CPU adapters from lavapipe's tile sweep (bench/results/kernels-2026-11-23T10-55-28-101Z-mesa.md);
 * on GPUs assumed, not yet measured (larger blocks read less per FMA) — `wgsl-vit tune` measures.
 */
const TILE_SPEEDS: Record<'cpu' | 'gpu', readonly [string, number][]> = {
  cpu: [
    ['128x128k16', 1.1],
    ['128x64k16', 1.05],
    ['64x64k32', 1],
  ],
  gpu: [
    ['128x128k8', 1.25],
    ['128x64k16', 1.1],
    ['64x64k32', 1],
  ],
};
/** Workgroups a dispatch should have to fill the adapter (CPU threads, GPU compute units). */
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
