// Every reference case through the public API: weights + open_clip config → forward → compare.
import { afterAll, describe, expect, it } from 'vitest';
import { VisionTransformer } from '../../src/model/vit.js';
import { compare, readExpected } from '../../src/model/verify.js';
import { CASES, fixture } from '../helpers/fixtures.js';
import { testDevice } from '../helpers/gpu.js';

describe('OpenVision reference fixtures', () => {
  const models: VisionTransformer[] = [];
  afterAll(() => models.forEach((m) => m.destroy()));

  it.each(CASES)('%s matches PyTorch (tokens, pooled, embedding, block0)', async (name) => {
    const device = await testDevice();
    const exp = await readExpected(fixture(`${name}.expected.safetensors`));
    const model = await VisionTransformer.load(device, {
      weights: fixture(exp.meta.weights!),
      config: fixture(exp.meta.config!),
    });
    models.push(model);
    const [B, , S] = exp.inputShape as [number, number, number];
    const out = await model.forward(exp.input, B, {
      resolution: S,
      outputs: ['tokens', 'pooled', 'embedding', 'block0'],
    });
    for (const k of ['tokens', 'pooled', 'embedding', 'block0'] as const) {
      const want = exp.outputs[k]!;
      const c = compare(k, out[k]!, want.data);
      expect(c.pass, `${name} ${k}: max abs ${c.maxAbs}, cosine ${c.cosine}`).toBe(true);
    }
  });
});
