// Full depth: a 12-block ViT-Ti/16 with seeded random weights against the float64 CPU reference,
// so that error growth over depth is covered (the fixtures have 1–2 blocks).
import { describe, expect, it } from 'vitest';
import { presetConfig } from '../../src/model/config.js';
import { VisionTransformer } from '../../src/model/vit.js';
import { compare } from '../../src/model/verify.js';
import { memoryCheckpoint } from '../../src/weights/checkpoint.js';
import { vitRef } from '../../reference/vit.js';
import { randomWeights } from '../helpers/random-vit.js';
import { rng, testDevice } from '../helpers/gpu.js';

describe('full-depth ViT-Ti/16 (12 blocks, random weights)', () => {
  it('matches the float64 reference at 224 px', async () => {
    const device = await testDevice();
    const cfg = presetConfig('ti-16');
    const weights = randomWeights(cfg, 1234);
    const B = 1,
      S = 224;
    const image = rng(99).normals(B * 3 * S * S);
    const model = await VisionTransformer.load(device, {
      weights: memoryCheckpoint(weights, 'random-ti16'),
      config: cfg,
    });
    const out = await model.forward(image, B, { outputs: ['tokens', 'pooled', 'embedding', 'block0'] });
    // any block's hidden state, by index or from the end (LLaVA-style pipelines take -2)
    const inner = await model.forward(image, B, { outputs: ['hidden'], hiddenBlock: -2 });
    const fifth = await model.forward(image, B, { outputs: ['hidden', 'block0'], hiddenBlock: 4 });
    await expect(model.forward(image, B, { outputs: ['hidden'], hiddenBlock: 12 })).rejects.toThrow(
      /argument 'hiddenBlock': must be an integer in \[-12, 11\] \(this model has 12 blocks\), got 12/,
    );
    model.destroy();
    const ref = vitRef(cfg, new Map([...weights].map(([k, v]) => [k, v.data])), image, B, S);
    for (const k of ['tokens', 'pooled', 'embedding', 'block0'] as const) {
      const c = compare(k, out[k]!, Float32Array.from(ref[k]));
      expect(c.pass, `${k}: max abs ${c.maxAbs}, cosine ${c.cosine}`).toBe(true);
    }
    for (const [got, block] of [
      [inner.hidden!, 10],
      [fifth.hidden!, 4],
      [fifth.block0!, 0],
    ] as const) {
      const c = compare('block0', got, Float32Array.from(ref.hidden[block]!));
      expect(c.pass, `hidden after block ${block}: max abs ${c.maxAbs}`).toBe(true);
    }
  });
});
