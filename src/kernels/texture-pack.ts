// Rows of an f32 tensor into a matrix texture (TextureRef layout). WGSL: src/wgsl/texture_pack.wgsl.
import { texturePackWgsl } from '../wgsl/sources.generated.js';
import { KernelArgumentError } from '../errors.js';
import {
  createDispatch,
  expectRowRange,
  elementCount,
  expectDims,
  expectShape,
  matrixTextureWidth,
  type Dispatch,
  type KernelSource,
  type TensorRef,
  type TextureRef,
  wgslWorkgroupSize,
} from './program/index.js';
import { expectKnownArgs } from './program/checks.js';
import type { KeyList } from '../options.js';

export const texturePackKernel: KernelSource = { name: 'texture_pack', wgsl: texturePackWgsl };
const WORKGROUP = wgslWorkgroupSize(texturePackKernel)[0]; // texels per workgroup along a row

export interface TexturePackArgs {
  /** [..., K] f32 tensor; its leading axes are flattened into rows. */
  x: TensorRef;
  /** [rows, K] matrix texture receiving rows `row0 .. row0 + rows - 1` of x (its row 0 = x's row0). */
  out: TextureRef;
  /** First row of x to pack (default 0). */
  row0?: number;
}

/** The keys of TexturePackArgs (an unknown one is refused). */
export const TEXTURE_PACK_ARG_KEYS = { x: true, out: true, row0: true } as const satisfies KeyList<TexturePackArgs>;

/** out = x[row0 : row0 + out.shape[0]] as a zero-padded matrix texture. */
export function texturePack(device: GPUDevice, a: TexturePackArgs): Dispatch {
  const k = texturePackKernel.name;
  expectKnownArgs(k, a, TEXTURE_PACK_ARG_KEYS);
  if (a.x.shape.length < 1) throw new KernelArgumentError(k, 'x', 'needs at least one dimension');
  const K = a.x.shape[a.x.shape.length - 1]!;
  const M = elementCount(a.x.shape.slice(0, -1));
  expectShape(k, 'x', a.x, a.x.shape);
  expectDims(k, 'out', a.out.shape);
  const [rows, cols] = a.out.shape;
  if (cols !== K) throw new KernelArgumentError(k, 'out', `expected a [rows, ${K}] matrix, got [${rows}, ${cols}]`);
  const row0 = a.row0 ?? 0;
  expectRowRange(k, 'row0', row0, rows, M);
  const width = matrixTextureWidth(K);
  return createDispatch(device, texturePackKernel, {
    uniforms: { rows, K, R0: row0, width },
    tensors: { x: a.x },
    textures: { out: a.out },
    workgroups: [Math.ceil(width / WORKGROUP), rows],
  });
}
