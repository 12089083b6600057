// Photographs in, embeddings out, through the public API: equals the PyTorch embedding.
import { describe, expect, it } from 'vitest';
import { encodeImages } from '../../src/model/encode.js';
import { VisionTransformer } from '../../src/model/vit.js';
import { compare, readExpected } from '../../src/model/verify.js';
import { fixture } from '../helpers/fixtures.js';
import { testDevice } from '../helpers/gpu.js';

describe('encodeImages', () => {
  it.each(['ov1-so14-84-d2', 'ov1-ti16-336-d1'])(
    '%s: image files → embeddings match PyTorch (batches of 2)',
    async (name) => {
      const device = await testDevice();
      const exp = await readExpected(fixture(`${name}.expected.safetensors`));
      const model = await VisionTransformer.load(device, {
        weights: fixture(exp.meta.weights!),
        config: fixture(exp.meta.config!),
      });
      const progress: number[] = [];
      const r = await encodeImages(
        model,
        (exp.meta.images as string[]).map((i) => fixture(`${i}.png`)),
        {
          resolution: exp.inputShape[2],
          outputs: ['embedding', 'tokens'],
          batchSize: 2,
          onProgress: (d) => progress.push(d),
        },
      );
      model.destroy();
      expect(r.count).toBe(exp.inputShape[0]);
      expect(progress.at(-1)).toBe(r.count);
      for (const k of ['embedding', 'tokens'] as const) {
        const c = compare(k, r[k]!, exp.outputs[k]!.data);
        expect(c.pass, `${k}: max abs ${c.maxAbs}`).toBe(true);
      }
    },
  );
});
