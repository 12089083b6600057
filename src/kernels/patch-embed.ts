// Patch embedding (conv stride p, no bias) + class token + position table. WGSL: src/wgsl/patch_embed.wgsl;
// CPU adapters: patchPack (src/wgsl/patch_pack.wgsl, the patches into a matrix texture) then
// patchEmbedTexture (src/wgsl/patch_embed_texture.wgsl, the convolution as a texture GEMM).
import {
  patchEmbedNativeF16Wgsl,
  patchEmbedTextureWgsl,
  patchEmbedWgsl,
  patchPackWgsl,
} from '../wgsl/sources.generated.js';
import { KernelArgumentError } from '../errors.js';
import { tileLaunch, type GemmTile } from './gemm-tile.js';
import {
  createDispatch,
  expectF32Texture,
  expectDims,
  expectShape,
  expectSubgroupsOf8,
  expectWeight,
  expectWeightTexture,
  matrixTextureWidth,
  unusedBinding,
  weightSource,
  W_DTYPE_CODE,
  type F16Loads,
  wgslConst,
  wgslWorkgroupSize,
  type Dispatch,
  type KernelSource,
  type TensorRef,
  type TextureRef,
} from './program/index.js';
import { expectKnownArgs } from './program/checks.js';
import type { KeyList } from '../options.js';

export const patchEmbedKernel: KernelSource = { name: 'patch_embed', wgsl: patchEmbedWgsl };
/** patch_embed's native_f16 build (an f16 weight read as WGSL f16 where the device has shader-f16). */
export const patchEmbedNativeF16Kernel: KernelSource = {
  name: 'patch_embed/native-f16',
  wgsl: patchEmbedNativeF16Wgsl,
};
export const patchEmbedTextureKernel: KernelSource = { name: 'patch_embed_texture', wgsl: patchEmbedTextureWgsl };
export const patchPackKernel: KernelSource = { name: 'patch_pack', wgsl: patchPackWgsl };

export interface PatchEmbedArgs {
  /** [B, 3, S, S] NCHW, S divisible by the patch size. */
  image: TensorRef;
  /**
   * [W, 3, p, p] conv weight (or the same memory viewed as [W, 3·p·p]); f16 and q8 weights
   * (weight-format.ts) as [W, 3·p·p], a q8 one with its [W] scales.
   */
  weight: TensorRef;
  /** [W] class token. */
  cls: TensorRef;
  /** [1 + g², W] position table, class row first. */
  pos: TensorRef;
  /** [B, 1 + g², W]. */
  out: TensorRef;
  /** Workgroup tile of the patch GEMM (gemm-tile.ts); defaults to gemmTileFor(device, { m: B·g², n: W }). */
  tile?: GemmTile;
  /** How an f16 weight is read (as GemmArgs.f16Loads). */
  f16Loads?: F16Loads;
}

/** The keys of PatchEmbedArgs (an unknown one is refused). */
export const PATCH_EMBED_ARG_KEYS = {
  image: true,
  weight: true,
  cls: true,
  pos: true,
  out: true,
  tile: true,
  f16Loads: true,
} as const satisfies KeyList<PatchEmbedArgs>;

