// Issue 28: CLIPModel.load's upload progress names its tower. `loaded` / `total` count per tower
// (the text tower's tensors first, then the vision tower's), so a display keys on `tower`.
import { describe, expect, it } from 'vitest';
import { CLIPModel } from '../../src/model/clip.js';
import { VisionTransformer } from '../../src/model/vit.js';
import type { LoadProgress } from '../../src/weights/types.js';
import { fixture } from '../helpers/fixtures.js';
import { testDevice } from '../helpers/gpu.js';

const CASE = 'ov1-clip-ti16-224-t2';

describe('load progress', () => {
  it('CLIPModel.load: every upload event names its tower, each tower counting from 0 to its own total', async () => {
    const seen: LoadProgress[] = [];
    const clip = await CLIPModel.load(await testDevice(), {
      weights: fixture(`${CASE}.bin`),
      config: fixture(`${CASE}.open_clip_config.json`),
      onProgress: (p) => seen.push({ ...p }),
    });
    clip.destroy();
    const up = seen.filter((p) => p.phase === 'upload');
    expect(up.length).toBeGreaterThan(2);
    expect(up.every((p) => p.tower === 'text' || p.tower === 'vision')).toBe(true);
    // One run per tower, text then vision: the tower changes once.
    const order = up.map((p) => p.tower).filter((t, i, a) => i === 0 || a[i - 1] !== t);
    expect(order).toEqual(['text', 'vision']);
    for (const tower of ['text', 'vision'] as const) {
      const t = up.filter((p) => p.tower === tower);
      for (let i = 1; i < t.length; i++) expect(t[i]!.loaded).toBeGreaterThanOrEqual(t[i - 1]!.loaded);
      expect(t.at(-1)!.loaded).toBe(t.at(-1)!.total);
      expect(new Set(t.map((p) => p.total)).size).toBe(1);
    }
    const text = up.find((p) => p.tower === 'text')!.total,
      vision = up.find((p) => p.tower === 'vision')!.total;
    expect(text).not.toBe(vision);
  });

  it('VisionTransformer.load alone: its upload events say vision', async () => {
    const seen: LoadProgress[] = [];
    const m = await VisionTransformer.load(await testDevice(), {
      weights: fixture('ov1-ti16-224-d1.safetensors'),
      config: fixture('ov1-ti16-224-d1.open_clip_config.json'),
      onProgress: (p) => seen.push({ ...p }),
    });
    m.destroy();
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((p) => p.phase === 'upload' && p.tower === 'vision')).toBe(true);
  });
});
