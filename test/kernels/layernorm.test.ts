import { describe, expect, it } from 'vitest';
import { layerNorm, layerNormTexture } from '../../src/kernels/layernorm.js';
import {
  createMatrixTexture,
  matrixTextureWidth,
  readMatrixTexture,
} from '../../src/kernels/program/texture-matrix.js';
import { layerNormBound, layerNormRef } from '../../reference/layernorm.js';
import { poisoned, readback, rng, run, testDevice, upload, worstRatio } from '../helpers/gpu.js';

describe('layernorm', () => {
  // rows not multiples of anything; dims below, at and far above the 128-wide workgroup, odd ones too.
  const cases: [number, number][] = [
    [1, 192],
    [37, 288],
    [197, 1076],
    [3, 7],
    [2, 1536],
  ];
  it.each(cases)('rows=%i dim=%i matches the float64 reference', async (rows, dim) => {
    const device = await testDevice();
    const r = rng(rows * 1000 + dim);
    // An offset mean and non-unit scale make the two-pass statistics matter.
    const x = r.normals(rows * dim, 2, 0.7);
    const gamma = r.normals(dim, 0.2, 1);
    const beta = r.normals(dim, 0.5);
    const y = poisoned(device, [rows, dim]);
    await run(
      device,
      layerNorm(device, {
        x: upload(device, x, [rows, dim]),
        gamma: upload(device, gamma, [dim]),
        beta: upload(device, beta, [dim]),
        y,
        eps: 1e-6,
      }),
    );
    const got = await readback(device, y);
    const want = layerNormRef(x, rows, dim, gamma, beta, 1e-6);
    const bound = layerNormBound(x, rows, dim, gamma, beta, 1e-6);
    const { ratio, index } = worstRatio(got, want, (i) => bound[i]!);
    expect(ratio, `worst at ${index}: got ${got[index]}, want ${want[index]}`).toBeLessThanOrEqual(1);
  });

  it('accepts a leading batch axis ([B, N, W])', async () => {
    const device = await testDevice();
    const r = rng(5);
    const x = r.normals(2 * 5 * 24);
    const gamma = r.normals(24, 0.2, 1),
      beta = r.normals(24);
    const y = poisoned(device, [2, 5, 24]);
    await run(
      device,
      layerNorm(device, {
        x: upload(device, x, [2, 5, 24]),
        gamma: upload(device, gamma, [24]),
        beta: upload(device, beta, [24]),
        y,
        eps: 1e-6,
      }),
    );
    const got = await readback(device, y);
    const want = layerNormRef(x, 10, 24, gamma, beta, 1e-6),
      bound = layerNormBound(x, 10, 24, gamma, beta, 1e-6);
    expect(worstRatio(got, want, (i) => bound[i]!).ratio).toBeLessThanOrEqual(1);
  });
});

// The matrix-texture form (CPU adapters): the same cases against the same reference and bound, rows
// row0 .. of x, and zeros in the texture's row padding (read back as part of a wider matrix).
describe('layernorm_texture', () => {
  const cases: [number, number, number, number][] = [
    [1, 192, 0, 1],
    [37, 288, 0, 37],
    [197, 1076, 0, 197],
    [3, 7, 0, 3],
    [2, 1536, 0, 2],
    [40, 20, 13, 9],
  ];
  it.each(cases)('rows=%i dim=%i (rows %i, %i of them) matches the float64 reference', async (M, dim, row0, rows) => {
    const device = await testDevice();
    const r = rng(M * 1000 + dim + 1);
    const x = r.normals(M * dim, 2, 0.7);
    const gamma = r.normals(dim, 0.2, 1);
    const beta = r.normals(dim, 0.5);
    const y = createMatrixTexture(device, rows, dim);
    await run(
      device,
      layerNormTexture(device, {
        x: upload(device, x, [M, dim]),
        gamma: upload(device, gamma, [dim]),
        beta: upload(device, beta, [dim]),
        y,
        eps: 1e-6,
        row0,
      }),
    );
    const got = await readMatrixTexture(device, y);
    const mine = x.subarray(row0 * dim, (row0 + rows) * dim);
    const want = layerNormRef(mine, rows, dim, gamma, beta, 1e-6);
    const bound = layerNormBound(mine, rows, dim, gamma, beta, 1e-6);
    const { ratio, index } = worstRatio(got, want, (i) => bound[i]!);
    expect(ratio, `worst at ${index}: got ${got[index]}, want ${want[index]}`).toBeLessThanOrEqual(1);
    // The padding of each row (up to a multiple of 8 values) is zero.
    const padded = matrixTextureWidth(dim) * 4;
    if (padded > dim) {
      const wide = await readMatrixTexture(device, { texture: y.texture, shape: [rows, padded] });
      for (let i = 0; i < rows; i++)
        expect([...wide.subarray(i * padded + dim, (i + 1) * padded)].every((v) => v === 0)).toBe(true);
    }
  });
  it('refuses rows outside x and a texture of another width, naming the argument', async () => {
    const device = await testDevice();
    const args = { x: upload(device, new Float32Array(12), [3, 4]), gamma: upload(device, new Float32Array(4), [4]) };
    const beta = upload(device, new Float32Array(4), [4]);
    expect(() =>
      layerNormTexture(device, { ...args, beta, y: createMatrixTexture(device, 2, 4), row0: 2, eps: 0 }),
    ).toThrow(/layernorm_texture: argument 'row0': rows 2 \.\. 3 are outside x's 3 rows/);
    expect(() => layerNormTexture(device, { ...args, beta, y: createMatrixTexture(device, 3, 5), eps: 0 })).toThrow(
      /argument 'y': expected a \[rows, 4\] matrix/,
    );
  });
});
