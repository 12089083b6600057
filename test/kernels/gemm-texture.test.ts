import { describe, expect, it } from 'vitest';
import { canRunSubgroupGemm, type GemmEpilogue } from '../../src/kernels/gemm.js';
import { gemmTexture } from '../../src/kernels/gemm-texture.js';
import {
  createMatrixTexture,
  matrixTextureWidth,
  readMatrixTexture,
  uploadMatrixTexture,
  uploadWeightTexture,
} from '../../src/kernels/program/texture-matrix.js';
import type { WeightDType } from '../../src/kernels/program/types.js';
import { KernelArgumentError } from '../../src/errors.js';
import { gemmRef } from '../../reference/gemm.js';
import { readback, rng, run, testDevice, upload, weightAs, worstRatio } from '../helpers/gpu.js';

/**
 * gemm_texture on seeded data, every element against the float64 reference's bound (the same
 * bound as the other GEMM variants: the sum of |x·w| terms times a few f32 ulps). With `row0` the
 * rows go to y[row0 : row0 + M] of a taller y whose other rows must keep their values.
 */
async function checkGemmTexture(
  M: number,
  K: number,
  N: number,
  epilogue: GemmEpilogue,
  seed: number,
  row0 = 0,
  dtype: WeightDType = 'f32',
) {
  const device = await testDevice();
  const r = rng(seed);
  const x = r.normals(M * K),
    wq = weightAs(dtype, r.normals(N * K, 1 / Math.sqrt(K)), N, K),
    w = wq.values,
    b = r.normals(N, 0.5);
  const rows = row0 + M + 3; // y rows outside this call's range must be left alone
  const y0 = r.normals(rows * N);
  const y = upload(device, y0, [rows, N]);
  await run(
    device,
    gemmTexture(device, {
      x: uploadMatrixTexture(device, x, M, K),
      w: uploadWeightTexture(device, wq.stored, N, K),
      bias: upload(device, b, [N]),
      y,
      epilogue,
      row0,
    }),
  );
  const got = await readback(device, y);
  const ref = gemmRef(x, M, K, w, N, b, epilogue, y0.subarray(row0 * N, (row0 + M) * N));
  const mine = got.subarray(row0 * N, (row0 + M) * N);
  const { ratio, index } = worstRatio(mine, ref.y, (i) => ref.bound[i]!);
  expect(ratio, `worst at ${index}: got ${mine[index]}, want ${ref.y[index]}`).toBeLessThanOrEqual(1);
  expect([...got.subarray(0, row0 * N)]).toEqual([...y0.subarray(0, row0 * N)]);
  expect([...got.subarray((row0 + M) * N)]).toEqual([...y0.subarray((row0 + M) * N)]);
}

