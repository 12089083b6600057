// Workgroup tile shapes of the register-tiled GEMM (src/wgsl/_gemm_tile.wgsl), shared by the gemm
// and patch_embed kernels, and the choice of one per device.
import { KernelArgumentError } from '../errors.js';
import { isCpuAdapter } from './adapter-kind.js';
import { wgslConst } from './program.js';
import { gemmWgsl } from '../wgsl/sources.generated.js';

/**
 * One workgroup tile: wgX × wgY invocations, 8×8 outputs each, so the block of the output is
 * (8·wgY) rows × (8·wgX) columns; k advances `bk` at a time through workgroup memory.
 */
export interface GemmTile {
  readonly wgX: number;
  readonly wgY: number;
  readonly bk: number;
  /**
   * Register double buffering (gemm only; patch_embed ignores it): the next k-step's tiles are
   * loaded into registers while the current one is multiplied. Each invocation may stage at most
   * 8 vec4s of x and 8 of w per k-step.
   */
  readonly prefetch?: boolean;
}

/**
 * The tiles worth trying (`npm run bench:kernels -- --tiles all` times each on this adapter). The
 * `p` (prefetch) tiles are slower than their plain twins on lavapipe, which has no asynchronous
 * loads to overlap (bench/results/kernels-2026-11-23T10-55-28-101Z-mesa.md); they are here for GPUs.
 */
export const GEMM_TILES: Readonly<Record<string, GemmTile>> = {
  '64x64k32': { wgX: 8, wgY: 8, bk: 32 },
  '64x64k16': { wgX: 8, wgY: 8, bk: 16 },
  '128x64k16': { wgX: 8, wgY: 16, bk: 16 },
  '64x128k16': { wgX: 16, wgY: 8, bk: 16 },
  '128x128k8': { wgX: 16, wgY: 16, bk: 8 },
  '128x128k16': { wgX: 16, wgY: 16, bk: 16 },
  '64x64k32p': { wgX: 8, wgY: 8, bk: 32, prefetch: true },
  '128x64k16p': { wgX: 8, wgY: 16, bk: 16, prefetch: true },
  '128x128k8p': { wgX: 16, wgY: 16, bk: 8, prefetch: true },
  // 512 invocations: for GPUs with room for one such workgroup per compute unit.
  '256x128k8': { wgX: 16, wgY: 32, bk: 8 },
  '128x256k8': { wgX: 32, wgY: 16, bk: 8 },
};

// Read from the GEMM's WGSL (_gemm_tile.wgsl, gemm.wgsl), not restated.
const GEMM_WGSL = { name: 'gemm', wgsl: gemmWgsl };
/** Output rows (and columns) per invocation: the 8×8 register block of _gemm_tile.wgsl. */
const PER_INVOCATION = wgslConst(GEMM_WGSL, 'PER_INVOCATION');
/** Most vec4s of x (or w) one invocation may prefetch per k-step (gemm.wgsl's register arrays). */
const MAX_PF = wgslConst(GEMM_WGSL, 'MAX_PF');

/** Rows and columns of the output one workgroup computes. */
export function tileBlock(t: GemmTile): { m: number; n: number } {
  return { m: PER_INVOCATION * t.wgY, n: PER_INVOCATION * t.wgX };
}

/** Bytes of workgroup memory the tile needs (both k-major staging arrays, one vec4 of padding per k-row). */
export function tileWorkgroupBytes(t: GemmTile): number {
  const { m, n } = tileBlock(t);
  return 16 * t.bk * (m / 4 + 1 + n / 4 + 1);
}

/** Name of a tile, as in GEMM_TILES ('128x64k16' = 128 rows × 64 columns, k step 16; 'p': prefetch). */
export function tileName(t: GemmTile): string {
  const b = tileBlock(t);
  return `${b.m}x${b.n}k${t.bk}${t.prefetch ? 'p' : ''}`;
}

/** Throws a KernelArgumentError unless the device can run `t` (sizes, workgroup limits). */
export function checkTile(device: GPUDevice, kernel: string, t: GemmTile): void {
  const ok = (v: number) => Number.isInteger(v) && v > 0;
  if (!ok(t.wgX) || !ok(t.wgY) || !ok(t.bk)) {
    throw new KernelArgumentError(
      kernel,
      'tile',
      `invalid tile ${JSON.stringify(t)}: wgX, wgY, bk must be positive integers`,
    );
  }
  const l = device.limits;
  if (
    t.wgX * t.wgY > l.maxComputeInvocationsPerWorkgroup ||
    t.wgX > l.maxComputeWorkgroupSizeX ||
    t.wgY > l.maxComputeWorkgroupSizeY
  ) {
    throw new KernelArgumentError(
      kernel,
      'tile',
      `tile ${tileName(t)} needs ${t.wgX}×${t.wgY} invocations, over this device's workgroup limits`,
    );
  }
  if (t.prefetch) {
    const wg = t.wgX * t.wgY;
    const { m, n } = tileBlock(t);
    const perInvocation = Math.max(Math.ceil((m * t.bk) / 4 / wg), Math.ceil((n * t.bk) / 4 / wg));
    if (perInvocation > MAX_PF) {
      throw new KernelArgumentError(
        kernel,
        'tile',
        `tile ${tileName(t)} would prefetch ${perInvocation} vec4s per invocation per k-step (at most ${MAX_PF})`,
      );
    }
  }
  const bytes = tileWorkgroupBytes(t);
  if (bytes > l.maxComputeWorkgroupStorageSize) {
    throw new KernelArgumentError(
      kernel,
      'tile',
      `tile ${tileName(t)} needs ${bytes} bytes of workgroup memory, over maxComputeWorkgroupStorageSize ${l.maxComputeWorkgroupStorageSize}`,
    );
  }
}

