// Every reference case through the public API: weights + open_clip config → forward → compare.
import { afterAll, describe, expect, it } from 'vitest';
import type { KernelChoices } from '../../src/graph/graph.js';
import { adapterTraits } from '../../src/kernels/choose/adapter.js';
import { ATTENTION_FAMILY, GEMM_FAMILY, variantNames, variantProblem } from '../../src/kernels/choose/variants.js';
import { VisionTransformer } from '../../src/model/vit.js';
import { CLIPModel } from '../../src/model/clip.js';
import { compare, compareClip, readExpected } from '../../src/model/verify.js';
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

// OpenAI's layout as a whole CLIP model (both towers; causal text tower, QuickGELU, <|endoftext|>
// pooling, OpenAI's BPE tokenizer): every entry of its expected file, text_ids exact.
const OAI_CLIP = 'oai-clip-b16-64-t1';
async function checkOaiClip(kernels?: KernelChoices) {
  const device = await testDevice();
  const exp = await readExpected(fixture(`${OAI_CLIP}.expected.safetensors`));
  const clip = await CLIPModel.load(device, {
    weights: fixture(exp.meta.weights!),
    config: fixture(exp.meta.config!),
    ...(kernels ? { kernels } : {}),
  });
  try {
    const rows = await compareClip(clip, exp);
    expect(rows.map((r) => r.name)).toEqual([
      'text_ids',
      'text_block0',
      'text_embedding',
      'image_embedding',
      'logits_per_image',
      'probs',
    ]);
    expect(clip.tokenizer.kind).toBe('openai-bpe');
    for (const r of rows) expect(r.pass, `${r.name}: max abs ${r.maxAbs}, cosine ${r.cosine}`).toBe(true);
  } finally {
    clip.destroy();
  }
}

describe(`OpenAI-layout CLIP fixture (${OAI_CLIP})`, () => {
  it('both towers, text_ids, logits_per_image and probs match PyTorch', () => checkOaiClip());
});

// Every way the GEMM and attention variants combine (buffers and textures meet differently in each:
// a texture in_proj output read by a buffer attention, a buffer one packed for texture attention, …),
// generated from the family tables (kernels/choose/variants.ts): each combination this adapter can
// run, on the smallest fixture only (ov1-so14-84-d2: batch 3, 2 blocks), to keep the suite's time.
const COMBOS: KernelChoices[] = variantNames(GEMM_FAMILY).flatMap((gemmVariant) =>
  variantNames(ATTENTION_FAMILY).map((attentionVariant) => ({ gemmVariant, attentionVariant })),
);

describe('OpenVision reference fixtures with each combination of kernel variants', () => {
  it('the combinations are every GEMM variant × every attention variant', () => {
    expect(COMBOS).toHaveLength(
      Object.keys(GEMM_FAMILY.variants).length * Object.keys(ATTENTION_FAMILY.variants).length,
    );
  });

  it.for(COMBOS.map((k) => [`gemm ${k.gemmVariant}, attention ${k.attentionVariant}`, k] as const))(
    'ov1-so14-84-d2 (batch 3, 2 blocks) with %s matches PyTorch',
    async ([, kernels], ctx) => {
      const device = await testDevice();
      const traits = adapterTraits(device);
      const problem =
        variantProblem(GEMM_FAMILY.variants[kernels.gemmVariant!], kernels.gemmVariant!, traits) ??
        variantProblem(ATTENTION_FAMILY.variants[kernels.attentionVariant!], kernels.attentionVariant!, traits);
      if (problem) return ctx.skip(`${problem}, which this adapter lacks: not run`);
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

  // QuickGELU through each GEMM variant, the causal mask through each attention variant, class-token
  // pooling and ln_pre: the OpenAI-layout CLIP fixture (one block per tower, 8 texts of 77 tokens).
  it.for(COMBOS.map((k) => [`gemm ${k.gemmVariant}, attention ${k.attentionVariant}`, k] as const))(
    `${OAI_CLIP} (both towers, causal text) with %s matches PyTorch`,
    async ([, kernels], ctx) => {
      const traits = adapterTraits(await testDevice());
      const problem =
        variantProblem(GEMM_FAMILY.variants[kernels.gemmVariant!], kernels.gemmVariant!, traits) ??
        variantProblem(ATTENTION_FAMILY.variants[kernels.attentionVariant!], kernels.attentionVariant!, traits);
      if (problem) return ctx.skip(`${problem}, which this adapter lacks: not run`);
      await checkOaiClip(kernels);
    },
  );
});

// Split-K forced on every GEMM (kernels.gemmSplitK, the 'tiled' variant): each GEMM's partial sums
// into a workspace, then gemm_splitk_reduce with its epilogue (erf GELU and the residual adds in the
// vision tower; QuickGELU, the causal text tower and the projections in the OpenAI-layout CLIP).
describe('reference fixtures with split-K forced on every GEMM', () => {
  it('ov1-so14-84-d2 (batch 3, 2 blocks) with gemmSplitK 3 matches PyTorch', async () => {
    const device = await testDevice();
    const name = 'ov1-so14-84-d2';
    const exp = await readExpected(fixture(`${name}.expected.safetensors`));
    const model = await VisionTransformer.load(device, {
      weights: fixture(exp.meta.weights!),
      config: fixture(exp.meta.config!),
      kernels: { gemmVariant: 'tiled', gemmSplitK: 3 },
    });
    try {
      const [B, , S] = exp.inputShape as [number, number, number];
      const out = await model.forward(exp.input, B, { resolution: S, outputs: ['tokens', 'embedding'] });
      for (const k of ['tokens', 'embedding'] as const) {
        const c = compare(k, out[k]!, exp.outputs[k]!.data);
        expect(c.pass, `${k}: max abs ${c.maxAbs}, cosine ${c.cosine}`).toBe(true);
      }
    } finally {
      model.destroy();
    }
  });

  it('a split-K count that is not a positive integer, or with another GEMM variant, is refused at load', async () => {
    const device = await testDevice();
    const exp = await readExpected(fixture('ov1-so14-84-d2.expected.safetensors'));
    const load = (kernels: KernelChoices) =>
      VisionTransformer.load(device, {
        weights: fixture(exp.meta.weights!),
        config: fixture(exp.meta.config!),
        kernels,
      });
    await expect(load({ gemmSplitK: 0 })).rejects.toThrow(/kernels.gemmSplitK': must be a positive integer, got 0/);
    await expect(load({ gemmSplitK: 2.5 })).rejects.toThrow(/kernels.gemmSplitK'/);
    await expect(load({ gemmVariant: 'subgroup', gemmSplitK: 2 })).rejects.toThrow(
      /kernels.gemmSplitK': split-K is for the 'tiled' GEMM variant only/,
    );
  });

  it(`${OAI_CLIP} (both towers) with gemmSplitK 4 matches PyTorch`, () =>
    checkOaiClip({ gemmVariant: 'tiled', gemmSplitK: 4 }));
});
