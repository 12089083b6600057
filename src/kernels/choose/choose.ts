// The built-in kernel choices as pure functions of what an adapter reports (AdapterTraits) and the
// shape: no device needed, so they are unit-tested as tables (test/kernels/choose.test.ts). The
// per-device functions (gemmVariantFor, attentionVariantFor, gemmTileFor) read the traits and call
// these. A stored tuning profile (`wgsl-vit tune`, src/model/tune.ts) replaces them with choices
// measured on the adapter in hand.
import { computeUnitsOf, DEFAULT_MAX_BINDING_BYTES, type AdapterTraits } from './adapter.js';
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

/** A shape class of one tile: its grid in waves ('few' < MANY_WAVES ≤ 'many') and its k range per workgroup. */
export type ShapeClass = `${'few' | 'many'}/${'short' | 'long'}`;
export const SHAPE_CLASSES: readonly ShapeClass[] = ['few/short', 'few/long', 'many/short', 'many/long'];
/**
 * Waves from which a grid is 'many': between the largest grid 128×128 k8p won on in the H200 sweep
 * (B qkv b32: 900 workgroups = 6.8 of its waves) and the one it lost on (B fc ×64: 2376 = 18 waves).
 */
export const MANY_WAVES = 11;
/**
 * k values per workgroup from which a shape is 'long': between the sweep's K = 768 rows (qkv, proj,
 * fc) and its K = 3072 / 4096 rows (fc2), where 128×128 k8p won by the most.
 */
export const LONG_K = 2048;

/** One tile candidate: resident workgroups per compute unit, relative speed per shape class, and where each comes from. */
export interface TileModel {
  readonly tile: string;
  /** Workgroups one compute unit runs side by side (a wave is computeUnits × perCU workgroups). */
  readonly perCU: number;
  readonly perCUFrom: string;
  /** Throughput of full waves of this tile relative to the basis (per adapter kind, below), and its source. */
  readonly speeds: Readonly<Record<ShapeClass, readonly [speed: number, from: string]>>;
}

const all = (speed: number, from: string): Record<ShapeClass, readonly [number, string]> => ({
  'few/short': [speed, from],
  'few/long': [speed, from],
  'many/short': [speed, from],
  'many/long': [speed, from],
});

/**
 * The tile candidates per adapter kind, most preferred first (the first is the default with no shape).
 * - CPU adapters, relative to 64×64 k32: lavapipe's tile sweep
 *   (bench/results/kernels-2026-11-23T10-55-28-101Z-mesa.md), the same in every class (its threads
 *   run one workgroup at a time: no occupancy to change with the grid).
 * - GPUs, relative to 128×128 k8 on B fc ×64 (12608×768→3072, no epilogue: 30.3 TFLOP/s, the
 *   sweep's fastest row without the cliff): the NVIDIA H200 sweep of 2026-11-30 (docs/gpu.md,
 *   before the register-array rewrite), each row's TFLOP/s divided by its wave efficiency
 *   (waves / ⌈waves⌉ at 132 SMs and the perCU below) so that the quantisation the cost counts is not
 *   counted twice. Rows with the erf-GELU epilogue (2.2 TFLOP/s whatever the tile) are left out; the
 *   bias / residual rows at K = 768 (qkv, proj) ran far below the others (0.24–0.37 after the wave
 *   correction, likely the same cliff), so only their k8p / k8 ratios are used.
 */
