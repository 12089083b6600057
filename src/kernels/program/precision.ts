// The arithmetic precision of the GEMM and attention products ('f32', or 'f16': the kernels' f16
// precision builds, tools/embed-wgsl.mjs //!math), shared by their wrappers and the model's
// `precision` load option. f16: operands rounded to f16 as they are staged in workgroup memory, their
// products summed in f16 over at most 8 terms, then accumulated in f32; LayerNorm, softmax
// statistics, the residual stream and every stored activation stay f32 (docs/precision.md).
import { KernelArgumentError } from '../../errors.js';

export type Precision = 'f32' | 'f16';
export const PRECISIONS: readonly Precision[] = ['f32', 'f16'];

/** Why `precision` cannot run on `device` (an unknown value, or f16 without shader-f16), or null. */
export function precisionProblem(device: GPUDevice, precision: unknown): string | null {
  if (!PRECISIONS.includes(precision as Precision))
    return `must be ${PRECISIONS.map((p) => `'${p}'`).join(' or ')}, got ${JSON.stringify(precision)}`;
  if (precision === 'f16' && !device.features.has('shader-f16'))
    return "'f16' needs the shader-f16 feature, which this device lacks (Dawn on NVIDIA: the vulkan_enable_f16_on_nvidia toggle, which requestDevice asks for; docs/gpu.md)";
  return null;
}

/** A kernel call's `precision` argument, checked (absent: 'f32'); a KernelArgumentError naming `kernel` otherwise. */
export function expectPrecision(device: GPUDevice, kernel: string, precision: unknown): Precision {
  if (precision === undefined) return 'f32';
  const problem = precisionProblem(device, precision);
  if (problem) throw new KernelArgumentError(kernel, 'precision', problem);
  return precision as Precision;
}
