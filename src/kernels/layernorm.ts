// LayerNorm over the last dimension. WGSL: src/wgsl/layernorm.wgsl; layerNormTexture (output in a
// matrix texture, CPU adapters): src/wgsl/layernorm_texture.wgsl.
import { layernormTextureWgsl, layernormWgsl } from '../wgsl/sources.generated.js';
import { KernelArgumentError } from '../errors.js';
import {
  createDispatch,
  expectRowRange,
  elementCount,
  expectDims,
  expectShape,
  grid2d,
  type Dispatch,
  type KernelSource,
  type TensorRef,
  type TextureRef,
  wgslWorkgroupSize,
} from './program/index.js';
import { expectKnownArgs } from './program/checks.js';
import type { KeyList } from '../options.js';

export const layerNormKernel: KernelSource = { name: 'layernorm', wgsl: layernormWgsl };
export const layerNormTextureKernel: KernelSource = { name: 'layernorm_texture', wgsl: layernormTextureWgsl };

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

/** x [..., dim], gamma and beta [dim], eps finite ≥ 0, checked for either form; x's dim and row count. */
function checkInputs(
  k: string,
  a: { x: TensorRef; gamma: TensorRef; beta: TensorRef; eps: number },
): { dim: number; rows: number } {
  if (a.x.shape.length < 1) throw new KernelArgumentError(k, 'x', 'needs at least one dimension');
  const dim = a.x.shape[a.x.shape.length - 1]!;
  expectShape(k, 'x', a.x, a.x.shape);
  expectShape(k, 'gamma', a.gamma, [dim]);
  expectShape(k, 'beta', a.beta, [dim]);
  if (!(a.eps >= 0 && Number.isFinite(a.eps)))
    throw new KernelArgumentError(k, 'eps', `must be a finite non-negative number, got ${a.eps}`);
  return { dim, rows: elementCount(a.x.shape.slice(0, -1)) };
}

/** The keys of LayerNormArgs (an unknown one is refused). */
export const LAYER_NORM_ARG_KEYS = {
  x: true,
  gamma: true,
  beta: true,
  y: true,
  eps: true,
} as const satisfies KeyList<LayerNormArgs>;

/** y = LayerNorm(x) over the last axis. Rows may be any number; dim any positive size. */
export function layerNorm(device: GPUDevice, a: LayerNormArgs): Dispatch {
  const k = layerNormKernel.name;
  expectKnownArgs(k, a, LAYER_NORM_ARG_KEYS);
  const { dim, rows } = checkInputs(k, a);
  expectShape(k, 'y', a.y, a.x.shape);
  return createDispatch(device, layerNormKernel, {
    uniforms: { rows, dim, eps: a.eps },
    tensors: { x: a.x, gamma: a.gamma, beta: a.beta, y: a.y },
    workgroups: grid2d(device, k, rows),
  });
}

export interface LayerNormTextureArgs {
  /** [..., dim] input. */
  x: TensorRef;
  gamma: TensorRef;
  beta: TensorRef;
  /** [rows, dim] matrix texture receiving LayerNorm of x's rows row0 .. row0 + rows - 1. */
  y: TextureRef;
  eps: number;
  /** First row of x (default 0): a tall x runs as several calls. */
  row0?: number;
}

/** The keys of LayerNormTextureArgs (an unknown one is refused). */
export const LAYER_NORM_TEXTURE_ARG_KEYS = {
  x: true,
  gamma: true,
  beta: true,
  y: true,
  eps: true,
  row0: true,
} as const satisfies KeyList<LayerNormTextureArgs>;

/** y = LayerNorm(x[row0 : row0 + rows]) into a matrix texture (for the 'texture' GEMM). */
export function layerNormTexture(device: GPUDevice, a: LayerNormTextureArgs): Dispatch {
  const k = layerNormTextureKernel.name;
  expectKnownArgs(k, a, LAYER_NORM_TEXTURE_ARG_KEYS);
  const { dim, rows: M } = checkInputs(k, a);
  expectDims(k, 'y', a.y.shape);
  const [rows, cols] = a.y.shape;
  if (cols !== dim) throw new KernelArgumentError(k, 'y', `expected a [rows, ${dim}] matrix, got [${rows}, ${cols}]`);
  const row0 = a.row0 ?? 0;
  expectRowRange(k, 'row0', row0, rows, M);
  return createDispatch(device, layerNormTextureKernel, {
    uniforms: { rows, dim, eps: a.eps, R0: row0 },
    tensors: { x: a.x, gamma: a.gamma, beta: a.beta },
    textures: { y: a.y },
    workgroups: [Math.ceil(rows / wgslWorkgroupSize(layerNormTextureKernel)[0])],
  });
}
