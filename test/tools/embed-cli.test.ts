// `wgsl-vit embed` end to end: image files in, embeddings out in each format.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compare, readExpected } from '../../src/model/verify.js';
import { openCheckpoint } from '../../src/weights/index.js';
import { fixture } from '../helpers/fixtures.js';
import { cli, ensureBuilt, runCli } from '../helpers/cli.js';

beforeAll(ensureBuilt);

const CASE = 'ov1-so14-84-d2';
function embed(extra: string[]) {
  const images = ['astronaut', 'chelsea', 'coffee'].map((i) => fixture(`${i}.png`));
  return runCli([
    'embed',
    '--weights',
    fixture(`${CASE}.safetensors`),
    '--config',
    fixture(`${CASE}.open_clip_config.json`),
    ...images,
    ...extra,
  ]);
}

describe('wgsl-vit embed', () => {
  it('writes .safetensors (embedding + tokens) that match PyTorch, and prints a summary line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-embed-'));
    const r = embed(['--out', join(dir, 'e.safetensors'), '--tokens', '--batch', '2']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/^3 images, [\d.]+ s, [\d.]+ img\/s on .*; wrote .*e\.safetensors$/m);
    expect(r.out).toBe(''); // the data went to the file; the summary is on stderr
    const exp = await readExpected(fixture(`${CASE}.expected.safetensors`));
    const got = await openCheckpoint(join(dir, 'e.safetensors'));
    expect(got.tensors.get('embedding')!.shape).toEqual([3, 144]);
    expect(compare('embedding', await got.read('embedding'), exp.outputs.embedding!.data).pass).toBe(true);
    expect(compare('tokens', await got.read('tokens'), exp.outputs.tokens!.data).pass).toBe(true);
  });

  it('writes .npy and .json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-embed-'));
    expect(embed(['--out', join(dir, 'e.npy')]).code).toBe(0);
    const npy = readFileSync(join(dir, 'e.npy'));
    expect(npy.subarray(0, 6).toString('latin1')).toBe('\x93NUMPY');
    const hlen = npy.readUInt16LE(8);
    expect(npy.subarray(10, 10 + hlen).toString()).toMatch(
      /'descr': '<f4', 'fortran_order': False, 'shape': \(3, 144\)/,
    );
    expect((10 + hlen) % 64).toBe(0);
    expect(npy.length).toBe(10 + hlen + 3 * 144 * 4);
    expect(embed(['--out', join(dir, 'e.json')]).code).toBe(0);
    const j = JSON.parse(readFileSync(join(dir, 'e.json'), 'utf8'));
    expect(j.embedding.length).toBe(3);
    expect(j.embedding[0].length).toBe(144);
    const exp = await readExpected(fixture(`${CASE}.expected.safetensors`));
    expect(compare('embedding', Float32Array.from(j.embedding.flat()), exp.outputs.embedding!.data).pass).toBe(true);
  });

  it('names an image it cannot read', () => {
    const r = runCli([
      'embed',
      '--weights',
      fixture(`${CASE}.safetensors`),
      '--config',
      fixture(`${CASE}.open_clip_config.json`),
      '/nope.jpg',
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\/nope\.jpg: cannot read/);
  });
});

describe('wgsl-vit embed with image URLs (a local server, 127.0.0.1)', () => {
  it('fetches http URLs beside paths; a failed fetch is left out naming the URL', async () => {
    const { startFixtureServer } = await import('../helpers/fixture-server.js');
    const { spawn } = await import('node:child_process');
    const server = await startFixtureServer();
    try {
      const url = `${server.base}/range/rocket.png`;
      const missing = `${server.base}/missing/cat.png`;
      const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-embed-'));
      // Spawned asynchronously: the server answering it runs in this process.
      const args = [
        'embed',
        '--weights',
        fixture(`${CASE}.safetensors`),
        '--config',
        fixture(`${CASE}.open_clip_config.json`),
      ];
      const p = spawn(
        process.execPath,
        [cli, ...args, url, missing, fixture('rocket.png'), '--out', join(dir, 'e.json')],
        {
          env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.stdout.resume();
      const code = await new Promise<number | null>((r) => p.on('close', (c) => r(c)));
      expect(code, err).toBe(1); // one image left out
      expect(err).toContain(`left out ${missing}: HTTP 404`);
      const j = JSON.parse(readFileSync(join(dir, 'e.json'), 'utf8'));
      expect(j.images).toEqual([url, fixture('rocket.png')]);
      // The URL's image is the file's.
      expect(j.embedding[0]).toEqual(j.embedding[1]);
    } finally {
      server.close();
    }
  });
});
