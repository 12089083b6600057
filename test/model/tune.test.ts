// Tuning: candidates timed and checked at the model's shapes, the winners stored per adapter and
// model shape, and used by later loads; the heuristics otherwise.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { defaultProfileStore, fileProfileStore, shapeKey } from '../../src/model/profiles.js';
import { tuneKernels } from '../../src/model/tune.js';
import { VisionTransformer } from '../../src/model/vit.js';
import type { ViTConfig } from '../../src/model/config.js';
import { randomCheckpoint } from '../../src/model/random.js';
import { testDevice } from '../helpers/gpu.js';

// A small model (2 heads × 32, 8×8 patches on 32 px: 17 tokens) so that the ~9 candidates run in seconds.
const config: ViTConfig = {
  imageSize: 32,
  patchSize: 8,
  width: 64,
  layers: 2,
  heads: 2,
  mlpWidth: 256,
  embedDim: 32,
  eps: 1e-6,
  mean: [0.5, 0.5, 0.5],
  std: [0.5, 0.5, 0.5],
};

describe('wgsl-vit tune (tuneKernels and profiles)', () => {
  it('times and checks every candidate and chooses the fastest correct GEMM, then attention', async () => {
    const device = await testDevice();
    const seen: string[] = [];
    const p = await tuneKernels(device, config, { iters: 1, onProgress: (t) => seen.push(t.label) });
    expect(seen).toEqual(p.timings.map((t) => t.label));
    expect(p.shape).toBe(shapeKey(config));
    // Every candidate ran and agreed with the reference candidate (each kernel is tested against float64).
    for (const t of p.timings) expect(t, t.label).toMatchObject({ ok: true });
    const gemm = p.timings.filter((t) => t.label.startsWith('gemm'));
    const fastest = [...gemm].sort((a, b) => a.msPerImage! - b.msPerImage!)[0]!;
    expect(p.choices.gemmVariant).toBe(fastest.choices.gemmVariant);
    expect(p.choices.gemmTile).toBe(fastest.choices.gemmTile);
    const attention = p.timings.filter((t) => t.label.startsWith('attention'));
    expect(attention.map((t) => t.choices.attentionVariant)).toContain(p.choices.attentionVariant);
    // The attention candidates ran with the chosen GEMM.
    for (const t of attention) expect(t.choices.gemmVariant).toBe(p.choices.gemmVariant);
  });

  it('a stored profile is what a later load uses (kernelsFrom says so); kernels given or profile: false win', async () => {
    const device = await testDevice();
    const store = await fileProfileStore(join(mkdtempSync(join(tmpdir(), 'wgsl-vit-prof-')), 'p.json'));
    const p = await tuneKernels(device, config, { iters: 1 });
    // Store a choice the heuristics would not make on any adapter, to see it used.
    await store.put({ ...p, choices: { gemmVariant: 'tiled', gemmTile: '64x64k32', attentionVariant: 'broadcast' } });
    const weights = randomCheckpoint(config, 3);
    const tuned = await VisionTransformer.load(device, { weights, config, profile: store });
    expect(tuned.kernelsFrom).toBe(`profile ${store.where}`);
    expect(tuned.kernels).toMatchObject({ gemmVariant: 'tiled', attentionVariant: 'broadcast' });
    const given = await VisionTransformer.load(device, {
      weights,
      config,
      profile: store,
      kernels: { attentionVariant: 'tiled' },
    });
    expect(given.kernelsFrom).toBe('load option');
    const none = await VisionTransformer.load(device, { weights, config, profile: false });
    expect(none.kernelsFrom).toBe('built-in');
    // The same outputs whichever the choices (each within the kernels' tested bounds).
    const px = new Float32Array(3 * 32 * 32).map((_, i) => Math.sin(i));
    const a = (await tuned.forward(px, 1)).embedding!,
      b = (await none.forward(px, 1)).embedding!;
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-4);
    for (const m of [tuned, given, none]) m.destroy();
  });

  it('a broken or foreign profile file is named, not silently ignored; WGSL_VIT_PROFILES=off means none', async () => {
    const device = await testDevice();
    const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-prof-'));
    const weights = randomCheckpoint(config, 3);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ not json');
    await expect(
      VisionTransformer.load(device, { weights, config, profile: await fileProfileStore(bad) }),
    ).rejects.toThrow(new RegExp(`${bad}.*is not valid JSON`));
    const other = join(dir, 'other.json');
    writeFileSync(other, JSON.stringify({ hello: 1 }));
    await expect(
      VisionTransformer.load(device, { weights, config, profile: await fileProfileStore(other) }),
    ).rejects.toThrow(ConfigError);
    const unknown = await fileProfileStore(join(dir, 'unknown.json'));
    const p = await tuneKernels(device, { ...config, layers: 1 }, { iters: 1 });
    await unknown.put({ ...p, shape: shapeKey(config), choices: { gemmVariant: 'quantum' as never } });
    await expect(VisionTransformer.load(device, { weights, config, profile: unknown })).rejects.toThrow(
      /gemmVariant quantum: not one this version knows/,
    );
    expect(process.env.WGSL_VIT_PROFILES).toBe('off'); // vitest.config.ts: tests never read the user's cache
    expect(await defaultProfileStore()).toBeNull();
  });
});