/** out = [cls; conv_p(image)ᵀ] + pos. Any batch, any patch size p ≥ 1, any S divisible by p. */
export function patchEmbed(device: GPUDevice, a: PatchEmbedArgs): Dispatch {
  const k = patchEmbedKernel.name;
  expectKnownArgs(k, a, PATCH_EMBED_ARG_KEYS);
  if (a.image.shape.length !== 4 || a.image.shape[1] !== 3 || a.image.shape[2] !== a.image.shape[3]) {
    throw new KernelArgumentError(k, 'image', `expected [B, 3, S, S], got [${a.image.shape.join(', ')}]`);
  }
  const [B, , S] = a.image.shape as [number, number, number, number];
  if (a.weight.shape.length !== 4 && a.weight.shape.length !== 2) {
    throw new KernelArgumentError(k, 'weight', `expected [W, 3, p, p], got [${a.weight.shape.join(', ')}]`);
  }
  const W = a.weight.shape[0]!;
  let p: number;
  let dtype;
  if (a.weight.shape.length === 4) {
    p = a.weight.shape[2]!;
    expectShape(k, 'weight', a.weight, [W, 3, p, p]);
    dtype = 'f32' as const;
  } else {
    p = Math.round(Math.sqrt(a.weight.shape[1]! / 3));
    dtype = expectWeight(k, 'weight', a.weight, [W, 3 * p * p]);
  }
  if (S % p !== 0) throw new KernelArgumentError(k, 'image', `resolution ${S} is not divisible by the patch size ${p}`);
  const g = S / p;
  expectShape(k, 'image', a.image, [B, 3, S, S]);
  expectShape(k, 'cls', a.cls, [W]);
  expectShape(k, 'pos', a.pos, [1 + g * g, W]);
  expectShape(k, 'out', a.out, [B, 1 + g * g, W]);
  const launch = tileLaunch(device, k, a.tile, B * g * g, W);
  return createDispatch(device, weightSource(device, dtype, patchEmbedKernel, patchEmbedNativeF16Kernel, a.f16Loads), {
    overrides: { ...launch.overrides, W_DTYPE: W_DTYPE_CODE[dtype] },
    uniforms: { batch: B, image_size: S, patch_size: p, grid: g, dim: W },
    tensors: {
      image: a.image,
      w: a.weight,
      cls: a.cls,
      pos: a.pos,
      out: a.out,
      w_scale: a.weight.scale ?? unusedBinding(device),
    },
    workgroups: launch.workgroups,
  });
}

export interface PatchPackArgs {
  /** [B, 3, S, S] NCHW. */
  image: TensorRef;
  /** Patch size p (S divisible by p). */
  patchSize: number;
  /** [rows, 3·p·p] matrix texture receiving patches patch0 .. patch0 + rows - 1 (patch b·g² + t). */
  out: TextureRef;
  patch0?: number;
}

/** The keys of PatchPackArgs (an unknown one is refused). */
export const PATCH_PACK_ARG_KEYS = {
  image: true,
  patchSize: true,
  out: true,
  patch0: true,
} as const satisfies KeyList<PatchPackArgs>;

/** The image's patches as rows of a matrix texture (im2col), for patchEmbedTexture. */
export function patchPack(device: GPUDevice, a: PatchPackArgs): Dispatch {
  const k = patchPackKernel.name;
  expectKnownArgs(k, a, PATCH_PACK_ARG_KEYS);
  const { B, S, g } = imageGrid(k, a.image, a.patchSize);
  const p = a.patchSize;
  expectDims(k, 'out', a.out.shape);
  const [rows, cols] = a.out.shape;
  if (cols !== 3 * p * p)
    throw new KernelArgumentError(k, 'out', `expected a [rows, ${3 * p * p}] matrix, got [${rows}, ${cols}]`);
  const patch0 = a.patch0 ?? 0;
  if (!Number.isInteger(patch0) || patch0 < 0 || patch0 + rows > B * g * g)
    throw new KernelArgumentError(
      k,
      'patch0',
      `patches ${patch0} .. ${patch0 + rows - 1} are outside the batch's ${B * g * g}`,
    );
  const width = matrixTextureWidth(3 * p * p);
  return createDispatch(device, patchPackKernel, {
    uniforms: { rows, P0: patch0, image_size: S, patch_size: p, grid: g, width },
    tensors: { image: a.image },
    textures: { out: a.out },
    workgroups: [Math.ceil(width / wgslWorkgroupSize(patchPackKernel)[0]), rows],
  });
}

export interface PatchEmbedTextureArgs {
  /** [rows, 3·p·p] matrix texture of patches patch0 .. patch0 + rows - 1 (patchPack). */
  patches: TextureRef;
  /** [W, 3·p·p] matrix texture of the conv weight [W, 3, p, p] (f32, f16 or q8 with its scales). */
  weight: TextureRef;
  /** [W] class token (written by the call with patch0 = 0). */
  cls: TensorRef;
  /** [1 + g², W] position table. */
  pos: TensorRef;
  /** [B, 1 + g², W]. */
  out: TensorRef;
  patch0?: number;
}

