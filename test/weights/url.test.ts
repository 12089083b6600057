// Models from a URL: a local HTTP server (test/helpers/fixture-server.ts, 127.0.0.1) serves the
// fixtures with and without Range support, with a 404, a truncated body and an ETag that changes
// between requests, and counts requests and body bytes.
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../../src/errors.js';
import { CLIPModel } from '../../src/model/clip.js';
import { readExpected } from '../../src/model/verify.js';
import { VisionTransformer } from '../../src/model/vit.js';
import type { LoadProgress } from '../../src/weights/source.js';
import { fixture } from '../helpers/fixtures.js';
import { startFixtureServer, type FixtureServer } from '../helpers/fixture-server.js';
import { testDevice } from '../helpers/gpu.js';

const CLIP = 'ov1-clip-ti16-224-t2';
let server: FixtureServer;
let base = '';
let stats: FixtureServer['stats'];

beforeAll(async () => {
  server = await startFixtureServer();
  base = server.base;
  stats = server.stats;
  process.env.WGSL_VIT_CACHE = mkdtempSync(join(tmpdir(), 'wgsl-vit-cache-'));
});
afterAll(() => {
  server.close();
  delete process.env.WGSL_VIT_CACHE;
});

const reset = () => server.reset();
const config = () => fixture(`${CLIP}.open_clip_config.json`);
async function embedding(model: VisionTransformer): Promise<Float32Array> {
  const exp = await readExpected(fixture(`${CLIP}.expected.safetensors`));
  const n = exp.inputShape[0]!;
  return (await model.forward(exp.input, n, { outputs: ['embedding'] })).embedding!;
}

