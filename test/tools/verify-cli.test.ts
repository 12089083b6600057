// `wgsl-vit verify` end to end, as a user runs it (the built CLI, in a child process).
import { mkdtempSync, copyFileSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CASES, fixture } from '../helpers/fixtures.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';

beforeAll(ensureBuilt);

const verify = (args: string[]) => runCli(['verify', ...args]);

describe('wgsl-vit verify', () => {
  it.each(CASES)('%s passes with explicit --weights/--config', (name) => {
    const exp = fixture(`${name}.expected.safetensors`);
    const weightsCase = name === 'ov1-ti16-336-d1' ? 'ov1-ti16-224-d1' : name;
    const r = verify([
      '--weights',
      fixture(`${weightsCase}.safetensors`),
      '--config',
      fixture(`${weightsCase}.open_clip_config.json`),
      '--expected',
      exp,
    ]);
    expect(r.code, r.out + r.err).toBe(0);
    for (const k of ['tokens', 'pooled', 'embedding', 'block0']) expect(r.out).toMatch(new RegExp(`^${k} .* ok$`, 'm'));
    expect(r.out.trim().split('\n').pop()).toBe('4 passed, 0 failed');
  });

  it('--precision f16 judges the embedding by PRECISION_MIN_COSINE; a bad --precision is a usage error (verify, embed, classify)', () => {
    const r = verify(['--expected', fixture('ov1-ti16-224-d1.expected.safetensors'), '--precision', 'f16']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/as fp32, f16 arithmetic/);
    expect(r.out).toMatch(/^image embedding .* ok$/m);
    expect(r.out.trim().split('\n').pop()).toBe('1 passed, 0 failed');
    for (const cmd of ['verify', 'embed', 'classify']) {
      const files = [
        '--weights',
        fixture('ov1-ti16-224-d1.safetensors'),
        '--config',
        fixture('ov1-ti16-224-d1.open_clip_config.json'),
      ];
      const extra =
        cmd === 'verify'
          ? ['--expected', fixture('ov1-ti16-224-d1.expected.safetensors')]
          : cmd === 'classify'
            ? ['--labels', 'a,b', 'x.jpg']
            : ['x.jpg'];
      const bad = runCli([cmd, ...files, ...extra, '--precision', 'f64']);
      expect(bad.code, cmd + bad.out + bad.err).toBe(2);
      expect(bad.err, cmd).toMatch(/--precision must be one of f32, f16, got 'f64'/);
    }
  });

  it('fails (exit 1) when an output is off by more than the tolerance', () => {
    // Perturb one value of the expected embedding in a copy of the expected file.
    const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-'));
    const src = readFileSync(fixture('ov1-ti16-224-d1.expected.safetensors'));
    const n = Number(src.readBigUInt64LE(0));
    const header = JSON.parse(src.subarray(8, 8 + n).toString());
    const [begin] = header.embedding.data_offsets;
    const bad = Buffer.from(src);
    bad.writeFloatLE(bad.readFloatLE(8 + n + begin) + 0.5, 8 + n + begin);
    writeFileSync(join(dir, 'bad.expected.safetensors'), bad);
    copyFileSync(fixture('ov1-ti16-224-d1.safetensors'), join(dir, 'ov1-ti16-224-d1.safetensors'));
    copyFileSync(fixture('ov1-ti16-224-d1.open_clip_config.json'), join(dir, 'ov1-ti16-224-d1.open_clip_config.json'));
    const r2 = verify(['--expected', join(dir, 'bad.expected.safetensors')]); // weights/config found via metadata
    expect(r2.code).toBe(1);
    expect(r2.out).toMatch(/^embedding .* FAIL$/m);
    expect(r2.out.trim().split('\n').pop()).toBe('3 passed, 1 failed');
  });

  it('names the missing file', () => {
    const r = verify([
      '--weights',
      '/nonexistent/w.safetensors',
      '--config',
      fixture('ov1-ti16-224-d1.open_clip_config.json'),
      '--expected',
      fixture('ov1-ti16-224-d1.expected.safetensors'),
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\/nonexistent\/w\.safetensors/);
  });
});
