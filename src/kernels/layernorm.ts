// LayerNorm over the last dimension. WGSL: src/wgsl/layernorm.wgsl.
import { layernormWgsl } from '../wgsl/sources.generated.js';
import { KernelArgumentError } from '../errors.js';
import {
  createDispatch,
  elementCount,
  expectShape,
  grid2d,
  type Dispatch,
  type KernelSource,
  type TensorRef,
} from './program.js';

export const layerNormKernel: KernelSource = { name: 'layernorm', wgsl: layernormWgsl };

export interface LayerNormArgs {
  /** [..., dim] input. */
  x: TensorRef;
  /** [dim] scale. */
  gamma: TensorRef;
  /** [dim] shift. */
  beta: TensorRef;
  /** Output, same shape as x; a different buffer. */
  y: TensorRef;
  /** Added to the variance; 1e-6 for the OpenVision family. */
  eps: number;
}

/** y = LayerNorm(x) over the last axis. Rows may be any number; dim any positive size. */
export function layerNorm(device: GPUDevice, a: LayerNormArgs): Dispatch {
  const k = layerNormKernel.name;
  if (a.x.shape.length < 1) throw new KernelArgumentError(k, 'x', 'needs at least one dimension');
  const dim = a.x.shape[a.x.shape.length - 1]!;
  const rows = elementCount(a.x.shape.slice(0, -1));
  expectShape(k, 'x', a.x, a.x.shape);
  expectShape(k, 'gamma', a.gamma, [dim]);
  expectShape(k, 'beta', a.beta, [dim]);
  expectShape(k, 'y', a.y, a.x.shape);
  if (!(a.eps >= 0 && Number.isFinite(a.eps)))
    throw new KernelArgumentError(k, 'eps', `must be a finite non-negative number, got ${a.eps}`);
  return createDispatch(device, layerNormKernel, {
    uniforms: { rows, dim, eps: a.eps },
    tensors: { x: a.x, gamma: a.gamma, beta: a.beta, y: a.y },
    workgroups: grid2d(device, k, rows),
  });
}
