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
  /**
   * Copies of the workgroup tiles (gemm only): 2 alternates them per k-step (one barrier per k-step
   * instead of two), 1 keeps one. Unset: 2 where twice tileWorkgroupBytes fits the device's
   * maxComputeWorkgroupStorageSize, else 1 (tileBuffers). Set to 2 on a device without the room, the
   * tile is refused (tileProblem).
   */
  readonly buffers?: 1 | 2;
}

/**
 * The tiles worth trying (`npm run bench:kernels -- --tiles all` times each on this adapter). The
 * `p` (prefetch) tiles are slower than their plain twins on lavapipe, which has no asynchronous
 * loads to overlap (bench/results/kernels-2026-11-23T10-55-28-101Z-mesa.md); they are here for GPUs.
 */
//
// Live values per invocation in gemm.wgsl's k loop (32-bit values; what the code keeps live, not a
// compiler's register count): 64 accumulators (acc, 16 vec4) + 16 product operands (a0, a1, b0, b1)
// + ~13 scalars (m0, n0, tx, ty, lid, kb, ke, k0, buf, inside, M, N, K) = 93 for every tile, plus
// the prefetch registers of the `p` tiles, live across the product (XL + WL vec4s in the 4×1
// staging form, 4·(XL + WL) in the 4×4 one, which tileQuad allows only where that is no more).
// Two copies of the workgroup tiles add one scalar (buf), no registers. The staging of a plain tile
// (≤ 8 vec4s in the 4×4 form: 4 row quads, 4 transposed) is dead before the product starts; the
// store adds 2 bias vec4s (+ 2 q8 scale vec4s) while the accumulators drain.
//   tile        invocations  prefetch (values)  live in the loop
//   64x64k32    64           0                  ~93
//   64x64k16    64           0                  ~93
//   128x64k16   128          0                  ~93
//   64x128k16   128          0                  ~93
//   128x128k8   256          0                  ~93
//   128x128k16  256          0                  ~93
//   64x64k32p   64           64 (16 vec4)       ~157
//   128x64k16p  128          24 (4 + 2 vec4)    ~117
//   128x128k8p  256          8 (1 + 1 vec4)     ~101
//   32x64k32    32           0                  ~93
//   32x64k16p   32           48 (4 + 8 vec4)    ~141
//   256x128k8   512          0                  ~93
//   128x256k8   512          0                  ~93
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

/**
 * Bytes of workgroup memory the tile needs (both k-major staging arrays, one vec4 of padding per
 * k-row), times `buffers` copies (default: the tile's own `buffers`, else 1).
 */
export function tileWorkgroupBytes(t: GemmTile, buffers: 1 | 2 = t.buffers ?? 1): number {
  const { m, n } = tileBlock(t);
  return buffers * 16 * t.bk * (m / 4 + 1 + n / 4 + 1);
}

/**
 * The copies of the workgroup tiles gemm.wgsl uses for `t` on a device with `limits` (its BUFFERS
 * override): the tile's `buffers`, else 2 where both copies fit maxComputeWorkgroupStorageSize, else 1.
 * At the 32 KiB most GPUs (and lavapipe) offer, every GEMM_TILES entry gets 2 except 64x64k32(p)
 * and 128x128k16 (17–17.4 KB single, over 32 KiB doubled); at WebGPU's 16 KiB default, none does.
 */
export function tileBuffers(limits: Pick<TileLimits, 'maxComputeWorkgroupStorageSize'>, t: GemmTile): 1 | 2 {
  if (t.buffers) return t.buffers;
  return tileWorkgroupBytes(t, 2) <= limits.maxComputeWorkgroupStorageSize ? 2 : 1;
}

/**
 * Whether gemm.wgsl stages `t`'s tiles in 4-row × 4-k units (its QUAD override: 4 consecutive k per
 * row read, one word per 4 values for q8, two for f16) for a reduction length K: K % 4 == 0, and
 * only where each operand has at least one unit per invocation (BM·BK/16 and BN·BK/16 ≥ WG), so
 * no invocation idles while others stage and a prefetch tile holds no more registers than with
 * 4×1 units. Of GEMM_TILES: 64x64k32(p), 64x64k16, 32x64k32, 32x64k16p. The others (128 or more
 * invocations at BK 8–16) had a quarter to a half of their invocations stage 4×4 units, and ran
 * up to 12 % slower on lavapipe (its SIMD lanes are invocations) than with 4×1 units.
 */
export function tileQuad(t: GemmTile, K: number): boolean {
  if (K % 4 !== 0) return false;
  const wg = t.wgX * t.wgY;
  const { m, n } = tileBlock(t);
  const [xu, wu] = [(m * t.bk) / 16, (n * t.bk) / 16];
  // A prefetch tile: whole units per invocation, so 4·⌈units/WG⌉ vec4s are no more than the 4×1 form's.
  if (t.prefetch && (xu % wg !== 0 || wu % wg !== 0)) return false;
  return xu >= wg && wu >= wg;
}

/** Prefetch vec4s per operand (the larger of x's and w's) per invocation, 4×1 staging (4×4: tileQuad's tiles hold as many). */
function prefetchRegisters(t: GemmTile): number {
  const wg = t.wgX * t.wgY;
  const { m, n } = tileBlock(t);
  return Math.max(Math.ceil((m * t.bk) / 4 / wg), Math.ceil((n * t.bk) / 4 / wg));
}

/**
 * Name of a tile, as in GEMM_TILES ('128x64k16' = 128 rows × 64 columns, k step 16; 'p': prefetch;
 * 'b1' / 'b2': `buffers` set, which the GEMM_TILES entries leave to tileBuffers).
 */
export function tileName(t: GemmTile): string {
  const b = tileBlock(t);
  return `${b.m}x${b.n}k${t.bk}${t.prefetch ? 'p' : ''}${t.buffers ? `b${t.buffers}` : ''}`;
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
  if (t.bk % 4 !== 0) return `invalid tile ${JSON.stringify(t)}: bk must be a multiple of 4 (4-k staging units)`;
  if (t.buffers !== undefined && t.buffers !== 1 && t.buffers !== 2)
    return `invalid tile ${JSON.stringify(t)}: buffers must be 1 or 2`;
  if (
    t.wgX * t.wgY > limits.maxComputeInvocationsPerWorkgroup ||
    t.wgX > limits.maxComputeWorkgroupSizeX ||
    t.wgY > limits.maxComputeWorkgroupSizeY
  )
    return `tile ${tileName(t)} needs ${t.wgX}×${t.wgY} invocations, over this device's workgroup limits`;
  if (t.prefetch) {
    const perInvocation = prefetchRegisters(t);
    if (perInvocation > MAX_PF)
      return `tile ${tileName(t)} would prefetch ${perInvocation} vec4s per invocation per k-step (at most ${MAX_PF})`;
  }
  // Both copies where `buffers` is 2 (an unset `buffers` falls back to 1 where 2 do not fit: tileBuffers).
  const bytes = tileWorkgroupBytes(t);
  if (bytes > limits.maxComputeWorkgroupStorageSize)
    return `tile ${tileName(t)} needs ${bytes} bytes of workgroup memory${t.buffers === 2 ? ' (2 copies)' : ''}, over maxComputeWorkgroupStorageSize ${limits.maxComputeWorkgroupStorageSize}`;
  return null;
}
