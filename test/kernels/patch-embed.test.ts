import { describe, expect, it } from 'vitest';
import { patchEmbed, patchEmbedTexture, patchPack } from '../../src/kernels/patch-embed.js';
import { hasSubgroupsOf8 } from '../../src/kernels/choose/adapter.js';
import {
  createMatrixTexture,
  readMatrixTexture,
  uploadWeightTexture,
} from '../../src/kernels/program/texture-matrix.js';
import { uploadWeight } from '../../src/kernels/program/harness.js';
import type { WeightDType } from '../../src/kernels/program/types.js';
import type { F16Loads } from '../../src/kernels/program/weight-format.js';
import { GEMM_TILES, type GemmTile } from '../../src/kernels/gemm-tile.js';
import { patchEmbedRef } from '../../reference/patch-embed.js';
import { poisoned, readback, rng, run, testDevice, upload, weightAs, worstRatio } from '../helpers/gpu.js';

describe('patch_embed', () => {
  // [B, S, p, W]: the family's patch sizes 8, 14, 16; grids whose patch count is not a tile multiple.
  const cases: [number, number, number, number][] = [
    [2, 32, 16, 192],
    [1, 42, 14, 72],
    [3, 24, 8, 40],
    [1, 84, 14, 144],
    [2, 16, 16, 65],
  ];
  const check = async (
    B: number,
    S: number,
    p: number,
    W: number,
    tile?: GemmTile,
    dtype: WeightDType = 'f32',
    f16Loads?: F16Loads,
  ) => {
    const device = await testDevice();
    const g = S / p;
    const r = rng(B * 1000 + S * 10 + p);
    const image = r.normals(B * 3 * S * S),
      wq = weightAs(dtype, r.normals(W * 3 * p * p, 0.05), W, 3 * p * p),
      weight = wq.values;
    const cls = r.normals(W),
      pos = r.normals((1 + g * g) * W);
    const out = poisoned(device, [B, 1 + g * g, W]);
    await run(
      device,
      patchEmbed(device, {
        image: upload(device, image, [B, 3, S, S]),
        // f16 and q8 weights are [W, 3·p·p] (weight-format.ts); f32 as the conv's [W, 3, p, p].
        weight: dtype === 'f32' ? upload(device, weight, [W, 3, p, p]) : uploadWeight(device, wq.stored, W, 3 * p * p),
        cls: upload(device, cls, [W]),
        pos: upload(device, pos, [1 + g * g, W]),
        out,
        tile,
        f16Loads,
      }),
    );
    const got = await readback(device, out);
    const ref = patchEmbedRef(image, B, S, weight, W, p, cls, pos);
    const { ratio, index } = worstRatio(got, ref.out, (i) => ref.bound[i]!);
    expect(ratio, `worst at ${index}: got ${got[index]}, want ${ref.out[index]}`).toBeLessThanOrEqual(1);
  };
  it.each(cases)('B=%i S=%i p=%i W=%i', (B, S, p, W) => check(B, S, p, W));
  // Other tiles, wider than the patch count or the width, and one whose workgroup (16×4 = 64
  // invocations) is smaller than its block's 128 columns (the class-token rows are written in a loop).
  const tiles: [string, GemmTile][] = [
    ...['128x128k8', '64x128k16', '128x64k16'].map((n) => [n, GEMM_TILES[n]!] as [string, GemmTile]),
    ['32x128k8', { wgX: 16, wgY: 4, bk: 8 }],
  ];
  it.each(tiles)('tile %s: B=2 S=42 p=14 W=200', (_, tile) => check(2, 42, 14, 200, tile));
  // f16 and q8 weights (K = 3·p·p = 588 for p = 14: not a multiple of 8 or 16, padded packed rows).
  for (const [dtype, f16Loads] of [
    ['f16', 'packed'],
    ['f16', 'native'],
    ['q8', undefined],
  ] as const) {
    it.each(cases.slice(0, 3))(
      `${dtype}${f16Loads ? ` (${f16Loads} loads)` : ''} weights: B=%i S=%i p=%i W=%i`,
      async (B, S, p, W) => {
        const device = await testDevice();
        if (f16Loads === 'native' && !device.features.has('shader-f16')) return; // no shader-f16: the packed row covers it
        await check(B, S, p, W, undefined, dtype, f16Loads);
      },
    );
  }
});

