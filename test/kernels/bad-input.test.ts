// Bad arguments give a KernelArgumentError naming the kernel and the argument, before anything
// is created or dispatched.
import { describe, expect, it } from 'vitest';
import * as kernels from '../../src/kernels/index.js';
import {
  attention,
  gemm,
  layerNorm,
  meanPool,
  patchEmbed,
  posembSincos,
  KernelArgumentError,
} from '../../src/kernels/index.js';
import type { TensorRef } from '../../src/kernels/program/index.js';
import { elementCount } from '../../src/shape.js';
import { testDevice, upload } from '../helpers/gpu.js';

const f = (device: GPUDevice, shape: number[]): TensorRef =>
  upload(device, new Float32Array(elementCount(shape)), shape);

describe('kernel argument checks', () => {
  it('gemm: K mismatch names x', async () => {
    const d = await testDevice();
    expect(() => gemm(d, { x: f(d, [4, 8]), w: f(d, [3, 9]), bias: null, y: f(d, [4, 3]) })).toThrow(
      /gemm: argument 'x': expected \[\.\.\., 9\]/,
    );
  });
  it('gemm: wrong output shape names y', async () => {
    const d = await testDevice();
    expect(() => gemm(d, { x: f(d, [4, 8]), w: f(d, [3, 8]), bias: null, y: f(d, [4, 4]) })).toThrow(/argument 'y'/);
  });
  it('gemm: bias of the wrong length', async () => {
    const d = await testDevice();
    expect(() => gemm(d, { x: f(d, [4, 8]), w: f(d, [3, 8]), bias: f(d, [4]), y: f(d, [4, 3]) })).toThrow(
      /argument 'bias'/,
    );
  });
  it('a wrong dtype is refused', async () => {
    const d = await testDevice();
    const x = { ...f(d, [4, 8]), dtype: 'f16' as unknown as 'f32' };
    expect(() => gemm(d, { x, w: f(d, [3, 8]), bias: null, y: f(d, [4, 3]) })).toThrow(
      /argument 'x': expected dtype f32, got f16/,
    );
  });
  it('a buffer smaller than its shape says so', async () => {
    const d = await testDevice();
    const small = { ...f(d, [2, 8]), shape: [4, 8] };
    expect(() => layerNorm(d, { x: small, gamma: f(d, [8]), beta: f(d, [8]), y: f(d, [4, 8]), eps: 1e-6 })).toThrow(
      /argument 'x': buffer of 64 bytes is too small/,
    );
  });
  it('an output aliasing an input is refused', async () => {
    const d = await testDevice();
    const x = f(d, [4, 8]);
    expect(() => layerNorm(d, { x, gamma: f(d, [8]), beta: f(d, [8]), y: x, eps: 1e-6 })).toThrow(/shares its buffer/);
  });
  it('a tensor over maxStorageBufferBindingSize is refused', async () => {
    const d = await testDevice();
    const max = d.limits.maxStorageBufferBindingSize;
    const rows = Math.floor(max / 4 / 1024) + 1;
    const huge = { buffer: f(d, [4]).buffer, shape: [rows, 1024], dtype: 'f32' as const };
    // Either limit can trip first; both name the argument.
    expect(() => layerNorm(d, { x: huge, gamma: f(d, [1024]), beta: f(d, [1024]), y: huge, eps: 1e-6 })).toThrow(
      /layernorm: argument 'x'/,
    );
  });
  it('layernorm: gamma of the wrong size', async () => {
    const d = await testDevice();
    expect(() =>
      layerNorm(d, { x: f(d, [4, 8]), gamma: f(d, [7]), beta: f(d, [8]), y: f(d, [4, 8]), eps: 1e-6 }),
    ).toThrow(/argument 'gamma'/);
  });
  it('attention: heads that do not divide the width, and unsupported head dims', async () => {
    const d = await testDevice();
    expect(() => attention(d, { qkv: f(d, [1, 5, 3 * 64]), out: f(d, [1, 5, 64]), heads: 3 })).toThrow(
      /argument 'heads'/,
    );
    expect(() => attention(d, { qkv: f(d, [1, 5, 3 * 66]), out: f(d, [1, 5, 66]), heads: 1 })).toThrow(/head dim 66/);
    expect(() => attention(d, { qkv: f(d, [1, 5, 100]), out: f(d, [1, 5, 64]), heads: 1 })).toThrow(/argument 'qkv'/);
  });
  it('patch_embed: a resolution not divisible by the patch size', async () => {
    const d = await testDevice();
    expect(() =>
      patchEmbed(d, {
        image: f(d, [1, 3, 30, 30]),
        weight: f(d, [8, 3, 16, 16]),
        cls: f(d, [8]),
        pos: f(d, [2, 8]),
        out: f(d, [1, 2, 8]),
      }),
    ).toThrow(/argument 'image': resolution 30 is not divisible by the patch size 16/);
  });
  it('patch_embed: a position table for another grid', async () => {
    const d = await testDevice();
    expect(() =>
      patchEmbed(d, {
        image: f(d, [1, 3, 32, 32]),
        weight: f(d, [8, 3, 16, 16]),
        cls: f(d, [8]),
        pos: f(d, [10, 8]),
        out: f(d, [1, 5, 8]),
      }),
    ).toThrow(/argument 'pos': expected shape \[5, 8\]/);
  });
  it('mean_pool: skip out of range; posemb: bad grid', async () => {
    const d = await testDevice();
    expect(() => meanPool(d, { x: f(d, [1, 3, 8]), y: f(d, [1, 8]), skip: 3 })).toThrow(/argument 'skip'/);
    expect(() => posembSincos(d, { omega: f(d, [2]), out: f(d, [5, 8]), grid: 0 })).toThrow(/argument 'grid'/);
  });
  it('errors are typed', async () => {
    const d = await testDevice();
    try {
      gemm(d, { x: f(d, [4, 8]), w: f(d, [3, 9]), bias: null, y: f(d, [4, 3]) });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(KernelArgumentError);
      expect((e as KernelArgumentError).argument).toBe('x');
    }
  });
  it('an unknown key in the arguments is refused (every wrapper), naming it, a near known key and the known ones', async () => {
    const d = await testDevice();
    // every kernel wrapper of wgsl-vit/kernels: a function (device, args) whose key list is KeyList<its Args>
    const wrappers: [string, (device: GPUDevice, a: never) => unknown, string][] = [
      ['gemm', kernels.gemm, 'x, w, bias, y, epilogue, tile, f16Loads, variant'],
      ['gemm_texture', kernels.gemmTexture, 'x, w, bias, y, epilogue, row0'],
      ['attention', kernels.attention, 'qkv, out, heads, scale, variant, permuteLanes'],
      ['attention_texture', kernels.attentionTexture, 'qkv, tokens, out, heads, batch0, scale'],
      ['layernorm', kernels.layerNorm, 'x, gamma, beta, y, eps'],
      ['layernorm_texture', kernels.layerNormTexture, 'x, gamma, beta, y, eps, row0'],
      ['texture_pack', kernels.texturePack, 'x, out, row0'],
      ['patch_embed', kernels.patchEmbed, 'image, weight, cls, pos, out, tile, f16Loads'],
      ['patch_pack', kernels.patchPack, 'image, patchSize, out, patch0'],
      ['patch_embed_texture', kernels.patchEmbedTexture, 'patches, weight, cls, pos, out, patch0'],
      ['mean_pool', kernels.meanPool, 'x, y, skip'],
      ['embedding', kernels.embedding, 'ids, table, pos, out, f16Loads'],
      ['posemb_sincos', kernels.posembSincos, 'omega, out, grid'],
    ];
    for (const [name, fn, known] of wrappers) {
      let err: unknown = null;
      try {
        fn(d, { notAnArgument: 1 } as never);
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(KernelArgumentError);
      expect((err as Error).message).toBe(
        `${name}: argument 'notAnArgument': unknown argument; known arguments: ${known}`,
      );
      expect(() => fn(d, null as never)).toThrow(`${name}: argument 'args': must be an object of arguments, got null`);
    }
    // a misspelt optional argument next to valid ones, which would have been ignored
    const args = { x: f(d, [4, 8]), w: f(d, [3, 8]), bias: null, y: f(d, [4, 3]) };
    expect(() => gemm(d, { ...args, epilog: 'gelu' } as never)).toThrow(
      /^gemm: argument 'epilog': unknown argument \(did you mean 'epilogue'\?\); known arguments: x, w, bias/,
    );
    expect(() => gemm(d, { ...args, epilogue: 'gelu' })).not.toThrow();
    const qkv = { qkv: f(d, [1, 5, 3 * 64]), out: f(d, [1, 5, 64]), heads: 1 };
    expect(() => attention(d, { ...qkv, scael: 0.5 } as never)).toThrow(
      /attention: argument 'scael': unknown argument \(did you mean 'scale'\?\)/,
    );
    expect(() => attention(d, { ...qkv, scale: 0.5 })).not.toThrow();
  });
});
