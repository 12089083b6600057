// Workgroup tile shapes of the register-tiled GEMM (src/wgsl/_gemm_tile.wgsl), shared by the gemm
// and patch_embed kernels: their names, sizes and the limits each needs. Pure: the choosing
// (choose.ts) and the wrappers (../gemm-tile.ts: the per-device launch) build on it.
import { wgslConst } from '../program/index.js';
import { gemmWgsl } from '../../wgsl/sources.generated.js';

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
  // 32 invocations (one 32-wide subgroup): small-M shapes on GPUs (batch 1: M = 197–257), where
  // 64-row and larger blocks leave most compute units idle.
  '32x64k32': { wgX: 8, wgY: 4, bk: 32 },
  '32x64k16p': { wgX: 8, wgY: 4, bk: 16, prefetch: true },
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

/** The workgroup limits a tile must fit (a GPUSupportedLimits has them all). */
export type TileLimits = Pick<
  GPUSupportedLimits,
  | 'maxComputeInvocationsPerWorkgroup'
  | 'maxComputeWorkgroupSizeX'
  | 'maxComputeWorkgroupSizeY'
  | 'maxComputeWorkgroupStorageSize'
>;

/** Why a device with `limits` cannot run tile `t` (sizes, workgroup limits, prefetch registers), or null. */
export function tileProblem(limits: TileLimits, t: GemmTile): string | null {
  const ok = (v: number) => Number.isInteger(v) && v > 0;
  if (!ok(t.wgX) || !ok(t.wgY) || !ok(t.bk))
    return `invalid tile ${JSON.stringify(t)}: wgX, wgY, bk must be positive integers`;
  if (
    t.wgX * t.wgY > limits.maxComputeInvocationsPerWorkgroup ||
    t.wgX > limits.maxComputeWorkgroupSizeX ||
    t.wgY > limits.maxComputeWorkgroupSizeY
  )
    return `tile ${tileName(t)} needs ${t.wgX}×${t.wgY} invocations, over this device's workgroup limits`;
  if (t.prefetch) {
    const wg = t.wgX * t.wgY;
    const { m, n } = tileBlock(t);
    const perInvocation = Math.max(Math.ceil((m * t.bk) / 4 / wg), Math.ceil((n * t.bk) / 4 / wg));
    if (perInvocation > MAX_PF)
      return `tile ${tileName(t)} would prefetch ${perInvocation} vec4s per invocation per k-step (at most ${MAX_PF})`;
  }
  const bytes = tileWorkgroupBytes(t);
  if (bytes > limits.maxComputeWorkgroupStorageSize)
    return `tile ${tileName(t)} needs ${bytes} bytes of workgroup memory, over maxComputeWorkgroupStorageSize ${limits.maxComputeWorkgroupStorageSize}`;
  return null;
}