// The matrix-texture form (CPU adapters): patch_pack (im2col into a matrix texture; a copy, so equal
// to the reference's gather) then patch_embed_texture, against the same reference and bound; also
// in chunks of patches (patch0), as the graph runs a tall batch, and shapes that are not multiples
// of its 24-patch × 32-column block.
describe('patch_pack and patch_embed_texture', () => {
  const cases: [number, number, number, number, number][] = [
    [2, 32, 16, 192, 0],
    [1, 42, 14, 72, 0],
    [3, 24, 8, 40, 0],
    [1, 84, 14, 144, 0],
    [2, 16, 16, 65, 0],
    [3, 42, 14, 33, 5],
    [2, 24, 8, 40, 17],
  ];
  // f16 and q8 weight textures on three of the cases (one chunked).
  const dtypeCases = (['f32', 'f16', 'q8'] as const).flatMap((d) =>
    (d === 'f32' ? cases : [cases[1]!, cases[2]!, cases[5]!]).map((c) => [...c, d] as const),
  );
  it.for(dtypeCases)(
    'B=%i S=%i p=%i W=%i (chunks of %i patches; 0: one) %s weights',
    async ([B, S, p, W, chunk, dtype], ctx) => {
      const device = await testDevice();
      if (!hasSubgroupsOf8(device)) return ctx.skip('no 8-lane subgroups on this adapter: not run');
      const g = S / p,
        K = 3 * p * p,
        patches = B * g * g;
      const r = rng(B * 1000 + S * 10 + p + 1);
      const image = r.normals(B * 3 * S * S),
        wq = weightAs(dtype, r.normals(W * K, 0.05), W, K),
        weight = wq.values;
      const cls = r.normals(W),
        pos = r.normals((1 + g * g) * W);
      const out = poisoned(device, [B, 1 + g * g, W]);
      const img = upload(device, image, [B, 3, S, S]);
      const wt = uploadWeightTexture(device, wq.stored, W, K);
      const [clsT, posT] = [upload(device, cls, [W]), upload(device, pos, [1 + g * g, W])];
      const step = chunk || patches;
      for (let patch0 = 0; patch0 < patches; patch0 += step) {
        const rows = Math.min(step, patches - patch0);
        const xt = createMatrixTexture(device, rows, K);
        await run(device, patchPack(device, { image: img, patchSize: p, out: xt, patch0 }));
        // The packed rows are the patches' values in the conv weight's (c, ky, kx) order.
        const packed = await readMatrixTexture(device, xt);
        for (const row of [0, rows - 1]) {
          const m = patch0 + row,
            b = Math.floor(m / (g * g)),
            t = m % (g * g);
          for (const kk of [0, K - 1]) {
            const c = Math.floor(kk / (p * p)),
              ky = Math.floor((kk % (p * p)) / p),
              kx = kk % p;
            const want = image[((b * 3 + c) * S + Math.floor(t / g) * p + ky) * S + (t % g) * p + kx]!;
            expect(packed[row * K + kk]).toBe(want);
          }
        }
        await run(device, patchEmbedTexture(device, { patches: xt, weight: wt, cls: clsT, pos: posT, out, patch0 }));
      }
      const got = await readback(device, out);
      const ref = patchEmbedRef(image, B, S, weight, W, p, cls, pos);
      const { ratio, index } = worstRatio(got, ref.out, (i) => ref.bound[i]!);
      expect(ratio, `worst at ${index}: got ${got[index]}, want ${ref.out[index]}`).toBeLessThanOrEqual(1);
    },
  );
  it('refuses a patch range outside the batch and mismatched widths, naming the argument', async (ctx) => {
    const device = await testDevice();
    if (!hasSubgroupsOf8(device)) return ctx.skip('no 8-lane subgroups on this adapter: not run');
    const img = upload(device, new Float32Array(2 * 3 * 16 * 16), [2, 3, 16, 16]);
    expect(() =>
      patchPack(device, { image: img, patchSize: 8, out: createMatrixTexture(device, 4, 192), patch0: 5 }),
    ).toThrow(/patch_pack: argument 'patch0': patches 5 \.\. 8 are outside the batch's 8/);
    expect(() => patchPack(device, { image: img, patchSize: 8, out: createMatrixTexture(device, 4, 191) })).toThrow(
      /argument 'out': expected a \[rows, 192\] matrix/,
    );
    expect(() => patchPack(device, { image: img, patchSize: 5, out: createMatrixTexture(device, 4, 75) })).toThrow(
      /resolution 16 is not divisible by the patch size 5/,
    );
  });
});
