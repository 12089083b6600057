// The 'subgroup_matrix' GEMM variant (src/wgsl/gemm_subgroup_matrix.wgsl): gemm()'s contract on
// subgroup matrices (tensor cores) where the device has chromium-experimental-subgroup-matrix. Its WGSL
// takes the matrix sizes and result type as literals, so it is specialised per configuration here by
// one template step (specialiseSubgroupMatrix); the rest of the specialisation is override constants.
// gemm() (gemm.ts) checks the arguments and calls gemmSubgroupMatrixDispatch.
import { gemmSubgroupMatrixWgsl } from '../wgsl/sources.generated.js';
import { KernelArgumentError } from '../errors.js';
import {
  subgroupMatrixConfigFor,
  subgroupMatrixConfigName,
  type SubgroupMatrixConfig,
} from './choose/subgroup-matrix.js';
import {
  createDispatch,
  NEEDS_SUBGROUP_MATRIX,
  W_DTYPE_CODE,
  wgslConst,
  type Dispatch,
  type KernelSource,
  type TensorRef,
  type WeightDType,
} from './program/index.js';

/** The template as written (not WGSL until specialised: see TEMPLATE in its header). */
export const gemmSubgroupMatrixTemplate: KernelSource = { name: 'gemm_subgroup_matrix', wgsl: gemmSubgroupMatrixWgsl };

/** The template's placeholders and what each becomes. */
const PLACEHOLDERS = {
  SGM_RESULT: (c: SubgroupMatrixConfig) => c.resultComponentType,
  SGM_M: (c: SubgroupMatrixConfig) => String(c.M),
  SGM_N: (c: SubgroupMatrixConfig) => String(c.N),
  SGM_K: (c: SubgroupMatrixConfig) => String(c.K),
} as const;

/**
 * The template step: `wgsl` with each placeholder (SGM_RESULT, SGM_M, SGM_N, SGM_K, whole words)
 * replaced by the configuration's result type and sizes. Throws for a configuration the kernel does not
 * take (operands other than f16, a result other than f32 / f16, a size that is not a positive integer)
 * and for a template that lacks a placeholder.
 */
export function specialiseSubgroupMatrix(wgsl: string, c: SubgroupMatrixConfig): string {
  if (c.componentType !== 'f16' || !['f32', 'f16'].includes(c.resultComponentType))
    throw new Error(
      `gemm_subgroup_matrix: takes f16 operands and an f32 or f16 result, got ${subgroupMatrixConfigName(c)}`,
    );
  for (const s of [c.M, c.N, c.K])
    if (!Number.isInteger(s) || s <= 0)
      throw new Error(`gemm_subgroup_matrix: bad size in ${subgroupMatrixConfigName(c)}`);
  for (const p of Object.keys(PLACEHOLDERS))
    if (!new RegExp(`\\b${p}\\b`).test(wgsl)) throw new Error(`gemm_subgroup_matrix: the template has no ${p}`);
  return wgsl.replace(/\b(SGM_RESULT|SGM_M|SGM_N|SGM_K)\b/g, (p) => PLACEHOLDERS[p as keyof typeof PLACEHOLDERS](c));
}

const sources = new Map<string, KernelSource>();
/** The kernel for a configuration, one per configuration (pipelines are cached by its name). */
export function gemmSubgroupMatrixKernel(c: SubgroupMatrixConfig): KernelSource {
  const name = `gemm_subgroup_matrix/${subgroupMatrixConfigName(c).replace(' ', '/')}`;
  let src = sources.get(name);
  if (!src) {
    src = { name, wgsl: specialiseSubgroupMatrix(gemmSubgroupMatrixTemplate.wgsl, c) };
    sources.set(name, src);
  }
  return src;
}

/** Rows and columns of y one workgroup computes for a configuration, and its workgroup memory in bytes. */
export function subgroupMatrixBlock(c: SubgroupMatrixConfig): { m: number; n: number; k: number; bytes: number } {
  const side = wgslConst(gemmSubgroupMatrixTemplate, 'BLOCK_MATRICES');
  const m = side * c.M,
    n = side * c.N,
    k = 2 * c.K;
  return { m, n, k, bytes: 2 * (m * k + n * k) + (c.resultComponentType === 'f32' ? 4 : 2) * m * n };
}

/** What gemm() hands the variant: its checked arguments (gemm.ts's GemmCall, less what this variant ignores). */
export interface SubgroupMatrixCall {
  tensors: { x: TensorRef; w: TensorRef; bias: TensorRef; y: TensorRef; w_scale: TensorRef };
  hasBias: boolean;
  M: number;
  N: number;
  K: number;
  dtype: WeightDType;
  /** The EPILOGUE code. */
  code: number;
}

/** The dispatch of the 'subgroup_matrix' GEMM; a KernelArgumentError where the device cannot run it. */
export function gemmSubgroupMatrixDispatch(device: GPUDevice, c: SubgroupMatrixCall): Dispatch {
  const config = subgroupMatrixConfigFor(device);
  if (!config) throw new KernelArgumentError('gemm', 'variant', `'subgroup_matrix' ${NEEDS_SUBGROUP_MATRIX}`);
  const block = subgroupMatrixBlock(config);
  if (block.bytes > device.limits.maxComputeWorkgroupStorageSize)
    throw new KernelArgumentError(
      'gemm',
      'variant',
      `'subgroup_matrix' with ${subgroupMatrixConfigName(config)} needs ${block.bytes} bytes of workgroup memory, the device has ${device.limits.maxComputeWorkgroupStorageSize}`,
    );
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo & { subgroupMaxSize?: number } }).adapterInfo;
  // The feature requires the workgroup's x size to be a multiple of the largest subgroup size.
  const wg = wgslConst(gemmSubgroupMatrixTemplate, 'SUBGROUPS') * (info?.subgroupMaxSize ?? 32);
  if (wg > device.limits.maxComputeInvocationsPerWorkgroup || wg > device.limits.maxComputeWorkgroupSizeX)
    throw new KernelArgumentError(
      'gemm',
      'variant',
      `'subgroup_matrix' needs workgroups of ${wg} invocations (4 subgroups of ${wg / 4}), the device allows ${device.limits.maxComputeInvocationsPerWorkgroup}`,
    );
  return createDispatch(device, gemmSubgroupMatrixKernel(config), {
    overrides: { EPILOGUE: c.code, HAS_BIAS: c.hasBias, W_DTYPE: W_DTYPE_CODE[c.dtype], WG: wg },
    uniforms: { M: c.M, N: c.N, K: c.K },
    tensors: c.tensors,
    workgroups: [Math.ceil(c.N / block.n), Math.ceil(c.M / block.m)],
  });
}