export const TILE_MODELS: Readonly<Record<'cpu' | 'gpu', readonly TileModel[]>> = {
  cpu: [
    { tile: '128x128k16', perCU: 1, perCUFrom: 'one workgroup per thread', speeds: all(1.1, 'lavapipe sweep') },
    { tile: '128x64k16', perCU: 1, perCUFrom: 'one workgroup per thread', speeds: all(1.05, 'lavapipe sweep') },
    { tile: '64x64k32', perCU: 1, perCUFrom: 'one workgroup per thread', speeds: all(1, 'lavapipe sweep: the basis') },
  ],
  gpu: [
    {
      tile: '128x128k8p',
      perCU: 1,
      perCUFrom:
        'assumed: 64 accumulators + 16 prefetch vec4s likely need > 128 registers, so 256 invocations fill an SM (docs/gpu.md)',
      speeds: {
        'few/short': [
          1.2,
          'B qkv b32 (6.8 waves) 13.6 vs k8 9.5 and B proj b32 (2.3 waves) 6.3 vs 4.2 TFLOP/s: 1.25 and 1.12 × k8 after the wave correction',
        ],
        'few/long': [
          1.3,
          'L fc2 b32 (3.9 waves, K 4096) 39.0 TFLOP/s = 1.31 × the basis; B fc2 b32 (2.3 waves, K 3072) 1.35 × k8 after the wave correction',
        ],
        'many/short': [0.71, 'B fc ×64 (18 waves, K 768) 21.6 vs 30.3 TFLOP/s'],
        'many/long': [1.0, 'not measured: assumed between many/short (0.71) and few/long (1.3)'],
      },
    },
    {
      tile: '128x128k8',
      perCU: 2,
      perCUFrom: 'assumed: ≤ 128 registers per invocation, two 256-invocation workgroups per SM (65536 registers)',
      speeds: {
        'few/short': [1, 'the basis: B fc ×64 (9 waves, K 768) 30.3 TFLOP/s'],
        'few/long': [
          1,
          'L fc2 b32 (2.0 waves, K 4096) 30.1 TFLOP/s at 98 % wave efficiency = 1.01; B fc2 b32 (1.1 waves) gave 0.77',
        ],
        'many/short': [1, 'not measured (no row had ≥ 11 of its waves): assumed as few/short'],
        'many/long': [1, 'not measured: assumed as few/long'],
      },
    },
    {
      tile: '64x64k16',
      perCU: 8,
      perCUFrom: 'assumed: 64 invocations at ≤ 128 registers: 65536 / (64 × 128) = 8 per SM',
      speeds: all(
        0.7,
        'assumed: no clean measurement (64×64 k32 fell off the cliff); a 64×64 block loads 2× the operands per FMA of 128×128',
      ),
    },
    {
      tile: '32x64k16p',
      perCU: 8,
      perCUFrom: 'assumed: 32 invocations at ≤ 255 registers: 65536 / (32 × 255) = 8 per SM',
      speeds: all(0.5, 'assumed: never measured; a 32×64 block loads 3× the operands per FMA of 128×128'),
    },
  ],
};

/**
 * The rate and bandwidth the costs are in, per adapter kind (a cost is µs, so the reduce pass of
 * split-K and the GEMM add up):
 * - fmaPerUs: FMAs one compute unit does per µs at the basis speed. GPU: 30.3 TFLOP/s / 2 / 132 SMs
 *   (the basis row); CPU: lavapipe's tiled GEMM at ~8.9 GFLOP/s on 2 threads (docs/cpu-adapters.md).
 * - bytesPerUs: memory bandwidth of the whole adapter. GPU: the H200's HBM3e, 4.8 TB/s (NVIDIA's
 *   figure; a workspace that stays in its 50 MB L2 is faster, so this overrates the reduce's cost).
 * - passUs: the fixed cost of one more dispatch. GPU: assumed 5 µs (the sweep's timestamps were
 *   quantised to 65.5 µs: never measured).
 * - maxSplitK: the most K ranges. GPU: 16 (the reduce then reads 16 partials per output; the choice
 *   picks fewer where that costs more). CPU: 1, no split-K: lavapipe hands each thread one contiguous
 *   run of a dispatch's workgroups, so a small grid idles few threads, and every extra element stored
 *   and loaded costs ~9 instructions per lane there (docs/cpu-adapters.md).
 * - waves: whether the time is counted in whole waves. GPU: yes. CPU: no — the work spread over
 *   the threads, and a grid with fewer workgroups than threads ranked after every grid that fills
 *   them (the rule before waves were counted: the CPU's thread count is assumed, so its waves
 *   would be guesses, and lavapipe's tile speeds differ by ≤ 10 %).
 */
