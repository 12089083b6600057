// The register-tiled GEMM's tile on a device (the gemm and patch_embed kernels): checked against its
// limits, chosen per shape (choose/choose.ts), launched. The tiles themselves: choose/tiles.ts.
import { KernelArgumentError } from '../errors.js';
import { adapterTraits } from './choose/adapter.js';
import { chooseGemmPlan, chooseGemmTile, type GemmShape } from './choose/choose.js';
import { tileBlock, tileProblem, type GemmTile } from './choose/tiles.js';

export {
  GEMM_TILES,
  tileBlock,
  tileBuffers,
  tileQuad,
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
 * How a kernel built on _gemm_tile.wgsl launches for an M × N (× K) output: the tile (the given one,
 * or gemmTileFor's for the shape and split), checked against the device, its override constants and
 * the workgroup grid (split-K: `splitK` workgroups along z, one per K range).
 */
export function tileLaunch(
  device: GPUDevice,
  kernel: string,
  tile: GemmTile | undefined,
  m: number,
  n: number,
  k?: number,
  splitK = 1,
) {
  const t = tile ?? gemmTileFor(device, { m, n, k }, splitK);
  checkTile(device, kernel, t);
  const b = tileBlock(t);
  return {
    tile: t,
    overrides: { WG_X: t.wgX, WG_Y: t.wgY, BK: t.bk },
    workgroups: [Math.ceil(n / b.n), Math.ceil(m / b.m), splitK] as [number, number, number],
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
 * The tile for an M × N (× K) output on `device`, split in `splitK` K ranges (default 1): the one set
 * with setGemmTile, else chooseGemmTile / chooseGemmPlan (choose/choose.ts: pure functions of the
 * adapter's traits and the shape, the cost model documented there). The candidates and their relative
 * speeds per shape class (lavapipe's from its kernel benchmark, GPUs' from the one H200 sweep) are
 * written once, in choose/choose.ts.
 */
export function gemmTileFor(device: GPUDevice, shape?: GemmShape, splitK = 1): GemmTile {
  const f = forced.get(device);
  if (f) return f;
  const traits = adapterTraits(device);
  return shape && splitK > 1 ? chooseGemmPlan(traits, shape, { splitK }).tile : chooseGemmTile(traits, shape);
}
