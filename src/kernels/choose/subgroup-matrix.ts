// Subgroup matrices (Dawn's experimental `chromium-experimental-subgroup-matrix`: tensor cores through
// Vulkan cooperative matrix, Metal simdgroup matrices): the configurations a device offers, and the
// one the 'subgroup_matrix' GEMM (src/wgsl/gemm_subgroup_matrix.wgsl) is specialised for.

/** The feature's name (requested by src/device.ts where the adapter offers it). */
export const SUBGROUP_MATRIX_FEATURE = 'chromium-experimental-subgroup-matrix' as GPUFeatureName;

/** A component type of a subgroup matrix (Dawn's GPUSubgroupMatrixComponentType). */
export type SubgroupMatrixComponentType = 'f32' | 'f16' | 'u32' | 'i32' | 'u8' | 'i8';

/**
 * One configuration the adapter supports (Dawn's GPUSubgroupMatrixConfig, `adapter.info.subgroupMatrixConfigs`):
 * left M × K and right K × N matrices of `componentType`, an M × N result of `resultComponentType`.
 */
export interface SubgroupMatrixConfig {
  readonly componentType: SubgroupMatrixComponentType;
  readonly resultComponentType: SubgroupMatrixComponentType;
  readonly M: number;
  readonly N: number;
  readonly K: number;
}

/** The configurations in an adapter info object (plain copies; [] where it has none). */
export function subgroupMatrixConfigsOf(info: GPUAdapterInfo | undefined): SubgroupMatrixConfig[] {
  const list = (info as { subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[] } | undefined)?.subgroupMatrixConfigs;
  return [...(list ?? [])].map((c) => ({
    componentType: c.componentType,
    resultComponentType: c.resultComponentType,
    M: c.M,
    N: c.N,
    K: c.K,
  }));
}

/** The configurations a device can use: the adapter's where the feature was granted, else none. */
export function deviceSubgroupMatrixConfigs(device: GPUDevice): SubgroupMatrixConfig[] {
  if (!device.features.has(SUBGROUP_MATRIX_FEATURE)) return [];
  return subgroupMatrixConfigsOf((device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo);
}

/** The largest matrix side the GEMM takes (its workgroup block is 4 matrices wide: 128 × 128 at 32). */
export const SUBGROUP_MATRIX_MAX_SIDE = 32;

/**
 * The configuration the 'subgroup_matrix' GEMM uses, or null where none fits: f16 operands (x and w
 * are converted to f16 as they are staged), an f32 result where one is offered (f32 accumulation),
 * else an f16 one; sides at most SUBGROUP_MATRIX_MAX_SIDE. Among equals, the adapter's order (Vulkan
 * lists its preferred configurations first).
 */
export function chooseSubgroupMatrixConfig(configs: readonly SubgroupMatrixConfig[]): SubgroupMatrixConfig | null {
  const usable = configs.filter(
    (c) =>
      c.componentType === 'f16' &&
      (c.resultComponentType === 'f32' || c.resultComponentType === 'f16') &&
      [c.M, c.N, c.K].every((s) => Number.isInteger(s) && s > 0 && s <= SUBGROUP_MATRIX_MAX_SIDE),
  );
  return usable.find((c) => c.resultComponentType === 'f32') ?? usable[0] ?? null;
}

/** The configuration the 'subgroup_matrix' GEMM uses on `device`, or null (no feature, or no config fits). */
export function subgroupMatrixConfigFor(device: GPUDevice): SubgroupMatrixConfig | null {
  if (!device.features.has('shader-f16') || !device.features.has('subgroups')) return null;
  return chooseSubgroupMatrixConfig(deviceSubgroupMatrixConfigs(device));
}

/** `f16->f32 16x16x16`: a configuration as reports and kernel names write it (M x N x K). */
export function subgroupMatrixConfigName(c: SubgroupMatrixConfig): string {
  return `${c.componentType}->${c.resultComponentType} ${c.M}x${c.N}x${c.K}`;
}
