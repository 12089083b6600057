// Tuning: candidates timed and checked at the model's shapes, the winners stored per adapter and
// model shape, and used by later loads; the heuristics otherwise.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { defaultProfileStore, fileProfileStore, shapeKey, type TuneProfile } from '../../src/model/profiles.js';
import { tuneKernels } from '../../src/model/tune.js';
import { VisionTransformer } from '../../src/model/vit.js';
import { TextTransformer } from '../../src/model/text.js';
import { CLIPModel } from '../../src/model/clip.js';
import { configFromOpenClip, textConfigFromOpenClip, type TextConfig, type ViTConfig } from '../../src/model/config.js';
import { randomCheckpoint, randomTextTensors } from '../../src/model/random.js';
import { memoryCheckpoint } from '../../src/weights/checkpoint.js';
import { fixture } from '../helpers/fixtures.js';
import { testDevice } from '../helpers/gpu.js';
import { TINY_VIT } from '../helpers/random-vit.js';

const config: ViTConfig = TINY_VIT;
/** A small text tower (2 heads × 32, 17 tokens). */
const textConfig: TextConfig = {
  contextLength: 17,
  vocabSize: 300,
  width: 64,
  heads: 2,
  layers: 2,
  mlpWidth: 256,
  eps: 1e-6,
  act: 'gelu_tanh',
  embedDim: 32,
};
/** Choices no built-in heuristic makes on any adapter, so that a load using them shows the profile was read. */
const UNUSUAL = { gemmVariant: 'tiled', gemmTile: '64x64k32', attentionVariant: 'broadcast' } as const;

/** One real profile (a 1-block tune), measured once: the store tests need its form, not new timings. */
let measured: Promise<TuneProfile> | null = null;
const storedShape = (device: GPUDevice) => (measured ??= tuneKernels(device, { ...config, layers: 1 }, { iters: 1 }));

