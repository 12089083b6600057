import { describe, expect, it } from 'vitest';
import { gemm, type GemmEpilogue } from '../../src/kernels/gemm.js';
import { gemmRef } from '../reference/gemm.js';
import { poisoned, readback, rng, run, testDevice, upload, worstRatio } from '../helpers/gpu.js';

describe('gemm', () => {
  // [M, K, N]: not multiples of the 64×64×16 tile, M = 1, odd K (an MLP width of 538 / 1076), B > 1.
  const shapes: [number, number, number][] = [[1, 192, 576], [37, 288, 288], [197, 1076, 193], [64, 16, 64], [5, 538, 144], [130, 7, 3]];
  const epilogues: GemmEpilogue[] = ['none', 'gelu', 'residual'];
  for (const [M, K, N] of shapes) {
    for (const epilogue of epilogues) {
      it(`M=${M} K=${K} N=${N} epilogue=${epilogue}`, async () => {
        const device = await testDevice();
        const r = rng(M * 7 + K * 13 + N + epilogue.length);
        const x = r.normals(M * K), w = r.normals(N * K, 1 / Math.sqrt(K)), b = r.normals(N, 0.5);
        const y0 = r.normals(M * N);
        const y = epilogue === 'residual' ? upload(device, y0, [M, N]) : poisoned(device, [M, N]);
        await run(device, gemm(device, { x: upload(device, x, [M, K]), w: upload(device, w, [N, K]), bias: upload(device, b, [N]), y, epilogue }));
        const got = await readback(device, y);
        const ref = gemmRef(x, M, K, w, N, b, epilogue, y0);
        const { ratio, index } = worstRatio(got, ref.y, (i) => ref.bound[i]!);
        expect(ratio, `worst at ${index}: got ${got[index]}, want ${ref.y[index]}`).toBeLessThanOrEqual(1);
      });
    }
  }

  it('without bias, with a batch axis ([B, N, K] · [E, K]ᵀ)', async () => {
    const device = await testDevice();
    const r = rng(11);
    const x = r.normals(3 * 10 * 40), w = r.normals(24 * 40);
    const y = poisoned(device, [3, 10, 24]);
    await run(device, gemm(device, { x: upload(device, x, [3, 10, 40]), w: upload(device, w, [24, 40]), bias: null, y }));
    const got = await readback(device, y);
    const ref = gemmRef(x, 30, 40, w, 24, null, 'none');
    expect(worstRatio(got, ref.y, (i) => ref.bound[i]!).ratio).toBeLessThanOrEqual(1);
  });

  it('GELU is the exact erf form, not the tanh approximation', async () => {
    // At v = -2.5 the two differ by ~2.6e-4, far above the bound: a tanh GELU fails this test.
    const device = await testDevice();
    const vals = new Float32Array([-6, -2.5, -1, -0.1, 0, 0.3, 1.7, 4]);
    const y = poisoned(device, [8, 1]);
    await run(device, gemm(device, {
      x: upload(device, vals, [8, 1]), w: upload(device, new Float32Array([1]), [1, 1]), bias: null, y, epilogue: 'gelu',
    }));
    const got = await readback(device, y);
    const ref = gemmRef(vals, 8, 1, [1], 1, null, 'gelu');
    expect(worstRatio(got, ref.y, (i) => ref.bound[i]!).ratio).toBeLessThanOrEqual(1);
  });
});
