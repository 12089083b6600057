// The model with 'flash' attention split over keys (two passes per attention: attention_flash's
// partials, attention_flash_combine) against the PyTorch fixtures. On lavapipe the built-in choice
// never splits a fixture's attention (a CPU adapter is filled by 8 workgroups), so the split count is
// forced here: chooseAttentionKeySplits replaced by min(3, key blocks) — uneven ranges at 197
// tokens (7 blocks of 32: 3 + 3 + 1), the causal text tower's 77 tokens in 3, and several layers
// sharing the device's workspace.
import { describe, expect, it, vi } from 'vitest';
import { VisionTransformer } from '../../src/model/vit.js';
import { CLIPModel } from '../../src/model/clip.js';
import { compare, compareClip, readExpected } from '../../src/model/verify.js';
import { fixture } from '../helpers/fixtures.js';
import { testDevice } from '../helpers/gpu.js';

const splitsTaken: number[] = [];
vi.mock('../../src/kernels/choose/choose.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('../../src/kernels/choose/choose.js')>();
  return {
    ...m,
    chooseAttentionKeySplits: (_t: unknown, s: { keyBlocks: number }) => {
      const n = Math.min(3, s.keyBlocks);
      splitsTaken.push(n);
      return n;
    },
  };
});

describe("the model with 'flash' attention split over keys (split count forced)", () => {
  it.for(['ov1-ti16-224-d1', 'ov1-so14-84-d2'])('%s matches PyTorch', async (name) => {
    const device = await testDevice();
    const exp = await readExpected(fixture(`${name}.expected.safetensors`));
    splitsTaken.length = 0;
    const model = await VisionTransformer.load(device, {
      weights: fixture(exp.meta.weights!),
      config: fixture(exp.meta.config!),
      kernels: { attentionVariant: 'flash' },
    });
    try {
      const [B, , S] = exp.inputShape as [number, number, number];
      const out = await model.forward(exp.input, B, { resolution: S, outputs: ['tokens', 'embedding'] });
      expect(Math.max(...splitsTaken)).toBeGreaterThan(1);
      for (const k of ['tokens', 'embedding'] as const) {
        const c = compare(k, out[k]!, exp.outputs[k]!.data);
        expect(c.pass, `${k}: max abs ${c.maxAbs}, cosine ${c.cosine}`).toBe(true);
      }
    } finally {
      model.destroy();
    }
  });

  it('oai-clip-b16-64-t1 (causal text tower in 3 key ranges) matches PyTorch', async () => {
    const device = await testDevice();
    const exp = await readExpected(fixture('oai-clip-b16-64-t1.expected.safetensors'));
    splitsTaken.length = 0;
    const clip = await CLIPModel.load(device, {
      weights: fixture(exp.meta.weights!),
      config: fixture(exp.meta.config!),
      kernels: { attentionVariant: 'flash' },
    });
    try {
      const rows = await compareClip(clip, exp);
      expect(splitsTaken).toContain(3);
      for (const r of rows) expect(r.pass, `${r.name}: max abs ${r.maxAbs}, cosine ${r.cosine}`).toBe(true);
    } finally {
      clip.destroy();
    }
  });
});
