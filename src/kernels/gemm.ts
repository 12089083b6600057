// Linear layer with fused epilogues. WGSL: src/wgsl/gemm.wgsl.
import { gemmWgsl } from '../wgsl/sources.generated.js';
import { KernelArgumentError } from '../errors.js';
import { createDispatch, expectShape, unusedBinding, type Dispatch, type KernelSource, type TensorRef } from './program.js';

export const gemmKernel: KernelSource = { name: 'gemm', wgsl: gemmWgsl };

/**
 * Output tile of one workgroup (_gemm_tile.wgsl: 8×8 invocations, 8×8 outputs each). Measured on
 * lavapipe (`npm run bench:kernels`): 1.6–1.9× faster than 16×16 invocations with 4×4 (or 8×4)
 * each, since each k-step reads 4 vec4s from workgroup memory for 64 FMAs instead of 2 for 16.
 * Not yet measured on a GPU.
 */
export const GEMM_TILE = { m: 64, n: 64, k: 32 } as const;

/** What happens to `x·wᵀ + bias` before it is stored: nothing, exact GELU, or `y += result`. */
export type GemmEpilogue = 'none' | 'gelu' | 'residual';
const EPILOGUE_CODE: Record<GemmEpilogue, number> = { none: 0, gelu: 1, residual: 2 };

export interface GemmArgs {
  /** [..., K] activations; all leading axes are flattened into M rows. */
  x: TensorRef;
  /** [N, K] weights, PyTorch nn.Linear layout. */
  w: TensorRef;
  /** [N] bias, or null for none. */
  bias: TensorRef | null;
  /** [..., N] output with x's leading axes. With 'residual' it is also read (y += x·wᵀ + b). */
  y: TensorRef;
  epilogue?: GemmEpilogue;
}

/** y = epilogue(x·wᵀ + bias). Any M, N, K (no multiple-of-tile requirement). */
export function gemm(device: GPUDevice, a: GemmArgs): Dispatch {
  const k = gemmKernel.name;
  const epilogue = a.epilogue ?? 'none';
  if (!(epilogue in EPILOGUE_CODE)) throw new KernelArgumentError(k, 'epilogue', `unknown epilogue '${String(epilogue)}'`);
  if (a.w.shape.length !== 2) throw new KernelArgumentError(k, 'w', `expected [N, K], got [${a.w.shape.join(', ')}]`);
  const [N, K] = a.w.shape as [number, number];
  if (a.x.shape.length < 1 || a.x.shape[a.x.shape.length - 1] !== K) {
    throw new KernelArgumentError(k, 'x', `expected [..., ${K}] to match w [${N}, ${K}], got [${a.x.shape.join(', ')}]`);
  }
  const lead = a.x.shape.slice(0, -1);
  const M = lead.reduce((p, d) => p * d, 1);
  expectShape(k, 'x', a.x, a.x.shape);
  expectShape(k, 'w', a.w, [N, K]);
  if (a.bias) expectShape(k, 'bias', a.bias, [N]);
  expectShape(k, 'y', a.y, [...lead, N]);
  return createDispatch(device, gemmKernel, {
    overrides: { EPILOGUE: EPILOGUE_CODE[epilogue], HAS_BIAS: a.bias !== null },
    uniforms: { M, N, K },
    tensors: { x: a.x, w: a.w, bias: a.bias ?? unusedBinding(device), y: a.y },
    workgroups: [Math.ceil(N / GEMM_TILE.n), Math.ceil(M / GEMM_TILE.m)],
  });
}
