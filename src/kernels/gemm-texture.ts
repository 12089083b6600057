// The linear layer with both operands in matrix textures, for CPU adapters (gemm.ts has the buffer
// variants). WGSL: src/wgsl/gemm_texture.wgsl. In a model the graph packs the activation into a
// texture first (texture_pack) and the weights are uploaded as textures at load.
import { gemmTextureWgsl } from '../wgsl/sources.generated.js';
import { KernelArgumentError } from '../errors.js';
import { epilogueCode, type GemmEpilogue } from './gemm.js';
import {
  createDispatch,
  expectF32Texture,
  expectShape,
  expectSubgroupsOf8,
  expectWeightTexture,
  W_DTYPE_CODE,
  isTextureRef,
  matrixTextureWidth,
  unusedBinding,
  unusedOutput,
  unusedTexture,
  wgslConst,
  type Dispatch,
  type KernelSource,
  type TensorRef,
  type TextureRef,
} from './program/index.js';
import { expectKnownArgs } from './program/checks.js';
import type { KeyList } from '../options.js';

export const gemmTextureKernel: KernelSource = { name: 'gemm_texture', wgsl: gemmTextureWgsl };
/** Rows and columns of y one workgroup computes (MR, NB in its WGSL). */
const BLOCK = { m: wgslConst(gemmTextureKernel, 'MR'), n: wgslConst(gemmTextureKernel, 'NB') };

export interface GemmTextureArgs {
  /** [M, K] activations as a matrix texture (texture_pack makes one from a buffer). */
  x: TextureRef;
  /**
   * [N, K] weights (nn.Linear layout) as a matrix texture: f32 (uploadMatrixTexture), or f16 / q8
   * (uploadWeightTexture; a q8 one carries its scales).
   */
  w: TextureRef;
  /** [N] bias, or null for none. */
  bias: TensorRef | null;
  /**
   * Output: a buffer holding at least row0 + M rows of N values, [..., N] (with 'residual' it is also
   * read); or an [M, N] matrix texture (row0 0, not 'residual'), for a consumer that reads textures.
   */
  y: TensorRef | TextureRef;
  epilogue?: GemmEpilogue;
  /** The row of y that x's row 0 goes to (default 0): a tall matrix runs as several calls. */
  row0?: number;
}

/** The keys of GemmTextureArgs (an unknown one is refused). */
export const GEMM_TEXTURE_ARG_KEYS = {
  x: true,
  w: true,
  bias: true,
  y: true,
  epilogue: true,
  row0: true,
} as const satisfies KeyList<GemmTextureArgs>;

/** y[row0 : row0 + M] = epilogue(x·wᵀ + bias). Any M, N, K; needs 8-lane subgroups. */
export function gemmTexture(device: GPUDevice, a: GemmTextureArgs): Dispatch {
  const kernel = gemmTextureKernel.name;
  expectKnownArgs(kernel, a, GEMM_TEXTURE_ARG_KEYS);
  const epilogue = a.epilogue ?? 'none';
  const code = epilogueCode(kernel, epilogue);
  const [N, K] = a.w.shape;
  const [M, Kx] = a.x.shape;
  expectF32Texture(kernel, 'x', a.x);
  const dtype = expectWeightTexture(kernel, 'w', a.w);
  if (Kx !== K)
    throw new KernelArgumentError(kernel, 'x', `expected [M, ${K}] to match w [${N}, ${K}], got [${M}, ${Kx}]`);
  if (a.bias) expectShape(kernel, 'bias', a.bias, [N]);
  const row0 = a.row0 ?? 0;
  if (!Number.isInteger(row0) || row0 < 0)
    throw new KernelArgumentError(kernel, 'row0', `must be a non-negative integer, got ${row0}`);
  expectSubgroupsOf8(device, kernel, 'device');
  const common = {
    overrides: {
      EPILOGUE: code,
      HAS_BIAS: a.bias !== null,
      OUT_TEXTURE: isTextureRef(a.y),
      W_DTYPE: W_DTYPE_CODE[dtype],
    },
    workgroups: [Math.ceil(N / BLOCK.n), Math.ceil(M / BLOCK.m)] as [number, number],
  };
  const bias = a.bias ?? unusedBinding(device);
  const w_scale = a.w.scale ?? unusedBinding(device);
  if (isTextureRef(a.y)) {
    expectF32Texture(kernel, 'y', a.y);
    if (a.y.shape[0] !== M || a.y.shape[1] !== N)
      throw new KernelArgumentError(
        kernel,
        'y',
        `expected a [${M}, ${N}] matrix texture, got [${a.y.shape.join(', ')}]`,
      );
    if (epilogue === 'residual' || row0 !== 0)
      throw new KernelArgumentError(kernel, 'y', "a texture output takes neither the 'residual' epilogue nor a row0");
    return createDispatch(device, gemmTextureKernel, {
      ...common,
      uniforms: { M, N, K, M0: 0, yt_width: matrixTextureWidth(N) },
      tensors: { bias, y: unusedOutput(device), w_scale },
      textures: { x: a.x, w: a.w, yt: a.y },
    });
  }
  const yRows = a.y.shape.length >= 1 ? a.y.shape.slice(0, -1).reduce((p, d) => p * d, 1) : 0;
  if (a.y.shape[a.y.shape.length - 1] !== N || yRows < row0 + M)
    throw new KernelArgumentError(
      kernel,
      'y',
      `expected [..., ${N}] with at least ${row0 + M} rows (row0 ${row0} + M ${M}), got [${a.y.shape.join(', ')}]`,
    );
  expectShape(kernel, 'y', a.y, a.y.shape);
  return createDispatch(device, gemmTextureKernel, {
    ...common,
    uniforms: { M, N, K, M0: row0, yt_width: 0 },
    tensors: { bias, y: a.y, w_scale },
    textures: { x: a.x, w: a.w, yt: unusedTexture(device) },
  });
}
