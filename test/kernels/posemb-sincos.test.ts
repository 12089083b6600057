import { describe, expect, it } from 'vitest';
import { posembOmega, posembSincos, posembSincos2d } from '../../src/kernels/posemb-sincos.js';
import { posembRef } from '../../reference/posemb-sincos.js';
import { poisoned, readback, run, testDevice, upload, worstRatio } from '../helpers/gpu.js';

// The table is specified in float32 (OpenVision computes ω and c·ω in float32); against the
// unrounded float64 formula an entry may differ by the rounding of ω and of the angle, ≤ 2u·|angle|
// (≤ 6e-6 at the 448-px/8 grid's angle of 55), plus the float32 rounding of the value itself.
const U = 2 ** -24;
const angleBound = (grid: number, dim: number) => (i: number) => {
  const col = i % dim;
  const row = Math.floor(i / dim);
  if (row === 0) return 1e-30;
  const p = row - 1,
    q = dim / 4,
    part = Math.floor(col / q);
  const pos = part < 2 ? p % grid : Math.floor(p / grid);
  return 3 * U * pos + 2 * U + 2e-7;
};

describe('posemb_sincos', () => {
  const cases: [number, number][] = [
    [14, 192],
    [21, 192],
    [20, 192],
    [6, 144],
    [16, 160],
    [56, 64],
  ];
  it.each(cases)('CPU table, grid=%i dim=%i, matches the formula', (grid, dim) => {
    const got = posembSincos2d(grid, dim);
    const want = posembRef(grid, dim);
    expect(worstRatio(got, want, angleBound(grid, dim)).ratio).toBeLessThanOrEqual(1);
  });
  it.each(cases)('GPU table, grid=%i dim=%i, matches the formula', async (grid, dim) => {
    const device = await testDevice();
    const out = poisoned(device, [1 + grid * grid, dim]);
    await run(device, posembSincos(device, { omega: upload(device, posembOmega(dim), [dim / 4]), out, grid }));
    const got = await readback(device, out);
    const want = posembRef(grid, dim);
    // GPU sin/cos after range reduction: the reduction adds u·|angle|, sin/cos a few ulp (≤ 1e-6 seen
    // allowed by WGSL in [-π, π] only as 2^-11; implementations we run on are far better).
    const bound = angleBound(grid, dim);
    const { ratio, index } = worstRatio(got, want, (i) => bound(i) + 1e-6);
    expect(ratio, `worst at ${index}: got ${got[index]}, want ${want[index]}`).toBeLessThanOrEqual(1);
  });
});
