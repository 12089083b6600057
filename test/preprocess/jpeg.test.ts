// JPEG decoding against Pillow 9.4 (Debian's python3-pil, libjpeg-turbo), the decoder OpenVision's
// preprocessing runs: tools/make-jpeg-fixtures.py wrote each JPEG with Pillow and stored Pillow's
// decode (`convert('RGB')`) beside it. The bound is equality: libjpeg-turbo with Pillow's settings
// (islow IDCT, fancy upsampling, CMYK;I + cmyk2rgb) is deterministic integer arithmetic.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodeImage, DEFAULT_MAX_PIXELS } from '../../src/preprocess/index.js';
import { ImageError } from '../../src/errors.js';
import { fixture } from '../helpers/fixtures.js';

interface Case {
  name: string;
  width: number;
  height: number;
  mode: string;
  pixels: boolean;
  sha256: string;
}
const { cases } = JSON.parse(readFileSync(fixture('jpeg/cases.json'), 'utf8')) as { cases: Case[] };
const jpegBytes = (name: string) => new Uint8Array(readFileSync(fixture(`jpeg/${name}.jpg`)));

function pilRgb(name: string): Uint8Array {
  const png = PNG.sync.read(readFileSync(fixture(`jpeg/${name}.rgb.png`)));
  const rgb = new Uint8Array(png.width * png.height * 3);
  for (let i = 0; i < png.width * png.height; i++) rgb.set(png.data.subarray(4 * i, 4 * i + 3), 3 * i);
  return rgb;
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('JPEG decoding equals Pillow', () => {
  it('covers every kind the issue lists', () => {
    const names = cases.map((c) => c.name).join(' ');
    for (const kind of ['420-q90', '420-q75', '422', '444', 'progressive', 'gray', 'cmyk', '17x23', '1600x1200'])
      expect(names).toContain(kind);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const img = await decodeImage(jpegBytes(c.name));
    expect([img.width, img.height]).toEqual([c.width, c.height]);
    if (c.pixels) expect(maxDiff(img.data, pilRgb(c.name)), 'max level difference to Pillow').toBe(0);
    expect(createHash('sha256').update(img.data).digest('hex')).toBe(c.sha256);
  });

  it('accepts what Pillow accepts with a libjpeg warning (extraneous bytes before the EOI marker): same pixels', async () => {
    const b = jpegBytes('420-q90-97x61');
    const extra = new Uint8Array([...b.subarray(0, b.length - 2), 0x12, 0x34, 0x56, 0xff, 0xd9]);
    expect(maxDiff((await decodeImage(extra)).data, pilRgb('420-q90-97x61'))).toBe(0);
  });

  it('refuses truncated and corrupt files, naming them (Pillow: "image file is truncated")', async () => {
    const b = jpegBytes('progressive-420-q85-83x59');
    for (const n of [b.length - 2, Math.floor(b.length / 2), 300, 40]) {
      await expect(decodeImage(b.subarray(0, n)), `first ${n} bytes`).rejects.toThrow(
        /<bytes>: (JPEG file is truncated|corrupt)/,
      );
    }
    const garbled = b.slice();
    for (let i = 200; i < 260; i++) garbled[i] = (i * 37) & 255;
    await expect(decodeImage(garbled)).rejects.toBeInstanceOf(ImageError);
    // Each decode runs in a fresh WebAssembly instance: a good file right after bad ones is exact.
    expect(maxDiff((await decodeImage(b)).data, pilRgb('progressive-420-q85-83x59'))).toBe(0);
  });
});

describe('pixel limit (checked from the header, before decoding)', () => {
  it("defaults to Pillow's MAX_IMAGE_PIXELS", () => expect(DEFAULT_MAX_PIXELS).toBe(89_478_485));

  it('refuses a small PNG that claims 20000×20000', async () => {
    const png = new Uint8Array(readFileSync(fixture('rocket.png')));
    const v = new DataView(png.buffer, png.byteOffset);
    v.setUint32(16, 20000);
    v.setUint32(20, 20000);
    await expect(decodeImage(png)).rejects.toThrow(
      /PNG of 20000×20000 = 400000000 pixels exceeds the limit of 89478485 pixels/,
    );
  });

  it('applies the same configurable limit to JPEG and PNG', async () => {
    await expect(decodeImage(jpegBytes('420-q75-1600x1200'), { maxPixels: 1_000_000 })).rejects.toThrow(
      /JPEG of 1600×1200 = 1920000 pixels exceeds the limit of 1000000/,
    );
    await expect(decodeImage(fixture('rocket.png'), { maxPixels: 1000 })).rejects.toThrow(
      /rocket\.png: PNG of \d+×\d+ = \d+ pixels exceeds the limit of 1000/,
    );
    expect((await decodeImage(jpegBytes('420-q75-1600x1200'), { maxPixels: 1600 * 1200 })).width).toBe(1600);
    await expect(decodeImage(fixture('rocket.png'), { maxPixels: 0 })).rejects.toThrow(
      /maxPixels must be a positive number/,
    );
  });

  it('names unsupported inputs', async () => {
    await expect(decodeImage(42 as never)).rejects.toThrow(/unsupported input number/);
    await expect(decodeImage(new Float32Array(3) as never)).rejects.toThrow(/unsupported input Float32Array/);
  });
});
