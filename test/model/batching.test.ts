// Batches larger than one submit are split into chunks; results equal the unsplit run's.
import { describe, expect, it } from 'vitest';
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
});
