// `wgsl-vit convert` and `wgsl-vit verify --dtype` end to end, as a user runs them (the built CLI).
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdtempSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
  readFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../helpers/fixtures.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';

beforeAll(ensureBuilt);

const CLIP = 'ov1-clip-ti16-224-t2';
const files = ['--weights', fixture(`${CLIP}.bin`), '--config', fixture(`${CLIP}.open_clip_config.json`)];

describe('wgsl-vit convert', () => {
  it.each(['fp16', 'q8'] as const)(
    'writes a smaller %s file, prints its size, and verify passes on it within the dtype tolerance',
    (dtype) => {
      const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-'));
      const out = join(dir, `model-${dtype}.safetensors`);
      const r = runCli(['convert', '--dtype', dtype, ...files, '--out', out]);
      expect(r.code, r.out + r.err).toBe(0);
      const size = statSync(out).size;
      expect(size).toBeLessThan(statSync(fixture(`${CLIP}.bin`)).size / (dtype === 'fp16' ? 1.9 : 3.4));
      expect(r.err).toContain(`${(size / 1e6).toFixed(2)} MB`); // a summary: stderr
      expect(r.out).toBe('');
      expect(readdirSync(dir)).toEqual([`model-${dtype}.safetensors`]); // no temporary file left
      const v = runCli([
        'verify',
        '--expected',
        fixture(`${CLIP}.expected.safetensors`),
        '--weights',
        out,
        '--config',
        fixture(`${CLIP}.open_clip_config.json`),
      ]);
      expect(v.code, v.out + v.err).toBe(0);
      expect(v.out).toContain(`as ${dtype}:`);
      expect(v.out).toMatch(/^zero-shot probs .* ok \(ranking unchanged\)$/m);
      expect(v.out).toMatch(/^image embedding .* ok$/m);
      // The rows and the last line every mode keeps (scripts read them).
      expect(v.out).toMatch(/^text_ids \(exact\) .* ok$/m);
      expect(v.out).toMatch(/^text_block0 .* ok$/m);
      expect(v.out.trim().split('\n').pop()).toBe('5 passed, 0 failed');
      if (dtype === 'q8') {
        // Loaded as fp32, the q8 file fails the float32 tolerance: the output says why and what to do.
        const f = runCli([
          'verify',
          '--expected',
          fixture(`${CLIP}.expected.safetensors`),
          '--weights',
          out,
          '--dtype',
          'fp32',
        ]);
        expect(f.code).toBe(1);
        expect(f.out).toContain(
          'this file stores q8 weights (loaded as fp32 here, judged by the float32 tolerance); rerun with --dtype q8',
        );
        expect(f.out.trim().split('\n').pop()).toMatch(/^1 passed, 5 failed$/);
      }
    },
  );

  it('refuses a bad dtype or output (exit 2) and a non-finite weight (exit 1, naming it, nothing written)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-'));
    expect(runCli(['convert', '--dtype', 'int4', ...files, '--out', join(dir, 'a.safetensors')]).code).toBe(2);
    expect(runCli(['convert', '--dtype', 'q8', ...files, '--out', join(dir, 'a.bin')]).code).toBe(2);
    // A safetensors checkpoint with a NaN in one matrix.
    const src = readFileSync(fixture('ov1-ti16-224-d1.safetensors'));
    const n = Number(src.readBigUInt64LE(0));
    const header = JSON.parse(src.subarray(8, 8 + n).toString());
    const key = 'visual.transformer.resblocks.0.mlp.c_proj.weight';
    const bad = Buffer.from(src);
    bad.writeFloatLE(NaN, 8 + n + header[key].data_offsets[0] + 8);
    writeFileSync(join(dir, 'bad.safetensors'), bad);
    const out = join(dir, 'out.safetensors');
    const r = runCli([
      'convert',
      '--dtype',
      'q8',
      '--weights',
      join(dir, 'bad.safetensors'),
      '--config',
      fixture('ov1-ti16-224-d1.open_clip_config.json'),
      '--out',
      out,
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`key '${key}': non-finite value NaN at flat index 2`);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['bad.safetensors']);
  });

  it('refuses an --out that is the --weights file, by any name (exit 2, naming both, the original untouched)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-'));
    const src = join(dir, 'model.safetensors');
    copyFileSync(fixture('ov1-ti16-224-d1.safetensors'), src);
    symlinkSync(src, join(dir, 'link.safetensors'));
    linkSync(src, join(dir, 'hard.safetensors'));
    const before = readFileSync(src);
    const cfg = ['--config', fixture('ov1-ti16-224-d1.open_clip_config.json')];
    for (const out of [
      src,
      relative(process.cwd(), src),
      join(dir, 'link.safetensors'),
      join(dir, 'hard.safetensors'),
    ]) {
      const r = runCli(['convert', '--dtype', 'q8', '--weights', src, ...cfg, '--out', out]);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toContain(`--out ${out} is the same file as --weights ${src}`);
    }
    // And the other way round: the weights named through the link.
    const r = runCli(['convert', '--dtype', 'fp16', '--weights', join(dir, 'link.safetensors'), ...cfg, '--out', src]);
    expect(r.code).toBe(2);
    expect(readFileSync(src).equals(before)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['hard.safetensors', 'link.safetensors', 'model.safetensors']);
  });
});
