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
 * The candidates and their relative speeds (lavapipe's from its kernel benchmark, GPUs' from the
 * one H200 sweep) are written once, in choose/choose.ts.
 */
export function gemmTileFor(device: GPUDevice, shape?: { m: number; n: number }): GemmTile {
  return forced.get(device) ?? chooseGemmTile(adapterTraits(device), shape);
}
