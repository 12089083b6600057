// The public API refuses what it cannot answer correctly, with a typed error naming the argument,
// instead of returning plausible numbers: wrong pixel types, non-finite pixels, unknown outputs,
// use after destroy(), destroy() during a run, bad preprocessing constants; concurrent calls
// compile each graph once and leave nothing behind on the GPU.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ArgumentError, ConfigError, ModelDestroyedError } from '../../src/errors.js';
import { configFromOpenClip, presetConfig, validateConfig } from '../../src/model/config.js';
import { VisionTransformer } from '../../src/model/vit.js';
import { compare, readExpected } from '../../src/model/verify.js';
import { fixture } from '../helpers/fixtures.js';
import { testDevice, trackBuffers } from '../helpers/gpu.js';
import { hasSubgroupsOf8 } from '../../src/kernels/choose/adapter.js';
import { encodeImages } from '../../src/model/encode.js';
import { forwardInFlight } from '../../src/model/overlap.js';

const CASE = 'ov1-so14-84-d2';
const load = async () => {
  const exp = await readExpected(fixture(`${CASE}.expected.safetensors`));
  const model = await VisionTransformer.load(await testDevice(), {
    weights: fixture(`${CASE}.safetensors`),
    config: fixture(`${CASE}.open_clip_config.json`),
  });
  return { exp, model, B: exp.inputShape[0]! };
};

describe('forward() arguments', () => {
  it('refuses pixels that are not a Float32Array (Float64Array, plain array, Uint8Array), naming the argument', async () => {
    const { exp, model, B } = await load();
    try {
      for (const bad of [Float64Array.from(exp.input), Array.from(exp.input), Uint8Array.from(exp.input)]) {
        const err = await model.forward(bad as never, B).then(
          () => null,
          (e) => e,
        );
        expect(err).toBeInstanceOf(ArgumentError);
        expect(err.message).toMatch(
          new RegExp(
            `forward: argument 'pixels': must be a Float32Array .*got a (Float64Array|plain Array|Uint8Array) of ${exp.input.length}`,
          ),
        );
      }
      // and the right call after the refused ones returns this input's outputs, not stale ones
      const out = await model.forward(exp.input, B, { outputs: ['embedding'] });
      expect(compare('embedding', out.embedding!, exp.outputs.embedding!.data).pass).toBe(true);
    } finally {
      model.destroy();
    }
  });

  it('refuses NaN and ±Inf pixels with their position', async () => {
    const { exp, model, B } = await load();
    try {
      for (const v of [NaN, Infinity, -Infinity]) {
        const px = exp.input.slice();
        const S = exp.inputShape[2]!,
          at = 1 * 3 * S * S + 2 * S * S + 5 * S + 7;
        px[at] = v;
        await expect(model.forward(px, B)).rejects.toThrow(
          new RegExp(`argument 'pixels': value ${v} at \\[1, 2, 5, 7\\] \\(flat index ${at}\\) is not finite`),
        );
      }
    } finally {
      model.destroy();
    }
  });

  it('refuses unknown output names, a bad batch and a bad maxBatch', async () => {
    const { exp, model, B } = await load();
    try {
      await expect(model.forward(exp.input, B, { outputs: ['embedding', 'pooler_output' as never] })).rejects.toThrow(
        /argument 'outputs': unknown output "pooler_output" \(known: tokens, pooled, embedding, block0, hidden\)/,
      );
      await expect(model.forward(exp.input, B, { outputs: [] })).rejects.toThrow(
        /argument 'outputs': must be a non-empty array/,
      );
      await expect(model.forward(exp.input, 1.5)).rejects.toThrow(
        /argument 'batch': must be a positive integer, got 1.5/,
      );
      await expect(model.forward(exp.input, B, { maxBatch: 0 })).rejects.toThrow(
        /argument 'maxBatch': must be a positive integer, got 0/,
      );
    } finally {
      model.destroy();
    }
  });
});

