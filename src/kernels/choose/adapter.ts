// The traits of an adapter the built-in choices depend on (choose.ts), read from a device.
import { envVar } from '../../env.js';
import { hasSubgroupsOf8, isCpuAdapter } from '../program/device-traits.js';
import { subgroupMatrixConfigFor, type SubgroupMatrixConfig } from './subgroup-matrix.js';
import type { TileLimits } from './tiles.js';

export { hasSubgroupsOf8, isCpuAdapter };

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
}

/** The environment variable whose `on` makes the built-in choice take the subgroup-matrix GEMM (src/device.ts reads it too). */
const SUBGROUP_MATRIX_ENV = 'WGSL_VIT_SUBGROUP_MATRIX';

/** What the built-in kernel choices depend on (choose.ts), read from a device. */
export function adapterTraits(device: GPUDevice): AdapterTraits {
  return {
    cpu: isCpuAdapter(device),
    subgroupsOf8: hasSubgroupsOf8(device),
    limits: device.limits,
    subgroupMatrix: subgroupMatrixConfigFor(device),
    preferSubgroupMatrix: envVar(SUBGROUP_MATRIX_ENV)?.trim().toLowerCase() === 'on',
  };
}
