// Bad arguments give a KernelArgumentError naming the kernel and the argument, before anything
// is created or dispatched.
import { describe, expect, it } from 'vitest';
import * as kernels from '../../src/kernels/index.js';
import {
  attention,
  attentionTexture,
  createMatrixTexture,
  embedding,
  gemm,
  gemmTexture,
  layerNorm,
  layerNormTexture,
  meanPool,
  patchEmbed,
  patchEmbedTexture,
  patchPack,
  posembSincos,
  texturePack,
  KernelArgumentError,
} from '../../src/kernels/index.js';
import type { Dispatch, TensorRef, TextureRef } from '../../src/kernels/program/index.js';
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

  describe('a zero, negative or fractional dimension is refused at once, naming the argument that has it', () => {
    // A real buffer / texture under a shape that is not: what is checked is the shape itself.
    const t = (d: GPUDevice, shape: number[], dtype: 'f32' | 'u32' = 'f32'): TensorRef => ({
      buffer: f(d, [1024]).buffer,
      shape,
      dtype,
    });
    const tex = (d: GPUDevice, shape: [number, number]): TextureRef => ({ ...createMatrixTexture(d, 8, 8), shape });
    type Case = [string, string, (d: GPUDevice, n: number) => Dispatch];
    const cases: Case[] = [
      ['gemm K', 'x', (d, n) => gemm(d, { x: t(d, [4, n]), w: t(d, [3, n]), bias: null, y: t(d, [4, 3]) })],
      ['gemm M', 'x', (d, n) => gemm(d, { x: t(d, [n, 8]), w: t(d, [3, 8]), bias: null, y: t(d, [n, 3]) })],
      ['gemm N', 'w', (d, n) => gemm(d, { x: t(d, [4, 8]), w: t(d, [n, 8]), bias: null, y: t(d, [4, n]) })],
      [
        'layernorm rows',
        'x',
        (d, n) => layerNorm(d, { x: t(d, [n, 8]), gamma: t(d, [8]), beta: t(d, [8]), y: t(d, [n, 8]), eps: 1e-6 }),
      ],
      ['mean_pool tokens', 'x', (d, n) => meanPool(d, { x: t(d, [1, n, 8]), y: t(d, [1, 8]), skip: 0 })],
      ['attention tokens', 'qkv', (d, n) => attention(d, { qkv: t(d, [1, n, 24]), out: t(d, [1, n, 8]), heads: 1 })],
      ['attention batch', 'qkv', (d, n) => attention(d, { qkv: t(d, [n, 2, 24]), out: t(d, [n, 2, 8]), heads: 1 })],
      [
        'embedding tokens',
        'ids',
        (d, n) =>
          embedding(d, { ids: t(d, [1, n], 'u32'), table: t(d, [10, 8]), pos: t(d, [n, 8]), out: t(d, [1, n, 8]) }),
      ],
      [
        'patch_embed batch',
        'image',
        (d, n) =>
          patchEmbed(d, {
            image: t(d, [n, 3, 16, 16]),
            weight: t(d, [8, 3, 16, 16]),
            cls: t(d, [8]),
            pos: t(d, [2, 8]),
            out: t(d, [n, 2, 8]),
          }),
      ],
      ['posemb out', 'out', (d, n) => posembSincos(d, { omega: t(d, [2]), out: t(d, [5, n]), grid: 2 })],
      ['texture_pack rows', 'out', (d, n) => texturePack(d, { x: t(d, [4, 8]), out: tex(d, [n, 8]) })],
      ['texture_pack cols', 'x', (d, n) => texturePack(d, { x: t(d, [4, n]), out: tex(d, [4, n]) })],
      [
        'layernorm_texture rows',
        'y',
        (d, n) =>
          layerNormTexture(d, { x: t(d, [4, 8]), gamma: t(d, [8]), beta: t(d, [8]), y: tex(d, [n, 8]), eps: 1e-6 }),
      ],
      [
        'gemm_texture K',
        'x',
        (d, n) => gemmTexture(d, { x: tex(d, [4, n]), w: tex(d, [3, n]), bias: null, y: t(d, [4, 3]) }),
      ],
      [
        'gemm_texture N',
        'w',
        (d, n) => gemmTexture(d, { x: tex(d, [4, 8]), w: tex(d, [n, 8]), bias: null, y: t(d, [4, n]) }),
      ],
      [
        'attention_texture rows',
        'qkv',
        (d, n) => attentionTexture(d, { qkv: tex(d, [n, 24]), out: t(d, [1, 2, 8]), tokens: 2, heads: 1 }),
      ],
      [
        'patch_pack rows',
        'out',
        (d, n) => patchPack(d, { image: t(d, [1, 3, 16, 16]), patchSize: 16, out: tex(d, [n, 768]) }),
      ],
      [
        'patch_embed_texture rows',
        'patches',
        (d, n) =>
          patchEmbedTexture(d, {
            patches: tex(d, [n, 768]),
            weight: tex(d, [8, 768]),
            cls: t(d, [8]),
            pos: t(d, [2, 8]),
            out: t(d, [1, 2, 8]),
          }),
      ],
    ];
    it.each(cases.flatMap(([name, arg, call]) => [0, -2, 1.5].map((n) => [`${name} = ${n}`, arg, n, call] as const)))(
      '%s: names %s',
      async (_, arg, n, call) => {
        const d = await testDevice();
        let err: unknown;
        try {
          call(d, n);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(KernelArgumentError);
        expect((err as KernelArgumentError).argument).toBe(arg);
        expect((err as Error).message).toMatch(new RegExp(`must be a positive integer, got ${n}`.replace('.', '\\.')));
      },
    );
  });

  it('an unknown key in the arguments is refused (every wrapper), naming it, a near known key and the known ones', async () => {
    const d = await testDevice();
    // every kernel wrapper of wgsl-vit/kernels: a function (device, args) whose key list is KeyList<its Args>
    const wrappers: [string, (device: GPUDevice, a: never) => unknown, string][] = [
      ['gemm', kernels.gemm, 'x, w, bias, y, epilogue, tile, f16Loads, variant, splitK, precision'],
      ['gemm_splitk_reduce', kernels.gemmSplitKReduce, 'partials, bias, y, epilogue, scale'],
      ['gemm_texture', kernels.gemmTexture, 'x, w, bias, y, epilogue, row0'],
      ['attention', kernels.attention, 'qkv, out, heads, scale, causal, variant, permuteLanes, keySplits, precision'],
      ['attention_texture', kernels.attentionTexture, 'qkv, tokens, out, heads, batch0, scale, causal'],
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
