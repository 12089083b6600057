import { describe, expect, it } from 'vitest';
import { meanPool } from '../../src/kernels/mean-pool.js';
import { meanPoolRef } from '../../reference/mean-pool.js';
import { poisoned, readback, rng, run, testDevice, upload, worstRatio } from '../helpers/gpu.js';

describe('mean_pool', () => {
  const cases: [number, number, number][] = [
    [1, 197, 192],
    [3, 37, 144],
    [2, 401, 65],
    [1, 2, 1],
  ];
  it.each(cases)('B=%i rows=%i dim=%i (class token skipped)', async (B, rows, dim) => {
    const device = await testDevice();
    const x = rng(rows + dim).normals(B * rows * dim, 1, 0.3);
    const y = poisoned(device, [B, dim]);
    await run(device, meanPool(device, { x: upload(device, x, [B, rows, dim]), y, skip: 1 }));
    const got = await readback(device, y);
    const ref = meanPoolRef(x, B, rows, dim, 1);
    const { ratio, index } = worstRatio(got, ref.y, (i) => ref.bound[i]!);
    expect(ratio, `worst at ${index}`).toBeLessThanOrEqual(1);
  });
});
