// The tests' GPU wait limit (test/helpers/gpu.ts): a GPU wait that never ends fails with the kernels
// named, instead of vitest's anonymous timeout.
import { describe, expect, it } from 'vitest';
import { layerNorm } from '../../src/kernels/layernorm.js';
import { poisoned, readback, run, testDevice, upload, withinGpuWaitLimit } from '../helpers/gpu.js';

describe('GPU wait limit', () => {
  it('fails a wait that never ends, naming what it waited for', async () => {
    const never = new Promise<void>(() => {});
    await expect(withinGpuWaitLimit(never, 'attention_broadcast', 50)).rejects.toThrow(
      /^attention_broadcast: the GPU had not finished after 0\.05 s/,
    );
  });

  it('passes a wait that ends, with its value', async () => {
    await expect(withinGpuWaitLimit(Promise.resolve(7), 'x', 50)).resolves.toBe(7);
    const device = await testDevice();
    const x = upload(device, new Float32Array([1, 2, 3, 4]), [1, 4]);
    const y = poisoned(device, [1, 4]);
    const ones = upload(device, new Float32Array(4).fill(1), [4]);
    const zeros = upload(device, new Float32Array(4), [4]);
    await run(device, layerNorm(device, { x, gamma: ones, beta: zeros, y, eps: 1e-6 }));
    const got = await readback(device, y);
    expect(got.every(Number.isFinite)).toBe(true);
  });
});
