// What a new user ran into (issue 18): no silent wrong answer from the CLIP methods, inputs that
// would be ignored are refused, a destroyed device is named, and load/destroy cycles free memory.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { requestDevice } from '../../src/device.js';
import { encodeImages } from '../../src/model/encode.js';
import { ArgumentError, ImageError, WebGPUError } from '../../src/errors.js';
import { CLIPModel } from '../../src/model/clip.js';
import { randomCheckpoint } from '../../src/model/random.js';
import { VisionTransformer } from '../../src/model/vit.js';
import type { ViTConfig } from '../../src/model/config.js';
import { fixture } from '../helpers/fixtures.js';
import { testDevice } from '../helpers/gpu.js';
import { TINY_VIT } from '../helpers/random-vit.js';

const CASE = 'ov1-clip-ti16-224-t2';
const load = async (device: GPUDevice) =>
  CLIPModel.load(device, { weights: fixture(`${CASE}.bin`), config: fixture(`${CASE}.open_clip_config.json`) });

const tiny: ViTConfig = TINY_VIT;

describe('CLIP with unreadable images', () => {
  it("clip.encodeImages refuses onImageError (one row per image, or an error); encodeImages(clip.vision, …, 'skip') says which rows are which", async () => {
    const clip = await load(await testDevice());
    try {
      const images = [fixture('rocket.png'), '/nope.png', fixture('coffee.png')];
      await expect(clip.encodeImages(images, { onImageError: 'skip' } as never)).rejects.toThrow(
        /encodeImages: argument 'onImageError'.*encodeImages\(clip.vision, images, \{ onImageError: 'skip' \}\)/,
      );
      await expect(clip.encodeImages(images)).rejects.toThrow(ImageError);
      await expect(clip.encodeImages(images)).rejects.toThrow(/nope\.png/);
      const r = await encodeImages(clip.vision, images, { onImageError: 'skip' });
      expect(r.indices).toEqual([0, 2]);
      expect(r.failed.map((f) => f.index)).toEqual([1]);
      // Row 1 is coffee (input 2), as the indices say.
      const coffee = await clip.encodeImages([fixture('coffee.png')]);
      const E = clip.embedDim;
      expect(Array.from(r.embedding!.subarray(E, 2 * E))).toEqual(Array.from(coffee));
    } finally {
      clip.destroy();
    }
  });

  it('zeroShot rejects an unreadable image by name and refuses onImageError and template with templates', async () => {
    const clip = await load(await testDevice());
    try {
      await expect(clip.zeroShot([fixture('rocket.png'), '/nope.png'], ['cat', 'rocket'])).rejects.toThrow(/nope\.png/);
      await expect(
        clip.zeroShot([fixture('rocket.png')], ['cat'], { onImageError: 'skip' } as never),
      ).rejects.toBeInstanceOf(ArgumentError);
      await expect(
        clip.zeroShot([fixture('rocket.png')], ['cat'], { template: 'a {}', templates: ['a photo of a {}.'] }),
      ).rejects.toThrow(/argument 'template': give template \(one prompt\) or templates/);
    } finally {
      clip.destroy();
    }
  });

  it('a label longer than the text context is cut as open_clip cuts it, and the result says so', async () => {
    const clip = await load(await testDevice());
    try {
      const long = Array.from({ length: 120 }, (_, i) => `word${i}`).join(' ');
      const [ranked] = await clip.zeroShot([fixture('rocket.png')], ['rocket', long]);
      expect(ranked!.find((r) => r.label === long)).toMatchObject({ truncated: true });
      expect(ranked!.find((r) => r.label === 'rocket')!.truncated).toBeUndefined();
      expect(clip.truncatedLabels(['rocket', long], ['a photo of a {}.'])).toEqual([long]);
    } finally {
      clip.destroy();
    }
  });
});

describe('inputs that would be ignored', () => {
  it("hiddenBlock without the 'hidden' output is refused (forward and encodeImages)", async () => {
    const device = await testDevice();
    const m = await VisionTransformer.load(device, { weights: randomCheckpoint(tiny, 1), config: tiny });
    try {
      const px = new Float32Array(3 * 32 * 32);
      await expect(m.forward(px, 1, { hiddenBlock: 0 })).rejects.toThrow(
        /forward: argument 'hiddenBlock': picks the block of the 'hidden' output/,
      );
      await expect(encodeImages(m, [fixture('rocket.png')], { hiddenBlock: 0 })).rejects.toThrow(
        /encodeImages: argument 'hiddenBlock'/,
      );
      const r = await m.forward(px, 1, { hiddenBlock: 0, outputs: ['hidden'] });
      expect(r.hidden!.length).toBe(17 * 64);
    } finally {
      m.destroy();
    }
  });
});

describe('a destroyed device', () => {
  it('load refuses it, naming the model; a call on a model whose device was destroyed names the model', async () => {
    const { device } = await requestDevice();
    const weights = fixture(`${CASE}.bin`);
    const m = await load(device);
    device.destroy();
    await expect(load(device)).rejects.toThrow(WebGPUError);
    await expect(load(device)).rejects.toThrow(
      new RegExp(`CLIPModel.load\\(.*${CASE}.bin\\): the GPU device was destroyed`),
    );
    await expect(VisionTransformer.load(device, { weights: randomCheckpoint(tiny, 1), config: tiny })).rejects.toThrow(
      /VisionTransformer.load\(.*\): the GPU device was destroyed/,
    );
    const err = await m.encodeTexts(['a cat']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebGPUError);
    expect((err as Error).message).toMatch(new RegExp(`${weights}: the GPU device was destroyed`));
    m.destroy();
  });
});

describe('memory across load/destroy', () => {
  it('30 CLIPModel.load + destroy() cycles leave the RSS flat (Dawn frees destroyed buffers at once)', async () => {
    const device = await testDevice();
    const config = JSON.parse(readFileSync(fixture(`${CASE}.open_clip_config.json`), 'utf8')) as Record<
      string,
      unknown
    >;
    const rss = () => process.memoryUsage().rss / 2 ** 20;
    for (let i = 0; i < 5; i++) (await CLIPModel.load(device, { weights: fixture(`${CASE}.bin`), config })).destroy();
    await device.queue.onSubmittedWorkDone();
    const before = rss();
    for (let i = 0; i < 30; i++) {
      const c = await CLIPModel.load(device, { weights: fixture(`${CASE}.bin`), config });
      c.destroy();
    }
    await new Promise((r) => setTimeout(r, 50));
    const grown = rss() - before;
    // Without the flush each cycle kept ~24 MiB (the weights): +700 MiB over 30. Allocator noise
    // and caches stay well under 2 MiB per cycle.
    expect(grown).toBeLessThan(60);
  });
});