describe('loading from a URL', () => {
  it('the vision tower of a CLIP .bin by URL equals the path load bit for bit, downloading less than the file; a second load downloads nothing', async () => {
    const device = await testDevice();
    const fromPath = await VisionTransformer.load(device, { weights: fixture(`${CLIP}.bin`), config: config() });
    const want = await embedding(fromPath);
    fromPath.destroy();
    reset();
    const events: LoadProgress[] = [];
    const url = `${base}/range/${CLIP}.bin`;
    const m = await VisionTransformer.load(device, {
      weights: url,
      config: `${base}/range/${CLIP}.open_clip_config.json`,
      onProgress: (p) => events.push(p),
    });
    expect(Array.from(await embedding(m))).toEqual(Array.from(want));
    m.destroy();
    const size = statSync(fixture(`${CLIP}.bin`)).size;
    expect(stats.bodyBytes).toBeLessThan(size); // the text tower's entries were not downloaded
    console.log(
      `vision tower of ${CLIP}.bin by URL: ${stats.bodyBytes} of ${size} bytes downloaded, ${stats.requests} requests`,
    );
    // Progress: per phase monotonic; the upload ends at its total; downloads name the URL.
    for (const phase of ['download', 'upload'] as const) {
      const ev = events.filter((e) => e.phase === phase);
      expect(ev.length, phase).toBeGreaterThan(0);
      for (let i = 1; i < ev.length; i++) expect(ev[i]!.loaded).toBeGreaterThanOrEqual(ev[i - 1]!.loaded);
      for (const e of ev) expect(e.loaded).toBeLessThanOrEqual(e.total);
    }
    const up = events.filter((e) => e.phase === 'upload');
    expect(up.at(-1)!.loaded).toBe(up.at(-1)!.total);
    expect(events.find((e) => e.phase === 'download')!.file).toBe(url);
    // Again: served from the cache, validated by one HEAD request, no body bytes but the config's.
    reset();
    const again = await VisionTransformer.load(device, { weights: url, config: config() });
    expect(Array.from(await embedding(again))).toEqual(Array.from(want));
    again.destroy();
    expect(stats.bodyBytes).toBe(0);
    expect(stats.heads).toBe(1);
  });

  it('a server without HEAD is asked for byte 0 instead, and reads by range as well', async () => {
    const device = await testDevice();
    reset();
    const m = await VisionTransformer.load(device, {
      weights: `${base}/nohead/${CLIP}.bin`,
      config: config(),
      cache: false,
    });
    const fromPath = await VisionTransformer.load(device, { weights: fixture(`${CLIP}.bin`), config: config() });
    expect(Array.from(await embedding(m))).toEqual(Array.from(await embedding(fromPath)));
    expect(stats.bodyBytes).toBeLessThan(statSync(fixture(`${CLIP}.bin`)).size);
    m.destroy();
    fromPath.destroy();
  });

  it('a server that announces no size is read in one download', async () => {
    const device = await testDevice();
    const m = await VisionTransformer.load(device, {
      weights: `${base}/nolength/${CLIP}.bin`,
      config: config(),
      cache: false,
    });
    const fromPath = await VisionTransformer.load(device, { weights: fixture(`${CLIP}.bin`), config: config() });
    expect(Array.from(await embedding(m))).toEqual(Array.from(await embedding(fromPath)));
    m.destroy();
    fromPath.destroy();
  });

  it('a server that ignores Range is read in one download; CLIP by URL works', async () => {
    const device = await testDevice();
    reset();
    const clip = await CLIPModel.load(device, {
      weights: `${base}/norange/${CLIP}.bin`,
      config: config(),
      cache: false,
    });
    const [ranked] = await clip.zeroShot([fixture('rocket.png')], ['a cat', 'a rocket']);
    expect(ranked![0]!.label).toBe('a rocket');
    clip.destroy();
    expect(stats.bodyBytes).toBe(statSync(fixture(`${CLIP}.bin`)).size);
  });

  it('failures name the URL and what happened: 404, a truncated body, a file changed between requests', async () => {
    const device = await testDevice();
    const load = (weights: string) => VisionTransformer.load(device, { weights, config: config(), cache: false });
    await expect(load(`${base}/missing/${CLIP}.bin`)).rejects.toThrow(
      new RegExp(`${base}/missing/${CLIP}\\.bin: HTTP 404`),
    );
    await expect(load(`${base}/changing/${CLIP}.bin`)).rejects.toThrow(
      /changed on the server between requests \(ETag "v1" → "v2"\)/,
    );
    await expect(load(`${base}/changing/${CLIP}.bin`)).rejects.toBeInstanceOf(CheckpointError);
    await expect(load('http://127.0.0.1:1/nothing.bin')).rejects.toThrow(
      /127\.0\.0\.1:1\/nothing\.bin: cannot be fetched/,
    );
  });

  it('an interrupted download leaves no cache entry that a later load takes as data', async () => {
    const device = await testDevice();
    const url = `${base}/range/${CLIP}.safetensors`.replace(CLIP, 'ov1-ti16-224-d1');
    const blocks = () =>
      readdirSync(process.env.WGSL_VIT_CACHE!).flatMap((d) =>
        readdirSync(join(process.env.WGSL_VIT_CACHE!, d)).filter((f) => f.endsWith('.blk')),
      ).length;
    const before = blocks();
    server.truncate = true;
    try {
      await expect(
        VisionTransformer.load(device, { weights: url, config: fixture('ov1-ti16-224-d1.open_clip_config.json') }),
      ).rejects.toThrow(
        new RegExp(`${url.replace(/[.]/g, '\\.')}: (the download broke off|the response is shorter than announced)`),
      );
    } finally {
      server.truncate = false;
    }
    // No block of the broken response was kept (blocks are written whole, by rename, once checked).
    expect(blocks()).toBe(before);
    reset();
    const m = await VisionTransformer.load(device, {
      weights: url,
      config: fixture('ov1-ti16-224-d1.open_clip_config.json'),
    });
    const path = await VisionTransformer.load(device, {
      weights: fixture('ov1-ti16-224-d1.safetensors'),
      config: fixture('ov1-ti16-224-d1.open_clip_config.json'),
    });
    const px = new Float32Array(3 * 224 * 224).map((_, i) => Math.sin(i * 0.01));
    const [a, b] = [(await m.forward(px, 1)).embedding!, (await path.forward(px, 1)).embedding!];
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(stats.bodyBytes).toBeGreaterThan(0);
    m.destroy();
    path.destroy();
  });
});
