// Batches larger than one submit are split into chunks; results equal the unsplit run's.
import { describe, expect, it } from 'vitest';
import type { KernelChoices } from '../../src/graph/graph.js';
import { VisionTransformer } from '../../src/model/vit.js';
import { readExpected } from '../../src/model/verify.js';
import { fixture } from '../helpers/fixtures.js';
import { testDevice } from '../helpers/gpu.js';

describe('batching', () => {
  it('a batch split into chunks of 2 equals the batch in one submit, image by image', async () => {
    const device = await testDevice();
    const exp = await readExpected(fixture('ov1-so14-84-d2.expected.safetensors'));
    const model = await VisionTransformer.load(device, {
      weights: fixture('ov1-so14-84-d2.safetensors'),
      config: fixture('ov1-so14-84-d2.open_clip_config.json'),
    });
    const whole = await model.forward(exp.input, 3);
    const split = await model.forward(exp.input, 3, { maxBatch: 2 });
    expect(whole.chunks).toEqual([3]);
    expect(split.chunks).toEqual([2, 1]);
    // The kernels compute each image independently of the batch size: results agree to the bit.
    expect(Array.from(split.embedding!)).toEqual(Array.from(whole.embedding!));
    expect(Array.from(split.tokens!)).toEqual(Array.from(whole.tokens!));
    expect(model.maxChunk(84)).toBeGreaterThan(3);
    model.destroy();
  });

  it("the 'texture' kernels' row chunks (textureRows) give the same results", async (ctx) => {
    const device = await testDevice();
    const exp = await readExpected(fixture('ov1-so14-84-d2.expected.safetensors'));
    const load = (kernels: KernelChoices) =>
      VisionTransformer.load(device, {
        weights: fixture('ov1-so14-84-d2.safetensors'),
        config: fixture('ov1-so14-84-d2.open_clip_config.json'),
        kernels,
      });
    const whole = await load({});
    if (whole.kernels.gemmVariant !== 'texture') return ctx.skip('no texture kernels on this adapter: not run');
    // 3 images × 37 tokens = 111 rows: GEMMs in chunks of 40, 40, 31 rows; attention one image per
    // chunk; LayerNorm (whose texture form needs one texture) to a buffer, then packed.
    const split = await load({ textureRows: 40 });
    const a = await whole.forward(exp.input, 3);
    const b = await split.forward(exp.input, 3);
    // The GEMM and attention rows are the same sums in the same order in both runs; the two LayerNorm
    // kernels sum in different orders (a few ulp of |x| ≤ ~5 per block, 2 blocks): 1e-4 is ~100× the
    // difference seen (5e-7) and far below what a wrong or missing chunk gives (O(1)).
    const worst = (p: Float32Array, q: Float32Array) => p.reduce((m, v, i) => Math.max(m, Math.abs(v - q[i]!)), 0);
    expect(worst(b.tokens!, a.tokens!)).toBeLessThanOrEqual(1e-4);
    expect(worst(b.embedding!, a.embedding!)).toBeLessThanOrEqual(1e-4);
    await expect(load({ textureRows: 0 })).rejects.toThrow(/kernels.textureRows': must be an integer in 1/);
    whole.destroy();
    split.destroy();
  });
});