describe('destroy()', () => {
  it('forward() after destroy() throws ModelDestroyedError naming the model', async () => {
    const { exp, model, B } = await load();
    model.destroy();
    const err = await model.forward(exp.input, B).then(
      () => null,
      (e) => e,
    );
    expect(err).toBeInstanceOf(ModelDestroyedError);
    expect(err.message).toMatch(
      /ov1-so14-84-d2\.safetensors: this model was destroyed \(destroy\(\) was called\); load it again/,
    );
  });

  it('destroy() while forward() runs: the run rejects, and every buffer is freed once it has stopped', async () => {
    const device = await testDevice();
    const track = trackBuffers(device);
    try {
      const { exp, model, B } = await load();
      const running = model.forward(exp.input, B);
      model.destroy();
      await expect(running).rejects.toBeInstanceOf(ModelDestroyedError);
      await device.queue.onSubmittedWorkDone();
      await new Promise((r) => setTimeout(r, 0));
      expect(track.live(), `of ${track.created()} buffers created`).toBe(0);
    } finally {
      track.stop();
    }
  });
});

describe('concurrent forward() calls', () => {
  it('calls in flight reuse their read-back buffers (a ring per compiled graph), freed by destroy()', async () => {
    const device = await testDevice();
    const track = trackBuffers(device);
    try {
      const { exp, model, B } = await load();
      const batches = (n: number) => Array.from({ length: n }, () => ({ pixels: exp.input, count: B, tag: null }));
      const run = async (n: number) => {
        const out = [];
        for await (const r of forwardInFlight(model, batches(n))) out.push(r.outputs);
        return out;
      };
      const first = await run(2); // compiles the graph; two calls in flight take two read-back buffers
      const created = track.created();
      const more = await run(6);
      // Six more calls in flight, each right, and not one buffer more: the read-backs came from the ring.
      for (const r of [...first, ...more])
        expect(compare('embedding', r.embedding!, exp.outputs.embedding!.data).pass).toBe(true);
      expect(track.created()).toBe(created);
      model.destroy();
      await new Promise((r) => setTimeout(r, 0));
      expect(track.live(), `of ${track.created()} buffers created`).toBe(0);
    } finally {
      track.stop();
    }
  });

  it('two racing calls give right answers, compile the graph once and leak nothing', async () => {
    const device = await testDevice();
    const track = trackBuffers(device);
    try {
      const { exp, model, B } = await load();
      const [a, b] = await Promise.all([model.forward(exp.input, B), model.forward(exp.input, B)]);
      for (const r of [a, b]) expect(compare('embedding', r.embedding!, exp.outputs.embedding!.data).pass).toBe(true);
      const afterRace = track.live();
      await model.forward(exp.input, B); // same shape: no new buffers stay behind
      expect(track.live()).toBe(afterRace);
      model.destroy();
      await new Promise((r) => setTimeout(r, 0));
      expect(track.live(), `of ${track.created()} buffers created`).toBe(0);
    } finally {
      track.stop();
    }
  });
});

describe('a WebGPU error during a run rejects that run', () => {
  it('a destroyed activation buffer (validation error at submit) rejects forward()', async () => {
    const { exp, model, B } = await load();
    try {
      const cg = await model.compiled(B, exp.inputShape[2]!, ['embedding']);
      (cg as unknown as { slots: GPUBuffer[] }).slots[0]!.destroy();
      await expect(model.forward(exp.input, B, { outputs: ['embedding'] })).rejects.toThrow(
        /WebGPU validation error during the run/,
      );
    } finally {
      model.destroy();
    }
  });
});

describe('preprocessing constants in configs', () => {
  const base = () => JSON.parse(readFileSync(fixture(`${CASE}.open_clip_config.json`), 'utf8'));
  it.each([
    ['a zero std', { std: [0.229, 0, 0.225] }, /std \[0\.229,0,0\.225\] has a zero/],
    ['two mean values', { mean: [0.5, 0.5] }, /mean must be 3 finite numbers/],
    ['a NaN-like mean (null)', { mean: [0.5, null, 0.5] }, /mean must be 3 finite numbers/],
    ['a string std', { std: '0.2' }, /std must be 3 finite numbers/],
  ])('%s is refused', (_, pre, pattern) => {
    const cfg = base();
    cfg.preprocess_cfg = { ...cfg.preprocess_cfg, ...pre };
    expect(() => configFromOpenClip(cfg, 'cfg.json')).toThrow(ConfigError);
    expect(() => configFromOpenClip(cfg, 'cfg.json')).toThrow(pattern);
  });
  it('a ViTConfig with an Infinity std is refused', () => {
    expect(() => validateConfig({ ...presetConfig('ti-16'), std: [1, Infinity, 1] }, 'cfg')).toThrow(
      /std must be 3 finite numbers/,
    );
  });
});

