// Preprocessing against the tensors PyTorch produced from the same photographs (fixtures' `input`):
// PIL bilinear squash-resize, /255, the case's mean/std (ImageNet's for OpenVision, OpenAI's for the
// oai-* cases: their configs' preprocess_cfg).
import { describe, expect, it } from 'vitest';
import { preprocessImages, resizeBilinear } from '../../src/preprocess/index.js';
import { readExpected } from '../../src/model/verify.js';
import { readOpenClipConfig } from '../../src/model/config.js';
import { CASES, fixture } from '../helpers/fixtures.js';

const MEAN = [0.485, 0.456, 0.406] as const,
  STD = [0.229, 0.224, 0.225] as const;

describe('preprocessing', () => {
  it.each(CASES)('%s: decoded, resized and normalised images equal the fixture input', async (name) => {
    const exp = await readExpected(fixture(`${name}.expected.safetensors`));
    const images = (exp.meta.images as string[]).map((i) => fixture(`${i}.png`));
    const S = exp.inputShape[2]!;
    const { mean, std } = await readOpenClipConfig(fixture(exp.meta.config!));
    if (!name.startsWith('oai-')) expect([mean, std]).toEqual([MEAN, STD]);
    const got = await preprocessImages(images, { size: S, mean, std });
    expect(got.length).toBe(exp.input.length);
    let maxErr = 0;
    for (let i = 0; i < got.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i]! - exp.input[i]!));
    // Pillow's fixed-point resampling and torchvision's float32 arithmetic are reproduced exactly
    // (measured: 0, bit-identical). The bound allows float32 rounding differences only (~1e-7):
    // one 8-bit step is 1/255/std ≈ 0.017, so a single off-by-one pixel value fails.
    expect(maxErr, `max abs error ${maxErr}`).toBeLessThan(1e-6);
  });

  it('upscaling and identity sizes (no antialias branch; copy when the size is unchanged)', () => {
    const img = {
      width: 3,
      height: 2,
      data: Uint8Array.from([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170]),
    };
    expect(resizeBilinear(img, 3, 2).data).toEqual(img.data);
    const up = resizeBilinear(img, 6, 4);
    expect(up.width).toBe(6);
    expect(up.height).toBe(4);
    // Corners of an upscale keep the corner pixels (Pillow clamps the filter at the edges).
    expect(Array.from(up.data.subarray(0, 3))).toEqual([0, 10, 20]);
  });

  it('names a file it cannot read or decode', async () => {
    await expect(preprocessImages(['/nonexistent.png'], { size: 16, mean: MEAN, std: STD })).rejects.toThrow(
      /\/nonexistent\.png: cannot read/,
    );
    await expect(
      preprocessImages([fixture('ov1-ti16-224-d1.open_clip_config.json')], { size: 16, mean: MEAN, std: STD }),
    ).rejects.toThrow(/open_clip_config\.json: not a PNG or JPEG file/);
  });
});