/**
 * How a kernel built on _gemm_tile.wgsl launches for an M × N output: the tile (the given one, or
 * gemmTileFor's), checked against the device, its override constants and the workgroup grid.
 */
export function tileLaunch(device: GPUDevice, kernel: string, tile: GemmTile | undefined, m: number, n: number) {
  const t = tile ?? gemmTileFor(device, { m, n });
  checkTile(device, kernel, t);
  const b = tileBlock(t);
  return {
    tile: t,
    overrides: { WG_X: t.wgX, WG_Y: t.wgY, BK: t.bk },
    workgroups: [Math.ceil(n / b.n), Math.ceil(m / b.m)] as [number, number],
  };
}

const forced = new WeakMap<GPUDevice, GemmTile>();

/**
 * Makes the gemm and patch_embed kernels use tile `t` on `device` for every shape (null: back to the per-shape choice).
 * @deprecated A device-wide hidden setting: pass `tile` to a kernel call, or `kernels: { gemmTile }` to a model's load.
 */
export function setGemmTile(device: GPUDevice, t: GemmTile | null): void {
  if (t === null) {
    forced.delete(device);
    return;
  }
  checkTile(device, 'gemm', t);
  forced.set(device, t);
}

interface TilePolicy {
  /** Candidates with their throughput per output element relative to 64×64 k32 (padding aside). */
  readonly candidates: readonly { tile: GemmTile; speed: number }[];
  readonly minWorkgroups: number;
}
const policies = new WeakMap<GPUDevice, TilePolicy>();

function policyFor(device: GPUDevice): TilePolicy {
  let p = policies.get(device);
  if (!p) {
    const cpu = isCpuAdapter(device);
    // CPU speeds: lavapipe's per-output throughput relative to 64×64 k32, from the tile sweep
    // (bench/results/kernels-2026-11-23T10-55-28-101Z-mesa.md). GPU speeds: assumed, not yet measured (larger blocks read less per FMA); the GPU
    // run's tile sweep is meant to replace them.
    const table: [string, number][] = cpu
      ? [
          ['128x128k16', 1.1],
          ['128x64k16', 1.05],
          ['64x64k32', 1],
        ]
      : [
          ['128x128k8', 1.25],
          ['128x64k16', 1.1],
          ['64x64k32', 1],
        ];
    const candidates = table
      .map(([n, speed]) => ({ tile: GEMM_TILES[n]!, speed }))
      .filter(({ tile }) => {
        try {
          checkTile(device, 'gemm', tile);
          return true;
        } catch {
          return false;
        }
      });
    p = { candidates, minWorkgroups: cpu ? 8 : 256 };
    policies.set(device, p);
  }
  return p;
}

/**
 * The tile for an M × N output on `device`: the one set with setGemmTile, else, among the adapter's
 * candidates that give enough workgroups to fill the device (CPU adapters ≥ 8, GPUs ≥ 256; the
 * smallest tile when none does), the one with the least estimated time: padded output area (a
 * 257-row output in 128-row blocks computes 384 rows) over the tile's relative speed.
 * - CPU adapters: 128×128 k16, 128×64 k16, 64×64 k32 (the fastest per output on lavapipe's ViT-B
 *   MLP GEMMs: bench/results/kernels-2026-11-23T10-55-28-101Z-mesa.md).
 * - Other adapters: 128×128 k8 (8,448 B of workgroup memory, tileWorkgroupBytes; 256 invocations),
 *   128×64 k16, 64×64 k32, with assumed speeds 1.25 / 1.1 / 1: not yet measured on a GPU.
 */
export function gemmTileFor(device: GPUDevice, shape?: { m: number; n: number }): GemmTile {
  const set = forced.get(device);
  if (set) return set;
  const { candidates, minWorkgroups } = policyFor(device);
  if (candidates.length === 0) return GEMM_TILES['64x64k32']!;
  if (!shape) return candidates[0]!.tile;
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