describe('kernel choices are load options, not device-wide globals', () => {
  it('a model loaded with kernels: { attentionVariant, gemmTile } runs those kernels and gives the same answers', async () => {
    const { GEMM_TILES } = await import('../../src/kernels/gemm-tile.js');
    const { attentionVariantFor } = await import('../../src/kernels/attention.js');
    const device = await testDevice();
    const other = attentionVariantFor(device) === 'tiled' ? 'broadcast' : 'tiled';
    const exp = await readExpected(fixture(`${CASE}.expected.safetensors`));
    const opts = { weights: fixture(`${CASE}.safetensors`), config: fixture(`${CASE}.open_clip_config.json`) };
    const chosen = await VisionTransformer.load(device, {
      ...opts,
      kernels: { attentionVariant: other, gemmTile: GEMM_TILES['64x64k32'] },
    });
    const plain = await VisionTransformer.load(device, opts);
    try {
      const B = exp.inputShape[0]!;
      const a = await chosen.forward(exp.input, B, { outputs: ['embedding'], profile: true });
      const b = await plain.forward(exp.input, B, { outputs: ['embedding'], profile: true });
      expect(compare('embedding', a.embedding!, exp.outputs.embedding!.data).pass).toBe(true);
      const kernels = (r: typeof a) => new Set((r.timings ?? []).map((t) => t.kernel));
      if (a.timings) {
        expect(kernels(a).has(`attention_${other}`)).toBe(true);
        expect(kernels(b).has(`attention_${other}`)).toBe(false); // the other model, same device: untouched
      }
    } finally {
      chosen.destroy();
      plain.destroy();
    }
  });

  it('an unknown variant or a tile the device cannot run is refused at load, leaving nothing on the GPU', async () => {
    const opts = { weights: fixture(`${CASE}.safetensors`), config: fixture(`${CASE}.open_clip_config.json`) };
    const device = await testDevice();
    const track = trackBuffers(device);
    try {
      await expect(
        VisionTransformer.load(device, { ...opts, kernels: { attentionVariant: 'fast' as never } }),
      ).rejects.toThrow(/load: argument 'kernels\.attentionVariant': unknown variant "fast"/);
      await expect(
        VisionTransformer.load(device, { ...opts, kernels: { gemmTile: { wgX: 64, wgY: 64, bk: 8 } } }),
      ).rejects.toThrow(/tile 512x512k8 needs 64×64 invocations/);
      expect(track.live()).toBe(0);
    } finally {
      track.stop();
    }
  });
});

describe('the largest resolution', () => {
  it('a resolution over what this adapter runs the model at is refused naming it and the largest that runs, before any work', async () => {
    const device = await testDevice();
    const c = fixture('ov1-ti16-224-d1.open_clip_config.json');
    const w = fixture('ov1-ti16-224-d1.safetensors');
    // On 8-lane adapters the 'texture' attention holds one image's tokens in a matrix texture: with
    // 50 rows per texture 7×7 patches + 1 fit, 8×8 + 1 do not. Elsewhere the buffer limits bound it.
    const kernels = hasSubgroupsOf8(device) ? { attentionVariant: 'texture' as const, textureRows: 50 } : undefined;
    const model = await VisionTransformer.load(device, { weights: w, config: c, kernels });
    try {
      const max = model.maxResolution();
      if (kernels) expect(max).toBe(7 * 16);
      expect(max % 16).toBe(0);
      const over = max + 16;
      const err = await model.forward(new Float32Array(3 * over * over), 1, { resolution: over }).then(
        () => null,
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(ArgumentError);
      expect(err!.message).toMatch(
        new RegExp(
          `^forward: argument 'resolution': ${over} is more than this adapter runs this model at: at most ${max} \\(`,
        ),
      );
      await expect(encodeImages(model, [fixture('chelsea.png')], { resolution: over })).rejects.toThrow(
        `encodeImages: argument 'resolution': ${over} is more than this adapter runs this model at: at most ${max}`,
      );
      if (kernels) {
        const r = await model.forward(new Float32Array(3 * max * max), 1, { resolution: max, outputs: ['pooled'] });
        expect(r.pooled!.every(Number.isFinite)).toBe(true);
      }
    } finally {
      model.destroy();
    }
  });
});
