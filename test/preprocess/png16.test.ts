// 16-bit PNGs against Pillow 9.4's `convert('RGB')` (tools/make-png16-fixtures.py wrote each PNG and
// stored Pillow's RGB beside it). The bound is equality: Pillow's rules are integer ones (16-bit
// grayscale opens as mode 'I' and is clipped to 255; colour and alpha types keep their high byte).
import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/preprocess/index.js';
import { fixture } from '../helpers/fixtures.js';

const { cases } = JSON.parse(readFileSync(fixture('png16/cases.json'), 'utf8')) as {
  cases: { name: string; color_type: number; pillow_mode: string }[];
};

describe('16-bit PNG decoding equals Pillow', () => {
  it.each(cases.map((c) => [c.name, c.pillow_mode] as const))('%s (Pillow mode %s)', async (name) => {
    const got = await decodeImage(new Uint8Array(readFileSync(fixture(`png16/${name}.png`))));
    const pil = PNG.sync.read(readFileSync(fixture(`png16/${name}.rgb.png`)));
    const want = new Uint8Array(pil.width * pil.height * 3);
    for (let i = 0; i < pil.width * pil.height; i++) want.set(pil.data.subarray(4 * i, 4 * i + 3), 3 * i);
    expect([got.width, got.height]).toEqual([pil.width, pil.height]);
    expect(Array.from(got.data)).toEqual(Array.from(want));
  });
});