export const COST_MODEL: Readonly<
  Record<'cpu' | 'gpu', { fmaPerUs: number; bytesPerUs: number; passUs: number; maxSplitK: number; waves: boolean }>
> = {
  cpu: { fmaPerUs: 2225, bytesPerUs: 4000, passUs: 50, maxSplitK: 1, waves: false },
  gpu: { fmaPerUs: 30.3e6 / 2 / 132, bytesPerUs: 4.8e6, passUs: 5, maxSplitK: 16, waves: true },
};

const kindOf = (t: AdapterTraits) => (t.cpu ? 'cpu' : 'gpu');

/** The tiles the 'tiled' GEMM may pick on an adapter with these traits (those its limits allow). */
export function tileCandidates(t: AdapterTraits): { tile: GemmTile; model: TileModel }[] {
  return TILE_MODELS[kindOf(t)]
    .map((model) => ({ tile: GEMM_TILES[model.tile]!, model }))
    .filter(({ tile }) => tileProblem(t.limits, tile) === null);
}

/** A GEMM's shape: M × N outputs, K deep (K absent: a 'short' K of 768 is assumed, the ViTs' width). */
export interface GemmShape {
  readonly m: number;
  readonly n: number;
  readonly k?: number;
}

/** One way to run a GEMM: a tile, the K ranges (1: no split-K), its estimated time and how it was estimated. */
export interface GemmPlan {
  readonly tile: GemmTile;
  readonly splitK: number;
  /** Estimated µs (COST_MODEL's units), the reduce pass included. */
  readonly us: number;
  readonly workgroups: number;
  readonly waves: number;
  readonly shapeClass: ShapeClass;
}

/** k values per workgroup of a K-deep GEMM in `splitK` ranges of whole BK steps (gemm.ts's KS). */
export function splitKRange(k: number, bk: number, splitK: number): number {
  return Math.ceil(Math.ceil(k / bk) / splitK) * bk;
}

/**
 * The estimated time of one tile and split on an adapter:
 *   waves = workgroups / (computeUnits × perCU), workgroups = ⌈M/BM⌉·⌈N/BN⌉·splitK;
 *   GEMM  = ⌈waves⌉ · perCU · BM·BN·kRange / (speed(tile, class) · fmaPerUs)   (CPU: waves, not ⌈waves⌉)
 * — wave quantisation: a grid of 1.14 waves costs 2 waves, one of 0.1 waves a whole one (a compute
 * unit with fewer resident workgroups is assumed no faster per workgroup: latency-bound) — plus, for
 * a split, the workspace's traffic ((2·splitK + 2)·M·N·4 bytes: the slices written and read, y read
 * and written) over bytesPerUs and one more pass (passUs).
 */
export function gemmPlanCost(
  t: AdapterTraits,
  model: TileModel,
  tile: GemmTile,
  shape: GemmShape,
  splitK: number,
): GemmPlan {
  const cost = COST_MODEL[kindOf(t)];
  const b = tileBlock(tile);
  const k = shape.k ?? 768;
  const kRange = splitKRange(k, tile.bk, splitK);
  const workgroups = Math.ceil(shape.m / b.m) * Math.ceil(shape.n / b.n) * splitK;
  const waves = workgroups / (computeUnitsOf(t) * model.perCU);
  const shapeClass: ShapeClass = `${waves >= MANY_WAVES ? 'many' : 'few'}/${kRange >= LONG_K ? 'long' : 'short'}`;
  const [speed] = model.speeds[shapeClass];
  const rounds = cost.waves ? Math.ceil(waves) : workgroups / (computeUnitsOf(t) * model.perCU);
  let us = (rounds * model.perCU * b.m * b.n * kRange) / (speed * cost.fmaPerUs);
  if (splitK > 1) us += ((2 * splitK + 2) * shape.m * shape.n * 4) / cost.bytesPerUs + cost.passUs;
  return { tile, splitK, us, workgroups, waves, shapeClass };
}

