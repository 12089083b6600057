// The `precision: 'f16'` load option (load.ts, arguments.ts settleF16): every fixture against
// PyTorch's float32 outputs within PRECISION_MIN_COSINE (verify.ts says why 0.9999), the CLIP
// fixture's zero-shot ranking unchanged, the f16 builds actually run (per-kernel timings name them),
// and every bad combination refused by name.
import { afterAll, describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/errors.js';
import { CLIPModel } from '../../src/model/clip.js';
import { measureAccuracy, PRECISION_MIN_COSINE, readExpected } from '../../src/model/verify.js';
import { VisionTransformer } from '../../src/model/vit.js';
import { CASES, fixture } from '../helpers/fixtures.js';
import { testDevice } from '../helpers/gpu.js';

const CLIP_CASE = 'ov1-clip-ti16-224-t2';
const clipFiles = { weights: fixture(`${CLIP_CASE}.bin`), config: fixture(`${CLIP_CASE}.open_clip_config.json`) };
const NEEDS = 'needs shader-f16';

describe("precision 'f16' against the PyTorch fixtures", () => {
  const models: { destroy(): void }[] = [];
  afterAll(() => models.forEach((m) => m.destroy()));

  it.for(CASES)('%s: embedding cosine per image ≥ PRECISION_MIN_COSINE.f16', async (name, ctx) => {
    const device = await testDevice();
    if (!device.features.has('shader-f16')) return ctx.skip(NEEDS);
    const exp = await readExpected(fixture(`${name}.expected.safetensors`));
    const model = await VisionTransformer.load(device, {
      weights: fixture(exp.meta.weights!),
      config: fixture(exp.meta.config!),
      precision: 'f16',
    });
    models.push(model);
    expect(model.precision).toBe('f16');
    expect(model.dtype).toBe('fp32');
    const a = await measureAccuracy(model, exp);
    expect(a.precision).toBe('f16');
    expect(a.embedding.minCosine, `${name}: max abs ${a.embedding.maxAbs}`).toBeGreaterThanOrEqual(
      PRECISION_MIN_COSINE.f16,
    );
    expect(a.pass).toBe(true);
  });

  it('runs the f16 builds: gemm/f16-math and attention_flash/f16-math in the per-kernel timings', async (ctx) => {
    const device = await testDevice();
    if (!device.features.has('shader-f16')) return ctx.skip(NEEDS);
    if (!device.features.has('timestamp-query')) return ctx.skip('needs timestamp-query (per-kernel timings)');
    const exp = await readExpected(fixture('ov1-so14-84-d2.expected.safetensors'));
    for (const [precision, gemmKernel, attentionKernel] of [
      ['f16', 'gemm/f16-math', 'attention_flash/f16-math'],
      ['f32', 'gemm', 'attention_flash'],
    ] as const) {
      const model = await VisionTransformer.load(device, {
        weights: fixture(exp.meta.weights!),
        config: fixture(exp.meta.config!),
        precision,
        kernels: precision === 'f32' ? { gemmVariant: 'tiled', attentionVariant: 'flash' } : undefined,
      });
      try {
        const [B, , S] = exp.inputShape as [number, number, number];
        const out = await model.forward(exp.input, B, { resolution: S, outputs: ['embedding'], profile: true });
        const kernels = new Set(out.timings!.map((t) => t.kernel));
        expect(kernels.has(gemmKernel), [...kernels].join(', ')).toBe(true);
        expect(kernels.has(attentionKernel), [...kernels].join(', ')).toBe(true);
        if (precision === 'f16') expect([...kernels].filter((k) => /texture|subgroup|^gemm$/.test(k))).toEqual([]);
      } finally {
        model.destroy();
      }
    }
  });

  it('CLIP with f16 weights too: both towers, text embeddings within the tolerance, zero-shot ranking unchanged', async (ctx) => {
    const device = await testDevice();
    if (!device.features.has('shader-f16')) return ctx.skip(NEEDS);
    const clip = await CLIPModel.load(device, { ...clipFiles, precision: 'f16', dtype: 'fp16' });
    models.push(clip);
    expect([clip.vision.precision, clip.text.precision]).toEqual(['f16', 'f16']);
    const a = await measureAccuracy(clip, await readExpected(fixture(`${CLIP_CASE}.expected.safetensors`)));
    expect(a.embedding.minCosine).toBeGreaterThanOrEqual(PRECISION_MIN_COSINE.f16);
    expect(a.text!.minCosine).toBeGreaterThanOrEqual(PRECISION_MIN_COSINE.f16);
    expect(a.probs!.sameRanking).toBe(true);
    expect(a.pass).toBe(true);
  });
});

describe("the precision option's errors", () => {
  const files = { weights: fixture('ov1-ti16-224-d1.bin'), config: fixture('ov1-ti16-224-d1.open_clip_config.json') };

  it('refuses an unknown precision, naming the option and the values', async () => {
    const device = await testDevice();
    const p = VisionTransformer.load(device, { ...files, precision: 'fp16' as never });
    await expect(p).rejects.toThrow(ArgumentError);
    await expect(VisionTransformer.load(device, { ...files, precision: 'fp16' as never })).rejects.toThrow(
      /VisionTransformer\.load: argument 'precision': must be 'f32' or 'f16', got "fp16"/,
    );
  });

  it('refuses kernel choices without an f16 build, and precision given in kernels', async (ctx) => {
    const device = await testDevice();
    if (!device.features.has('shader-f16')) return ctx.skip(NEEDS);
    const load = (kernels: object) => VisionTransformer.load(device, { ...files, precision: 'f16', kernels: kernels });
    await expect(load({ gemmVariant: 'texture' })).rejects.toThrow(
      /argument 'kernels\.gemmVariant': precision 'f16' runs the 'tiled' or 'subgroup_matrix' GEMM; 'texture' has no f16 build/,
    );
    await expect(load({ attentionVariant: 'subgroup' })).rejects.toThrow(
      /argument 'kernels\.attentionVariant': precision 'f16' runs the 'flash' attention/,
    );
    await expect(load({ f16Loads: 'native' })).rejects.toThrow(/argument 'kernels\.f16Loads'/);
    await expect(VisionTransformer.load(device, { ...files, kernels: { precision: 'f16' } as never })).rejects.toThrow(
      /argument 'kernels\.precision': is set by the load option 'precision'/,
    );
  });
});