// The texture variant (CPU adapters with 8-lane subgroups): the GEMM test matrix, shapes around
// its 24 × 32 block and 8-step k loop, K not a multiple of 4 or 8 (zero-padded texture rows).
describe('gemm_texture', () => {
  const shapes: [number, number, number][] = [
    [1, 192, 576],
    [37, 288, 288],
    [197, 1076, 193],
    [5, 538, 144],
    [130, 7, 3],
    [24, 8, 32],
    [25, 12, 33],
    [197, 20, 5],
    [64, 16, 64],
  ];
  const epilogues: GemmEpilogue[] = ['none', 'gelu', 'residual', 'gelu_tanh', 'quick_gelu'];
  for (const [M, K, N] of shapes) {
    for (const epilogue of epilogues) {
      it(`M=${M} K=${K} N=${N} epilogue=${epilogue}`, async (ctx) => {
        const device = await testDevice();
        if (!canRunSubgroupGemm(device)) return ctx.skip('no 8-lane subgroups on this adapter: not run');
        await checkGemmTexture(M, K, N, epilogue, M * 7 + K * 13 + N + epilogue.length + 2);
      });
    }
  }
  // Output into a matrix texture (for a consumer reading textures): every activation epilogue, N not
  // a multiple of 4 or 8 (its last texel part padding), the padding zero.
  for (const [M, K, N, epilogue] of [
    [197, 192, 576, 'none'],
    [37, 288, 1076, 'gelu'],
    [25, 12, 33, 'gelu_tanh'],
    [30, 20, 70, 'quick_gelu'],
    [1, 8, 3, 'none'],
  ] as const) {
    it(`into a matrix texture: M=${M} K=${K} N=${N} epilogue=${epilogue}`, async () => {
      const device = await testDevice();
      if (!canRunSubgroupGemm(device)) return;
      const r = rng(M + K + N);
      const x = r.normals(M * K),
        w = r.normals(N * K, 1 / Math.sqrt(K)),
        b = r.normals(N, 0.5);
      const yt = createMatrixTexture(device, M, N);
      await run(
        device,
        gemmTexture(device, {
          x: uploadMatrixTexture(device, x, M, K),
          w: uploadMatrixTexture(device, w, N, K),
          bias: upload(device, b, [N]),
          y: yt,
          epilogue,
        }),
      );
      const padded = matrixTextureWidth(N) * 4;
      const wide = await readMatrixTexture(device, { texture: yt.texture, shape: [M, padded] });
      const got = new Float32Array(M * N);
      for (let i = 0; i < M; i++) {
        got.set(wide.subarray(i * padded, i * padded + N), i * N);
        expect([...wide.subarray(i * padded + N, (i + 1) * padded)].every((v) => v === 0)).toBe(true);
      }
      const ref = gemmRef(x, M, K, w, N, b, epilogue);
      const { ratio, index } = worstRatio(got, ref.y, (i) => ref.bound[i]!);
      expect(ratio, `worst at ${index}: got ${got[index]}, want ${ref.y[index]}`).toBeLessThanOrEqual(1);
    });
  }
  it('a texture output takes neither the residual epilogue nor a row0', async () => {
    const device = await testDevice();
    if (!canRunSubgroupGemm(device)) return;
    const t = (rows: number, cols: number) => uploadMatrixTexture(device, new Float32Array(rows * cols), rows, cols);
    expect(() =>
      gemmTexture(device, {
        x: t(4, 8),
        w: t(3, 8),
        bias: null,
        y: createMatrixTexture(device, 4, 3),
        epilogue: 'residual',
      }),
    ).toThrow(/argument 'y': a texture output takes neither/);
    expect(() =>
      gemmTexture(device, { x: t(4, 8), w: t(3, 8), bias: null, y: createMatrixTexture(device, 5, 3) }),
    ).toThrow(/argument 'y': expected a \[4, 3\] matrix texture/);
  });
  // f16 (8 values per texel) and q8 (16 per texel, half a texel per step) weight textures: K not a
  // multiple of 8 or 16 (padded rows), every epilogue once, against the dequantized weight's reference.
  for (const dtype of ['f16', 'q8'] as const) {
    for (const [M, K, N, epilogue] of [
      [1, 192, 576, 'none'],
      [37, 288, 288, 'gelu'],
      [197, 1076, 193, 'residual'],
      [130, 7, 3, 'gelu_tanh'],
      [25, 12, 33, 'residual'],
      [5, 24, 40, 'quick_gelu'],
    ] as const) {
      it(`${dtype} weights: M=${M} K=${K} N=${N} epilogue=${epilogue}`, async (ctx) => {
        const device = await testDevice();
        if (!canRunSubgroupGemm(device)) return ctx.skip('no 8-lane subgroups on this adapter: not run');
        await checkGemmTexture(M, K, N, epilogue, M + K + N + dtype.length, 0, dtype);
      });
    }
  }
  it('writes rows row0 .. row0 + M - 1 of y and nothing else (a chunk of a tall matrix)', async () => {
    const device = await testDevice();
    if (!canRunSubgroupGemm(device)) return;
    await checkGemmTexture(30, 40, 36, 'residual', 5, 17);
    await checkGemmTexture(1, 8, 3, 'none', 6, 2);
  });
  it('refuses mismatched shapes and a y too short for row0 + M, naming the argument', async () => {
    const device = await testDevice();
    if (!canRunSubgroupGemm(device)) return;
    const t = (rows: number, cols: number) => uploadMatrixTexture(device, new Float32Array(rows * cols), rows, cols);
    const y = upload(device, new Float32Array(12), [4, 3]);
    expect(() => gemmTexture(device, { x: t(4, 5), w: t(3, 6), bias: null, y })).toThrow(
      /gemm_texture: argument 'x': expected \[M, 6\]/,
    );
    expect(() => gemmTexture(device, { x: t(4, 6), w: t(3, 6), bias: null, y, row0: 1 })).toThrow(
      /argument 'y': expected \[\.\.\., 3\] with at least 5 rows/,
    );
    expect(() =>
      gemmTexture(device, { x: t(4, 6), w: t(3, 6), bias: upload(device, new Float32Array(4), [4]), y }),
    ).toThrow(KernelArgumentError);
    // A texture too small for the shape it claims.
    const small = t(2, 6);
    expect(() =>
      gemmTexture(device, { x: { texture: small.texture, shape: [4, 6] }, w: t(3, 6), bias: null, y }),
    ).toThrow(/argument 'x': a 2×2 texture cannot hold a \[4, 6\] matrix/);
  });
});

describe('weight dtype arguments', () => {
  it('a q8 weight without its scales, or scales on another dtype, is refused naming the argument', async () => {
    const device = await testDevice();
    if (!canRunSubgroupGemm(device)) return;
    const K = 16;
    const q8 = uploadWeightTexture(device, { q: new Int8Array(2 * K), scale: new Float32Array(2) }, 2, K);
    const f16 = uploadWeightTexture(device, new Uint16Array(2 * K), 2, K);
    const args = {
      x: uploadMatrixTexture(device, new Float32Array(K), 1, K),
      bias: null,
      y: upload(device, new Float32Array(2), [1, 2]),
    };
    expect(() => gemmTexture(device, { ...args, w: { ...q8, scale: undefined } })).toThrow(
      /argument 'w': a 'q8' weight needs its per-row scales/,
    );
    expect(() => gemmTexture(device, { ...args, w: { ...f16, scale: q8.scale } })).toThrow(
      /argument 'w': scales are for 'q8' weights only, got dtype f16/,
    );
    expect(() =>
      gemmTexture(device, { ...args, w: { ...q8, scale: upload(device, new Float32Array(3), [3]) } }),
    ).toThrow(/argument 'w\.scale': expected shape \[2\]/);
  });
});
