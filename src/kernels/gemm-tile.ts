// The register-tiled GEMM's tile on a device (the gemm and patch_embed kernels): checked against its
// limits, chosen per shape (choose/choose.ts), launched. The tiles themselves: choose/tiles.ts.
import { KernelArgumentError } from '../errors.js';
import { adapterTraits } from './choose/adapter.js';
import { chooseGemmTile } from './choose/choose.js';
import { tileBlock, tileProblem, type GemmTile } from './choose/tiles.js';

export {
  GEMM_TILES,
  tileBlock,
  tileWorkgroupBytes,
  tileName,
  tileProblem,
  type GemmTile,
  type TileLimits,
} from './choose/tiles.js';

/** Throws a KernelArgumentError unless the device can run `t` (sizes, workgroup limits). */
export function checkTile(device: GPUDevice, kernel: string, t: GemmTile): void {
  const problem = tileProblem(device.limits, t);
  if (problem) throw new KernelArgumentError(kernel, 'tile', problem);
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

/**
 * The tile for an M × N output on `device`: the one set with setGemmTile, else chooseGemmTile
 * (choose/choose.ts: a pure function of the adapter's traits and the shape, its cost model documented there).
 * - CPU adapters: 128×128 k16, 128×64 k16, 64×64 k32 (the fastest per output on lavapipe's ViT-B
 *   MLP GEMMs: bench/results/kernels-2026-11-23T10-55-28-101Z-mesa.md).
 * - Other adapters: 128×128 k8 (8,448 B of workgroup memory, tileWorkgroupBytes; 256 invocations),
 *   128×64 k16, 64×64 k32, with assumed speeds 1.25 / 1.1 / 1: not yet measured on a GPU.
 */
export function gemmTileFor(device: GPUDevice, shape?: { m: number; n: number }): GemmTile {
  return forced.get(device) ?? chooseGemmTile(adapterTraits(device), shape);
}
