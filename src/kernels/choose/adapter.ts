// The traits of an adapter the built-in choices depend on (choose.ts), read from a device.
import { envVar } from '../../env.js';
import { hasSubgroupsOf8, isCpuAdapter } from '../program/device-traits.js';
import { subgroupMatrixConfigFor, type SubgroupMatrixConfig } from './subgroup-matrix.js';
import type { TileLimits } from './tiles.js';

export { hasSubgroupsOf8, isCpuAdapter };

/**
 * Compute units (NVIDIA SMs, AMD CUs, Apple GPU cores) assumed for a GPU: WebGPU reports no count, so
 * the tile and split-K choices (choose.ts) assume the one GPU this project has measured, an NVIDIA
 * H200 with 132 SMs (docs/gpu.md). A GPU with fewer fills its waves sooner, which the choice then
 * underrates; `wgsl-vit tune` measures on the GPU in hand.
 */
export const ASSUMED_GPU_COMPUTE_UNITS = 132;
/**
 * Threads assumed for a CPU adapter (lavapipe runs one workgroup per thread at a time, its threads =
 * the CPUs by default): a grid of fewer workgroups leaves threads idle and ranks after the grids
 * that fill them (choose.ts; the minimum of 8 workgroups the choice had before it counted waves).
 */
export const ASSUMED_CPU_THREADS = 8;
/** WebGPU's default maxStorageBufferBindingSize (128 MiB): the largest split-K workspace where traits do not say. */
export const DEFAULT_MAX_BINDING_BYTES = 134217728;

/** What the choices depend on: the kind of adapter, its subgroup size, its workgroup limits. */
export interface AdapterTraits {
  /** A CPU implementation (Mesa lavapipe/llvmpipe, SwiftShader). */
  readonly cpu: boolean;
  /** The subgroups feature with exactly 8 lanes (what the CPU-adapter kernels assume). */
  readonly subgroupsOf8: boolean;
  readonly limits: TileLimits;
  /**
   * The subgroup-matrix configuration the 'subgroup_matrix' GEMM would use (chooseSubgroupMatrixConfig),
   * or null / absent where the device has no chromium-experimental-subgroup-matrix (or no config fits).
   */
  readonly subgroupMatrix?: SubgroupMatrixConfig | null;
  /**
   * Whether the built-in choice takes the 'subgroup_matrix' GEMM where the device has it: only when
   * asked (WGSL_VIT_SUBGROUP_MATRIX=on). Its inputs are rounded to f16, so an fp32 model would lose
   * precision without being asked; and no GPU has run it yet (docs/gpu.md).
   */
  readonly preferSubgroupMatrix?: boolean;
  /** Compute units (CPU: threads) workgroups run on side by side; default computeUnitsOf's assumption. */
  readonly computeUnits?: number;
  /** The largest storage binding (bytes): bounds a split-K workspace; default DEFAULT_MAX_BINDING_BYTES. */
  readonly maxBindingBytes?: number;
}

/** The environment variable whose `on` makes the built-in choice take the subgroup-matrix GEMM (src/device.ts reads it too). */
const SUBGROUP_MATRIX_ENV = 'WGSL_VIT_SUBGROUP_MATRIX';

/** The compute units of `t`: its own count, else ASSUMED_GPU_COMPUTE_UNITS (GPU) or ASSUMED_CPU_THREADS (CPU). */
export function computeUnitsOf(t: AdapterTraits): number {
  return t.computeUnits ?? (t.cpu ? ASSUMED_CPU_THREADS : ASSUMED_GPU_COMPUTE_UNITS);
}

/** What the built-in kernel choices depend on (choose.ts), read from a device (compute units: assumed, see above). */
export function adapterTraits(device: GPUDevice): AdapterTraits {
  return {
    cpu: isCpuAdapter(device),
    subgroupsOf8: hasSubgroupsOf8(device),
    limits: device.limits,
    subgroupMatrix: subgroupMatrixConfigFor(device),
    preferSubgroupMatrix: envVar(SUBGROUP_MATRIX_ENV)?.trim().toLowerCase() === 'on',
    maxBindingBytes: device.limits.maxStorageBufferBindingSize,
  };
}
