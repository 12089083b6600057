// Patch embedding (conv stride p, no bias) + class token + position table. WGSL: src/wgsl/patch_embed.wgsl;
// patchEmbedTexture (the weight in a matrix texture, CPU adapters): src/wgsl/patch_embed_texture.wgsl.
import { patchEmbedTextureWgsl, patchEmbedWgsl } from '../wgsl/sources.generated.js';
import { KernelArgumentError } from '../errors.js';
import { tileLaunch, type GemmTile } from './gemm-tile.js';
import { hasSubgroupsOf8 } from './adapter-kind.js';
import {
  createDispatch,
  expectShape,
  wgslConst,
  type Dispatch,
  type KernelSource,
  type TensorRef,
  type TextureRef,
} from './program.js';

export const patchEmbedKernel: KernelSource = { name: 'patch_embed', wgsl: patchEmbedWgsl };
export const patchEmbedTextureKernel: KernelSource = { name: 'patch_embed_texture', wgsl: patchEmbedTextureWgsl };

export interface PatchEmbedArgs {
  /** [B, 3, S, S] NCHW, S divisible by the patch size. */
  image: TensorRef;
  /** [W, 3, p, p] conv weight (or the same memory viewed as [W, 3·p·p]). */
  weight: TensorRef;
  /** [W] class token. */
  cls: TensorRef;
  /** [1 + g², W] position table, class row first. */
  pos: TensorRef;
  /** [B, 1 + g², W]. */
  out: TensorRef;
  /** Workgroup tile of the patch GEMM (gemm-tile.ts); defaults to gemmTileFor(device, { m: B·g², n: W }). */
  tile?: GemmTile;
}

/** out = [cls; conv_p(image)ᵀ] + pos. Any batch, any patch size p ≥ 1, any S divisible by p. */
export function patchEmbed(device: GPUDevice, a: PatchEmbedArgs): Dispatch {
  const k = patchEmbedKernel.name;
  if (a.image.shape.length !== 4 || a.image.shape[1] !== 3 || a.image.shape[2] !== a.image.shape[3]) {
    throw new KernelArgumentError(k, 'image', `expected [B, 3, S, S], got [${a.image.shape.join(', ')}]`);
  }
  const [B, , S] = a.image.shape as [number, number, number, number];
  if (a.weight.shape.length !== 4 && a.weight.shape.length !== 2) {
    throw new KernelArgumentError(k, 'weight', `expected [W, 3, p, p], got [${a.weight.shape.join(', ')}]`);
  }
  const W = a.weight.shape[0]!;
  let p: number;
  if (a.weight.shape.length === 4) {
    p = a.weight.shape[2]!;
    expectShape(k, 'weight', a.weight, [W, 3, p, p]);
  } else {
    p = Math.round(Math.sqrt(a.weight.shape[1]! / 3));
    expectShape(k, 'weight', a.weight, [W, 3 * p * p]);
  }
  if (S % p !== 0) throw new KernelArgumentError(k, 'image', `resolution ${S} is not divisible by the patch size ${p}`);
  const g = S / p;
  expectShape(k, 'image', a.image, [B, 3, S, S]);
  expectShape(k, 'cls', a.cls, [W]);
  expectShape(k, 'pos', a.pos, [1 + g * g, W]);
  expectShape(k, 'out', a.out, [B, 1 + g * g, W]);
  const launch = tileLaunch(device, k, a.tile, B * g * g, W);
  return createDispatch(device, patchEmbedKernel, {
    overrides: launch.overrides,
    uniforms: { batch: B, image_size: S, patch_size: p, grid: g, dim: W },
    tensors: { image: a.image, w: a.weight, cls: a.cls, pos: a.pos, out: a.out },
    workgroups: launch.workgroups,
  });
}

export interface PatchEmbedTextureArgs {
  /** [B, 3, S, S] NCHW, S divisible by the patch size. */
  image: TensorRef;
  /** [W, 3·p·p] matrix texture of the conv weight [W, 3, p, p]. */
  weight: TextureRef;
  cls: TensorRef;
  pos: TensorRef;
  out: TensorRef;
}

/** patchEmbed with the conv weight in a matrix texture: one 8-lane subgroup per 16 patches × 32 columns (CPU adapters). */
export function patchEmbedTexture(device: GPUDevice, a: PatchEmbedTextureArgs): Dispatch {
  const k = patchEmbedTextureKernel.name;
  if (a.image.shape.length !== 4 || a.image.shape[1] !== 3 || a.image.shape[2] !== a.image.shape[3]) {
    throw new KernelArgumentError(k, 'image', `expected [B, 3, S, S], got [${a.image.shape.join(', ')}]`);
  }
  const [B, , S] = a.image.shape as [number, number, number, number];
  const [W, K] = a.weight.shape;
  const p = Math.round(Math.sqrt(K / 3));
  if (3 * p * p !== K) throw new KernelArgumentError(k, 'weight', `expected [W, 3·p·p], got [${W}, ${K}]`);
  if (S % p !== 0) throw new KernelArgumentError(k, 'image', `resolution ${S} is not divisible by the patch size ${p}`);
  const g = S / p;
  expectShape(k, 'image', a.image, [B, 3, S, S]);
  expectShape(k, 'cls', a.cls, [W]);
  expectShape(k, 'pos', a.pos, [1 + g * g, W]);
  expectShape(k, 'out', a.out, [B, 1 + g * g, W]);
  if (!hasSubgroupsOf8(device))
    throw new KernelArgumentError(k, 'device', 'needs the subgroups feature with a subgroup size of exactly 8');
  return createDispatch(device, patchEmbedTextureKernel, {
    uniforms: { batch: B, image_size: S, patch_size: p, grid: g, dim: W },
    tensors: { image: a.image, cls: a.cls, pos: a.pos, out: a.out },
    textures: { w: a.weight },
    workgroups: [
      Math.ceil(W / wgslConst(patchEmbedTextureKernel, 'NB')),
      Math.ceil((B * g * g) / wgslConst(patchEmbedTextureKernel, 'MR')),
    ],
  });
}
