// Workgroup tile shapes of the register-tiled GEMM (src/wgsl/_gemm_tile.wgsl), shared by the gemm
// and patch_embed kernels, and the choice of one per device.
import { KernelArgumentError } from '../errors.js';
import { isCpuAdapter } from './adapter-kind.js';

/**
 * One workgroup tile: wgX × wgY invocations, 8×8 outputs each, so the block of the output is
 * (8·wgY) rows × (8·wgX) columns; k advances `bk` at a time through workgroup memory.
 */
export interface GemmTile {
  readonly wgX: number;
  readonly wgY: number;
  readonly bk: number;
}

/** The tiles worth trying (`npm run bench:kernels -- --tiles all` times each on this adapter). */
export const GEMM_TILES: Readonly<Record<string, GemmTile>> = {
  '64x64k32': { wgX: 8, wgY: 8, bk: 32 },
  '64x64k16': { wgX: 8, wgY: 8, bk: 16 },
  '128x64k16': { wgX: 8, wgY: 16, bk: 16 },
  '64x128k16': { wgX: 16, wgY: 8, bk: 16 },
  '128x128k8': { wgX: 16, wgY: 16, bk: 8 },
  '128x128k16': { wgX: 16, wgY: 16, bk: 16 },
};

/** Rows and columns of the output one workgroup computes. */
export function tileBlock(t: GemmTile): { m: number; n: number } {
  return { m: 8 * t.wgY, n: 8 * t.wgX };
}

/** Bytes of workgroup memory the tile needs (both k-major staging arrays, one vec4 of padding per k-row). */
export function tileWorkgroupBytes(t: GemmTile): number {
  return 16 * t.bk * (2 * t.wgY + 1 + 2 * t.wgX + 1);
}

/** Name of a tile, as in GEMM_TILES ('128x64k16' = 128 rows × 64 columns, k step 16). */
export function tileName(t: GemmTile): string {
  const b = tileBlock(t);
  return `${b.m}x${b.n}k${t.bk}`;
}

/** Throws a KernelArgumentError unless the device can run `t` (sizes, workgroup limits). */
export function checkTile(device: GPUDevice, kernel: string, t: GemmTile): void {
  const ok = (v: number) => Number.isInteger(v) && v > 0;
  if (!ok(t.wgX) || !ok(t.wgY) || !ok(t.bk)) {
    throw new KernelArgumentError(kernel, 'tile', `invalid tile ${JSON.stringify(t)}: wgX, wgY, bk must be positive integers`);
  }
  const l = device.limits;
  if (t.wgX * t.wgY > l.maxComputeInvocationsPerWorkgroup || t.wgX > l.maxComputeWorkgroupSizeX || t.wgY > l.maxComputeWorkgroupSizeY) {
    throw new KernelArgumentError(kernel, 'tile', `tile ${tileName(t)} needs ${t.wgX}×${t.wgY} invocations, over this device's workgroup limits`);
  }
  const bytes = tileWorkgroupBytes(t);
  if (bytes > l.maxComputeWorkgroupStorageSize) {
    throw new KernelArgumentError(kernel, 'tile', `tile ${tileName(t)} needs ${bytes} bytes of workgroup memory, over maxComputeWorkgroupStorageSize ${l.maxComputeWorkgroupStorageSize}`);
  }
}

const forced = new WeakMap<GPUDevice, GemmTile>();

/** Makes the gemm and patch_embed kernels use tile `t` on `device` for every shape (null: back to the per-shape choice). */
export function setGemmTile(device: GPUDevice, t: GemmTile | null): void {
  if (t === null) {
    forced.delete(device);
    return;
  }
  checkTile(device, 'gemm', t);
  forced.set(device, t);
}

interface TilePolicy { readonly candidates: readonly GemmTile[]; readonly minWorkgroups: number }
const policies = new WeakMap<GPUDevice, TilePolicy>();

function policyFor(device: GPUDevice): TilePolicy {
  let p = policies.get(device);
  if (!p) {
    const cpu = isCpuAdapter(device);
    const names = cpu ? ['128x128k16', '128x64k16', '64x64k32'] : ['128x128k8', '128x64k16', '64x64k32'];
    const candidates = names.map((n) => GEMM_TILES[n]!).filter((t) => {
      try {
        checkTile(device, 'gemm', t);
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
 * The tile for an M × N output on `device`: the one set with setGemmTile, else the largest of the
 * adapter's candidates that still gives enough workgroups to fill the device (the smallest when
 * none does). Larger blocks read less per FMA; smaller ones spread a small matrix over more cores.
 * - CPU adapters: 128×128 k16, 128×64 k16, 64×64 k32, at least 8 workgroups. On lavapipe (2 cores,
 *   `npm run bench:kernels -- --tiles all`): 128×128 k16 is 8–14% faster than 64×64 k32 on the
 *   ViT-B MLP GEMMs; on ViT-Ti's 197-row GEMMs the tiles are within 10% once 8 workgroups exist.
 * - Other adapters: 128×128 k8 (16 KiB of workgroup memory, 256 invocations), 128×64 k16, 64×64 k32,
 *   at least 256 workgroups (about two per compute unit of a large GPU). Not yet measured on a GPU.
 */
export function gemmTileFor(device: GPUDevice, shape?: { m: number; n: number }): GemmTile {
  const set = forced.get(device);
  if (set) return set;
  const { candidates, minWorkgroups } = policyFor(device);
  const fallback = GEMM_TILES['64x64k32']!;
  if (candidates.length === 0) return fallback;
  if (!shape) return candidates[0]!;
  for (const t of candidates) {
    const b = tileBlock(t);
    if (Math.ceil(shape.m / b.m) * Math.ceil(shape.n / b.n) >= minWorkgroups) return t;
  }
  return candidates[candidates.length - 1]!;
}
