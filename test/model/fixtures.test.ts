// Every reference case through the public API: weights + open_clip config → forward → compare.
import { afterAll, describe, expect, it } from 'vitest';
import type { KernelChoices } from '../../src/graph/graph.js';
import { hasSubgroupsOf8 } from '../../src/kernels/choose/adapter.js';
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

// Every way the GEMM and attention choices combine (buffers and textures meet differently in each:
// a texture in_proj output read by a buffer attention, a buffer one packed for texture attention, …).
describe('OpenVision reference fixtures with each combination of kernel variants', () => {
  const combos: KernelChoices[] = [
    { gemmVariant: 'texture', attentionVariant: 'texture' },
    { gemmVariant: 'texture', attentionVariant: 'subgroup' },
    { gemmVariant: 'texture', attentionVariant: 'broadcast' },
    { gemmVariant: 'subgroup', attentionVariant: 'texture' },
    { gemmVariant: 'tiled', attentionVariant: 'texture' },
    { gemmVariant: 'tiled', attentionVariant: 'tiled' },
  ];
  it.for(combos.map((k) => [`gemm ${k.gemmVariant}, attention ${k.attentionVariant}`, k] as const))(
    'ov1-so14-84-d2 (batch 3, 2 blocks) with %s matches PyTorch',
    async ([, kernels], ctx) => {
      const device = await testDevice();
      const needs8 = [kernels.gemmVariant, kernels.attentionVariant].some((v) => v === 'texture' || v === 'subgroup');
      if (needs8 && !hasSubgroupsOf8(device)) return ctx.skip('no 8-lane subgroups on this adapter: not run');
      const name = 'ov1-so14-84-d2';
      const exp = await readExpected(fixture(`${name}.expected.safetensors`));
      const model = await VisionTransformer.load(device, {
        weights: fixture(exp.meta.weights!),
        config: fixture(exp.meta.config!),
        kernels,
      });
      const [B, , S] = exp.inputShape as [number, number, number];
      const out = await model.forward(exp.input, B, { resolution: S, outputs: ['tokens', 'embedding'] });
      for (const k of ['tokens', 'embedding'] as const) {
        const c = compare(k, out[k]!, exp.outputs[k]!.data);
        expect(c.pass, `${k}: max abs ${c.maxAbs}, cosine ${c.cosine}`).toBe(true);
      }
      model.destroy();
    },
  );
});
