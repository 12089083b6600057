import { describe, expect, it } from 'vitest';
import { layerNorm } from '../../src/kernels/layernorm.js';
import { layerNormBound, layerNormRef } from '../reference/layernorm.js';
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