/** The keys of PatchEmbedTextureArgs (an unknown one is refused). */
export const PATCH_EMBED_TEXTURE_ARG_KEYS = {
  patches: true,
  weight: true,
  cls: true,
  pos: true,
  out: true,
  patch0: true,
} as const satisfies KeyList<PatchEmbedTextureArgs>;

/**
 * patchEmbed from packed patches, the convolution as a texture GEMM (CPU adapters with 8-lane
 * subgroups): out[b, 1 + t] = patches[b·g² + t − patch0]·wᵀ + pos[1 + t]; out[b, 0] = cls + pos[0].
 */
export function patchEmbedTexture(device: GPUDevice, a: PatchEmbedTextureArgs): Dispatch {
  const k = patchEmbedTextureKernel.name;
  expectKnownArgs(k, a, PATCH_EMBED_TEXTURE_ARG_KEYS);
  const [W, K] = a.weight.shape;
  const [rows, Kx] = a.patches.shape;
  expectF32Texture(k, 'patches', a.patches);
  const dtype = expectWeightTexture(k, 'weight', a.weight);
  if (Kx !== K)
    throw new KernelArgumentError(
      k,
      'patches',
      `expected [rows, ${K}] to match weight [${W}, ${K}], got [${rows}, ${Kx}]`,
    );
  if (a.out.shape.length !== 3 || a.out.shape[2] !== W)
    throw new KernelArgumentError(k, 'out', `expected [B, 1 + g², ${W}], got [${a.out.shape.join(', ')}]`);
  const [B, n] = a.out.shape as [number, number, number];
  const g = Math.round(Math.sqrt(n - 1));
  if (g * g !== n - 1) throw new KernelArgumentError(k, 'out', `${n} tokens is not 1 + g² for a square grid`);
  expectShape(k, 'out', a.out, [B, n, W]);
  expectShape(k, 'cls', a.cls, [W]);
  expectShape(k, 'pos', a.pos, [n, W]);
  const patch0 = a.patch0 ?? 0;
  if (!Number.isInteger(patch0) || patch0 < 0 || patch0 + rows > B * g * g)
    throw new KernelArgumentError(
      k,
      'patch0',
      `patches ${patch0} .. ${patch0 + rows - 1} are outside the batch's ${B * g * g}`,
    );
  expectSubgroupsOf8(device, k, 'device');
  return createDispatch(device, patchEmbedTextureKernel, {
    overrides: { W_DTYPE: W_DTYPE_CODE[dtype] },
    uniforms: { rows, P0: patch0, batch: B, grid: g, dim: W, K },
    tensors: { cls: a.cls, pos: a.pos, out: a.out, w_scale: a.weight.scale ?? unusedBinding(device) },
    textures: { x: a.patches, w: a.weight },
    workgroups: [
      Math.ceil(W / wgslConst(patchEmbedTextureKernel, 'NB')),
      Math.ceil(rows / wgslConst(patchEmbedTextureKernel, 'MR')),
    ],
  });
}

/** B, S and the grid g = S / p of a [B, 3, S, S] image, checked. */
function imageGrid(k: string, image: TensorRef, p: number): { B: number; S: number; g: number } {
  if (image.shape.length !== 4 || image.shape[1] !== 3 || image.shape[2] !== image.shape[3])
    throw new KernelArgumentError(k, 'image', `expected [B, 3, S, S], got [${image.shape.join(', ')}]`);
  const [B, , S] = image.shape as [number, number, number, number];
  if (!Number.isInteger(p) || p <= 0)
    throw new KernelArgumentError(k, 'patchSize', `must be a positive integer, got ${p}`);
  if (S % p !== 0) throw new KernelArgumentError(k, 'image', `resolution ${S} is not divisible by the patch size ${p}`);
  expectShape(k, 'image', image, [B, 3, S, S]);
  return { B, S, g: S / p };
}
