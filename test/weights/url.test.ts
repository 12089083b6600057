// Models from a URL: a local HTTP server (127.0.0.1) serves the fixtures with and without Range
// support, with a 404, a truncated body and an ETag that changes between requests, and counts
// requests and body bytes.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../../src/errors.js';
import { CLIPModel } from '../../src/model/clip.js';
import { readExpected } from '../../src/model/verify.js';
import { VisionTransformer } from '../../src/model/vit.js';
import type { LoadProgress } from '../../src/weights/source.js';
import { fixture } from '../helpers/fixtures.js';
import { testDevice } from '../helpers/gpu.js';

const CLIP = 'ov1-clip-ti16-224-t2';
const stats = { requests: 0, heads: 0, bodyBytes: 0 };
let mode: 'normal' | 'truncate' = 'normal';
let server: Server;
let base = '';

/** /range/F (Range, ETag), /norange/F (always 200), /changing/F (ETag differs after HEAD), /missing. */
function serve(): Promise<void> {
  server = createServer((req, res) => {
    stats.requests++;
    const [, kind, name] = /^\/([a-z]+)\/?(.*)$/.exec(req.url ?? '') ?? [];
    if (kind === 'missing' || !name) return res.writeHead(404).end();
    const data = readFileSync(fixture(name));
    const etag = kind === 'changing' && req.method !== 'HEAD' ? '"v2"' : '"v1"';
    const headers = { ETag: etag, 'Last-Modified': 'Mon, 30 Nov 2026 00:00:00 GMT', 'Accept-Ranges': 'bytes' };
    if (req.method === 'HEAD') {
      stats.heads++;
      return res.writeHead(200, { ...headers, 'Content-Length': data.length }).end();
    }
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const [begin, end] = range && kind !== 'norange' ? [Number(range[1]), Number(range[2]) + 1] : [0, data.length];
    const body = data.subarray(begin, Math.min(end, data.length));
    res.writeHead(range && kind !== 'norange' ? 206 : 200, {
      ...headers,
      'Content-Length': body.length,
      ...(range && kind !== 'norange'
        ? { 'Content-Range': `bytes ${begin}-${begin + body.length - 1}/${data.length}` }
        : {}),
    });
    if (mode === 'truncate') {
      // Half of what was announced, then the connection closes.
      stats.bodyBytes += body.length >> 1;
      res.flushHeaders();
      res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.destroy(), 20));
      return;
    }
    stats.bodyBytes += body.length;
    res.end(body);
  });
  return new Promise((r) =>
    server.listen(0, '127.0.0.1', () => {
      base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      r();
    }),
  );
}

beforeAll(async () => {
  await serve();
  process.env.WGSL_VIT_CACHE = mkdtempSync(join(tmpdir(), 'wgsl-vit-cache-'));
});
afterAll(() => {
  server.close();
  delete process.env.WGSL_VIT_CACHE;
});

const reset = () => Object.assign(stats, { requests: 0, heads: 0, bodyBytes: 0 });
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
    mode = 'truncate';
    try {
      await expect(
        VisionTransformer.load(device, { weights: url, config: fixture('ov1-ti16-224-d1.open_clip_config.json') }),
      ).rejects.toThrow(
        new RegExp(`${url.replace(/[.]/g, '\\.')}: (the download broke off|the response is shorter than announced)`),
      );
    } finally {
      mode = 'normal';
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