// A tune compiles every candidate's pipelines (each tile × epilogue × the attention variants). On a
// fresh machine lavapipe compiles each at its first dispatch with a cold Mesa shader cache
// (docs/cpu-adapters.md): the first test took 6 s with a warm cache here and more than 120 s with a
// cold one on a loaded machine (a fresh-clone CI run beside other jobs), so these tests get 600 s —
// time to compile, not a hang: each kernel's own test waits at most 100 s for the GPU, naming it.
describe('wgsl-vit tune (tuneKernels and profiles)', { timeout: 600_000 }, () => {
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

  it('tunes a text tower: its candidates checked, the profile keyed by its own shape', async () => {
    const p = await tuneKernels(await testDevice(), { ...textConfig, layers: 1 }, { iters: 1 });
    expect(p.shape).toBe(shapeKey(textConfig));
    expect(p.shape).toBe('text w64 h2 mlp256 t17');
    expect(p.resolution).toBe(17);
    for (const t of p.timings) expect(t, t.label).toMatchObject({ ok: true });
    expect(p.timings.filter((t) => t.label.startsWith('attention')).length).toBeGreaterThan(0);
  });

  it("a stored profile for a text tower's shape is what TextTransformer.load and CLIPModel.load use (kernelsFrom); each tower its own", async () => {
    const device = await testDevice();
    const store = await fileProfileStore(join(mkdtempSync(join(tmpdir(), 'wgsl-vit-prof-')), 'p.json'));
    const p = { ...(await storedShape(device)), shape: shapeKey(textConfig) };
    await store.put({ ...p, choices: UNUSUAL });
    const weights = memoryCheckpoint(randomTextTensors(textConfig, 3), 'text');
    const tuned = await TextTransformer.load(device, { weights, config: textConfig, profile: store });
    expect(tuned.kernelsFrom).toBe(`profile ${store.where}`);
    expect(tuned.kernels).toMatchObject({ gemmVariant: 'tiled', attentionVariant: 'broadcast' });
    expect(tuned.kernels.gemmTile).toMatchObject({ wgX: 8, wgY: 8, bk: 32 });
    const given = await TextTransformer.load(device, {
      weights,
      config: textConfig,
      profile: store,
      kernels: { attentionVariant: 'tiled' },
    });
    expect(given.kernelsFrom).toBe('load option');
    const none = await TextTransformer.load(device, { weights, config: textConfig, profile: false });
    expect(none.kernelsFrom).toBe('built-in');
    const ids = Uint32Array.from({ length: 2 * 17 }, (_, i) => (i * 37) % 300);
    const a = (await tuned.forward(ids, 2)).embedding!,
      b = (await none.forward(ids, 2)).embedding!;
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-4);
    for (const m of [tuned, given, none]) m.destroy();

    // CLIP: each tower looks up its own shape; a tower without a profile runs the built-in choices.
    const CLIP = 'ov1-clip-ti16-224-t2';
    const json = JSON.parse(readFileSync(fixture(`${CLIP}.open_clip_config.json`), 'utf8')) as unknown;
    await store.put({ ...p, shape: shapeKey(textConfigFromOpenClip(json)!), choices: UNUSUAL });
    const clipOpts = {
      weights: fixture(`${CLIP}.bin`),
      config: fixture(`${CLIP}.open_clip_config.json`),
      profile: store,
    };
    let clip = await CLIPModel.load(device, clipOpts);
    expect([clip.text.kernelsFrom, clip.vision.kernelsFrom]).toEqual([`profile ${store.where}`, 'built-in']);
    expect(clip.text.kernels).toMatchObject({ gemmVariant: 'tiled', attentionVariant: 'broadcast' });
    clip.destroy();
    await store.put({ ...p, shape: shapeKey(configFromOpenClip(json)), choices: UNUSUAL });
    clip = await CLIPModel.load(device, clipOpts);
    expect([clip.text.kernelsFrom, clip.vision.kernelsFrom]).toEqual([
      `profile ${store.where}`,
      `profile ${store.where}`,
    ]);
    expect(clip.vision.kernels).toMatchObject({ gemmVariant: 'tiled', attentionVariant: 'broadcast' });
    clip.destroy();
    clip = await CLIPModel.load(device, { ...clipOpts, profile: false });
    expect([clip.text.kernelsFrom, clip.vision.kernelsFrom]).toEqual(['built-in', 'built-in']);
    clip.destroy();
  });

  it('a broken, foreign or unreadable profile store never stops a load: built-in choices and one warning naming it; WGSL_VIT_PROFILES=off means none', async () => {
    const device = await testDevice();
    const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-prof-'));
    const weights = randomCheckpoint(config, 3);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const bad = join(dir, 'bad.json');
      writeFileSync(bad, '{ not json');
      const other = join(dir, 'other.json');
      writeFileSync(other, JSON.stringify({ hello: 1 }));
      const folder = join(dir, 'folder.json');
      mkdirSync(folder);
      for (const [file, why] of [
        [bad, 'is not valid JSON'],
        [other, 'is not a wgsl-vit profile file'],
        [folder, 'cannot be read'],
      ] as const) {
        warn.mockClear();
        const m = await VisionTransformer.load(device, { weights, config, profile: await fileProfileStore(file) });
        expect(m.kernelsFrom).toBe('built-in');
        expect(warn).toHaveBeenCalledTimes(1);
        expect(String(warn.mock.calls[0]![0])).toMatch(new RegExp(`profile ignored.*${file}.*${why}`));
        m.destroy();
        // Said once per process, not at every load.
        warn.mockClear();
        (await VisionTransformer.load(device, { weights, config, profile: await fileProfileStore(file) })).destroy();
        expect(warn).not.toHaveBeenCalled();
      }
      // The store itself still says what is wrong (for `tune` and callers that ask).
      await expect((await fileProfileStore(bad)).get('a', 'b')).rejects.toThrow(ConfigError);
      const unknown = await fileProfileStore(join(dir, 'unknown.json'));
      const p = await storedShape(device);
      await unknown.put({ ...p, shape: shapeKey(config), choices: { gemmVariant: 'quantum' as never } });
      warn.mockClear();
      const m = await VisionTransformer.load(device, { weights, config, profile: unknown });
      expect(m.kernelsFrom).toBe('built-in');
      expect(String(warn.mock.calls[0]![0])).toMatch(/gemmVariant quantum: not one this version knows/);
      m.destroy();
    } finally {
      warn.mockRestore();
    }
    expect(process.env.WGSL_VIT_PROFILES).toBe('off'); // vitest.config.ts: tests never read the user's cache
    expect(await defaultProfileStore()).toBeNull();
  });

  it('writes are atomic and merged under a lock: concurrent writers and readers never see a broken file, none loses an entry', async () => {
    const device = await testDevice();
    const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-prof-'));
    const file = join(dir, 'profiles.json');
    const p = await storedShape(device);
    const stores = await Promise.all(Array.from({ length: 4 }, () => fileProfileStore(file)));
    let reading = true,
      reads = 0;
    const reader = (async () => {
      while (reading) {
        await stores[0]!.get(p.adapter, 'shape 0'); // throws on a partial or invalid file
        reads++;
      }
    })();
    // 24 writers over 4 store objects, all at once.
    await Promise.all(Array.from({ length: 24 }, (_, i) => stores[i % 4]!.put({ ...p, shape: `shape ${i}` })));
    reading = false;
    await reader;
    expect(reads).toBeGreaterThan(0);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { profiles: { shape: string }[] };
    expect(saved.profiles.map((q) => q.shape).sort()).toEqual(
      Array.from({ length: 24 }, (_, i) => `shape ${i}`).sort(),
    );
  });

  it('put replaces an unreadable file (with a warning); check() names a store that cannot be written', async () => {
    const device = await testDevice();
    const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-prof-'));
    const file = join(dir, 'profiles.json');
    writeFileSync(file, '{"version": 1, "profiles": [');
    const p = await storedShape(device);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      await (await fileProfileStore(file)).put(p);
      expect(String(warn.mock.calls[0]![0])).toMatch(/is not valid JSON.*replacing it/);
    } finally {
      warn.mockRestore();
    }
    expect(await (await fileProfileStore(file)).get(p.adapter, p.shape)).toMatchObject({ shape: p.shape });
    const folder = join(dir, 'folder');
    mkdirSync(folder);
    const store = await fileProfileStore(folder);
    await expect(store.check!()).rejects.toThrow(new RegExp(`${folder}.*cannot be written.*not a regular file`));
    await expect(store.put(p)).rejects.toThrow(ConfigError);
  });
});
