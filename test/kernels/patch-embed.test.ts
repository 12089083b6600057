import { describe, expect, it } from 'vitest';
import { patchEmbed, patchEmbedTexture } from '../../src/kernels/patch-embed.js';
import { hasSubgroupsOf8 } from '../../src/kernels/adapter-kind.js';
import { uploadMatrixTexture } from '../../src/kernels/texture-matrix.js';
import { GEMM_TILES, type GemmTile } from '../../src/kernels/gemm-tile.js';
import { patchEmbedRef } from '../reference/patch-embed.js';
import { poisoned, readback, rng, run, testDevice, upload, worstRatio } from '../helpers/gpu.js';

describe('patch_embed', () => {
  // [B, S, p, W]: the family's patch sizes 8, 14, 16; grids whose patch count is not a tile multiple.
  const cases: [number, number, number, number][] = [
    [2, 32, 16, 192],
    [1, 42, 14, 72],
    [3, 24, 8, 40],
    [1, 84, 14, 144],
    [2, 16, 16, 65],
  ];
  const check = async (B: number, S: number, p: number, W: number, tile?: GemmTile) => {
    const device = await testDevice();
    const g = S / p;
    const r = rng(B * 1000 + S * 10 + p);
    const image = r.normals(B * 3 * S * S),
      weight = r.normals(W * 3 * p * p, 0.05);
    const cls = r.normals(W),
      pos = r.normals((1 + g * g) * W);
    const out = poisoned(device, [B, 1 + g * g, W]);
    await run(
      device,
      patchEmbed(device, {
        image: upload(device, image, [B, 3, S, S]),
        weight: upload(device, weight, [W, 3, p, p]),
        cls: upload(device, cls, [W]),
        pos: upload(device, pos, [1 + g * g, W]),
        out,
        tile,
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
});

// The matrix-texture form (CPU adapters): the same cases and bound, plus a grid whose patch count
// is not a multiple of its 16-patch block across batches and a width not a multiple of 32.
describe('patch_embed_texture', () => {
  const cases: [number, number, number, number][] = [
    [2, 32, 16, 192],
    [1, 42, 14, 72],
    [3, 24, 8, 40],
    [1, 84, 14, 144],
    [2, 16, 16, 65],
    [3, 42, 14, 33],
  ];
  it.each(cases)('B=%i S=%i p=%i W=%i', async (B, S, p, W) => {
    const device = await testDevice();
    if (!hasSubgroupsOf8(device)) return console.log('no 8-lane subgroups on this adapter: not run');
    const g = S / p;
    const r = rng(B * 1000 + S * 10 + p + 1);
    const image = r.normals(B * 3 * S * S),
      weight = r.normals(W * 3 * p * p, 0.05);
    const cls = r.normals(W),
      pos = r.normals((1 + g * g) * W);
    const out = poisoned(device, [B, 1 + g * g, W]);
    await run(
      device,
      patchEmbedTexture(device, {
        image: upload(device, image, [B, 3, S, S]),
        weight: uploadMatrixTexture(device, weight, W, 3 * p * p),
        cls: upload(device, cls, [W]),
        pos: upload(device, pos, [1 + g * g, W]),
        out,
      }),
    );
    const got = await readback(device, out);
    const ref = patchEmbedRef(image, B, S, weight, W, p, cls, pos);
    const { ratio, index } = worstRatio(got, ref.out, (i) => ref.bound[i]!);
    expect(ratio, `worst at ${index}: got ${got[index]}, want ${ref.out[index]}`).toBeLessThanOrEqual(1);
  });
});
