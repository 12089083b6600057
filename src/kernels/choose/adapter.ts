// The traits of an adapter the built-in choices depend on (choose.ts), read from a device.
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
}

/** What the built-in kernel choices depend on (choose.ts), read from a device. */
export function adapterTraits(device: GPUDevice): AdapterTraits {
  return {
    cpu: isCpuAdapter(device),
    subgroupsOf8: hasSubgroupsOf8(device),
    limits: device.limits,
    subgroupMatrix: subgroupMatrixConfigFor(device),
  };
}