/** The largest split-K of a shape on `t`: COST_MODEL's maxSplitK, K's BK steps, and a workspace within one binding. */
function maxSplitFor(t: AdapterTraits, tile: GemmTile, shape: GemmShape): number {
  const bytes = shape.m * shape.n * 4;
  const byMemory = Math.floor((t.maxBindingBytes ?? DEFAULT_MAX_BINDING_BYTES) / bytes);
  return Math.max(1, Math.min(COST_MODEL[kindOf(t)].maxSplitK, Math.ceil((shape.k ?? 768) / tile.bk), byMemory));
}

/**
 * The least estimated time (gemmPlanCost) over the candidate tiles (or `fixed.tile`) and split-K
 * counts 1 … maxSplitK (or `fixed.splitK`; a split is bounded by K's steps and the workspace by one
 * binding): the built-in choice of a GEMM's tile and split.
 */
export function chooseGemmPlan(
  t: AdapterTraits,
  shape: GemmShape,
  fixed: { tile?: GemmTile; splitK?: number } = {},
): GemmPlan {
  const candidates = tileCandidates(t);
  const models = fixed.tile
    ? [{ tile: fixed.tile, model: candidates.find((c) => c.tile === fixed.tile)?.model ?? nearestModel(t, fixed.tile) }]
    : candidates.length > 0
      ? candidates
      : [{ tile: GEMM_TILES['64x64k32']!, model: nearestModel(t, GEMM_TILES['64x64k32']!) }];
  // Without waves (CPU adapters), a grid that leaves threads idle ranks after every one that does
  // not, and among such grids the one with more workgroups first.
  const idle = (p: GemmPlan) => !COST_MODEL[kindOf(t)].waves && p.workgroups < computeUnitsOf(t);
  const better = (p: GemmPlan, q: GemmPlan) =>
    idle(p) !== idle(q)
      ? idle(q)
      : idle(p) && p.workgroups !== q.workgroups
        ? p.workgroups > q.workgroups
        : p.us < q.us;
  let best: GemmPlan | null = null;
  for (const { tile, model } of models) {
    const splits = fixed.splitK ? [fixed.splitK] : Array.from({ length: maxSplitFor(t, tile, shape) }, (_, i) => i + 1);
    for (const s of splits) {
      const p = gemmPlanCost(t, model, tile, shape, s);
      if (!best || better(p, best)) best = p;
    }
  }
  return best!;
}

/** The model of a tile outside the candidates (one given by the caller): its block size's candidate, else the last. */
function nearestModel(t: AdapterTraits, tile: GemmTile): TileModel {
  const list = TILE_MODELS[kindOf(t)];
  const b = tileBlock(tile);
  return (
    list.find((m) => {
      const c = tileBlock(GEMM_TILES[m.tile]!);
      return c.m === b.m && c.n === b.n && (GEMM_TILES[m.tile]!.prefetch ?? false) === (tile.prefetch ?? false);
    }) ?? list[list.length - 1]!
  );
}

/**
 * The tile for an M × N (× K) output without split-K: the least estimated time (chooseGemmPlan with
 * splitK 1: wave-quantised padded work over the tile's speed in the shape's class); no shape: the
 * first candidate.
 */
export function chooseGemmTile(t: AdapterTraits, shape?: GemmShape): GemmTile {
  const candidates = tileCandidates(t);
  if (candidates.length === 0) return GEMM_TILES['64x64k32']!;
  if (!shape) return candidates[0]!.tile;
  return chooseGemmPlan(t, shape, { splitK: 1 }).tile;
}

/**
 * The split-K count for a GEMM run with the 'tiled' variant (1: none): chooseGemmPlan's, with the
 * tile fixed when one is given (a model's `gemmTile`).
 */
export function chooseGemmSplit(t: AdapterTraits, shape: GemmShape, tile?: GemmTile): number {
  return chooseGemmPlan(t, shape, tile ? { tile } : {}).splitK;
}
