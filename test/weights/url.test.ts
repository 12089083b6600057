// Models from a URL: a local HTTP server (test/helpers/fixture-server.ts, 127.0.0.1) serves the
// fixtures with and without Range support, with a 404, a truncated body and an ETag that changes
// between requests, and counts requests and body bytes.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CheckpointError } from '../../src/errors.js';
import { isFloatDType, type Checkpoint } from '../../src/weights/checkpoint.js';
import { openCheckpoint } from '../../src/weights/index.js';
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

/** Every float tensor of a checkpoint, read. */
async function tensors(ckpt: Checkpoint): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const t of ckpt.tensors.values()) if (isFloatDType(t.dtype)) out.set(t.key, Array.from(await ckpt.read(t.key)));
  return out;
}
/** The cache folder of `url` (as url-source.ts names it). */
const entry = (url: string) =>
  join(process.env.WGSL_VIT_CACHE!, createHash('sha256').update(url).digest('hex').slice(0, 32));
/** The cached block files of `url`, whatever their naming (`N.blk`, `<tag>.N.blk`). */
const blockFiles = (url: string) =>
  existsSync(entry(url))
    ? readdirSync(entry(url))
        .filter((f) => /(^|\.)\d+\.blk$/.test(f))
        .map((f) => join(entry(url), f))
    : [];
/** Console warnings while `fn` runs. */
async function warnings<T>(fn: () => Promise<T>): Promise<{ value: T; warned: string[] }> {
  const spy = vi.spyOn(console, 'warn').mockImplementation(() => {});
  try {
    const value = await fn();
    return { value, warned: spy.mock.calls.map((c) => c.map(String).join(' ')) };
  } finally {
    spy.mockRestore();
  }
}

describe('the download cache and robustness (issue 28)', () => {
  const D1 = 'ov1-ti16-224-d1';

  it('a damaged cached block of a .safetensors is dropped with one warning and downloaded again, never used', async () => {
    const url = `${base}/damaged/${D1}.safetensors`;
    const want = await tensors(await openCheckpoint(fixture(`${D1}.safetensors`)));
    expect(await tensors(await openCheckpoint(url))).toEqual(want);
    // One float of the first tensor's data overwritten in place (same length).
    const file = readFileSync(fixture(`${D1}.safetensors`));
    const n = Number(file.readBigUInt64LE(0));
    const header = JSON.parse(file.subarray(8, 8 + n).toString()) as Record<string, { data_offsets?: number[] }>;
    const first = Object.entries(header).find(([k]) => k !== '__metadata__')!;
    const at = 8 + n + first[1].data_offsets![0]!; // in block 0 (the fixture is smaller than a block)
    const [blk] = blockFiles(url);
    expect(blk, 'a cached block').toBeDefined();
    const bytes = readFileSync(blk!);
    bytes.writeFloatLE(1234.5, bytes.length - file.length + at);
    writeFileSync(blk!, bytes);
    reset();
    const { value, warned } = await warnings(async () => tensors(await openCheckpoint(url)));
    expect(value).toEqual(want);
    expect(warned.length).toBe(1);
    expect(warned[0]).toMatch(/block 0 of .*damaged\/.* is damaged/);
    expect(stats.bodyBytes).toBeGreaterThan(0); // downloaded again
    // ...and stored again: the next load downloads nothing and warns of nothing.
    reset();
    const again = await warnings(async () => tensors(await openCheckpoint(url)));
    expect(again.value).toEqual(want);
    expect(again.warned).toEqual([]);
    expect(stats.bodyBytes).toBe(0);
  });

  it('damaged cached blocks of a .bin are downloaded again instead of failing its CRC (and every later load)', async () => {
    const url = `${base}/damagedbin/${CLIP}.bin`;
    const want = await tensors(await openCheckpoint(fixture(`${CLIP}.bin`)));
    expect(await tensors(await openCheckpoint(url))).toEqual(want);
    const files = blockFiles(url);
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) {
      const bytes = readFileSync(f);
      for (let o = 40; o < bytes.length; o += 4096) bytes[o]! ^= 0xff; // a byte in every page
      writeFileSync(f, bytes);
    }
    const { value, warned } = await warnings(async () => tensors(await openCheckpoint(url)));
    expect(value).toEqual(want);
    expect(warned.length).toBe(files.length);
    for (const w of warned) expect(w).toMatch(/is damaged .*: dropped, downloading it again/);
  });

  it('concurrent loads in several processes over a stale cache all succeed (the server file changes between rounds)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-child-'));
    const child = join(dir, 'child.mjs');
    await build({
      entryPoints: [join(import.meta.dirname, 'url-load-child.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: child,
      logLevel: 'silent',
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    });
    const sumOf = async (f: string) =>
      [...(await tensors(await openCheckpoint(fixture(f)))).values()].flat().reduce((a, b) => a + b, 0);
    const files = [`${CLIP}.bin`, `${D1}.bin`];
    const sums = [await sumOf(files[0]!), await sumOf(files[1]!)];
    const run = (at = 0) =>
      new Promise<{ code: number | null; out: string; err: string }>((done) => {
        execFile(
          process.execPath,
          [child, `${base}/mutable/model.bin`, String(at)],
          { timeout: 60_000, env: process.env },
          (e, out, err) => done({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }),
        );
      });
    server.mutable = { file: files[0]!, etag: '"r0"' };
    expect((await run()).code).toBe(0); // a cache entry of round 0's file
    for (let round = 1; round <= 4; round++) {
      server.mutable = { file: files[round % 2]!, etag: `"r${round}"` }; // the cache is now stale
      const at = Date.now() + 1500; // all four open the URL at once
      const results = await Promise.all([run(at), run(at), run(at), run(at)]);
      for (const r of results) {
        expect(r.err + r.out, `round ${round}`).not.toMatch(/ENOTEMPTY|ENOENT/);
        expect(r.code, `round ${round}: ${r.out}${r.err}`).toBe(0);
        expect((JSON.parse(r.out) as { sum: number }).sum).toBe(sums[round % 2]);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('an unusable cache folder (WGSL_VIT_CACHE is a file) loads without the cache, with one warning naming it', async () => {
    const saved = process.env.WGSL_VIT_CACHE;
    const notDir = join(mkdtempSync(join(tmpdir(), 'wgsl-vit-notdir-')), 'a-file');
    writeFileSync(notDir, 'not a folder');
    process.env.WGSL_VIT_CACHE = notDir;
    try {
      const url = `${base}/unwritable/${D1}.safetensors`;
      const { value, warned } = await warnings(async () => tensors(await openCheckpoint(url)));
      expect(value).toEqual(await tensors(await openCheckpoint(fixture(`${D1}.safetensors`))));
      expect(warned.length).toBe(1);
      expect(warned[0]).toContain(notDir);
      expect(warned[0]).toMatch(/cannot be used \((ENOTDIR|EEXIST)\).*without it/);
    } finally {
      process.env.WGSL_VIT_CACHE = saved;
    }
  });

  it('a server that ignores Range is streamed into the cache: a second load downloads nothing, and reads the same', async () => {
    const url = `${base}/norange/${CLIP}.bin`;
    reset();
    const first = await tensors(await openCheckpoint(url));
    expect(stats.bodyBytes).toBe(statSync(fixture(`${CLIP}.bin`)).size);
    reset();
    const second = await tensors(await openCheckpoint(url));
    expect(stats.gets).toBe(0);
    expect(stats.heads).toBe(1);
    expect(stats.bodyBytes).toBe(0);
    expect(second).toEqual(first);
    expect(first).toEqual(await tensors(await openCheckpoint(fixture(`${CLIP}.bin`))));
    // Without a cache it is read in one download as well.
    reset();
    expect(await tensors(await openCheckpoint(url, undefined, { cache: false }))).toEqual(first);
    expect(stats.gets).toBe(1);
  });

  it('a compressing server is asked for the identity encoding: it announces the size and serves ranges', async () => {
    const url = `${base}/gzip/${CLIP}.bin`;
    const size = statSync(fixture(`${CLIP}.bin`)).size;
    reset();
    const events: LoadProgress[] = [];
    const ckpt = await openCheckpoint(url, undefined, { cache: false, onProgress: (p) => events.push(p) });
    for (const k of [...ckpt.tensors.keys()].filter((k) => k.startsWith('visual.'))) await ckpt.read(k);
    expect(stats.gzipped).toBe(0);
    expect(stats.bodyBytes).toBeLessThan(size); // ranges: the text tower was not downloaded
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) expect(e.total).toBe(size);
  });

  it('a server that stalls fails after stallTimeoutMs, naming the URL and how long nothing arrived', async () => {
    const device = await testDevice();
    const url = `${base}/stall/${D1}.safetensors`;
    const t0 = Date.now();
    const err = await VisionTransformer.load(device, {
      weights: url,
      config: fixture(`${D1}.open_clip_config.json`),
      cache: false,
      stallTimeoutMs: 300,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(new RegExp(`^${url.replace(/[.]/g, '\\.')}: nothing arrived for 300 ms`));
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('an AbortSignal aborts a load with a CheckpointError naming the URL', async () => {
    const device = await testDevice();
    const url = `${base}/stall/${D1}.safetensors`;
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 200);
    const load = (signal: AbortSignal) =>
      CLIPModel.load(device, { weights: url, config: config(), cache: false, signal }).catch((e: unknown) => e);
    const err = await load(ctl.signal);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(new RegExp(`^${url.replace(/[.]/g, '\\.')}: the load was aborted`));
    expect((err as Error).cause).toBe(ctl.signal.reason);
    // Already aborted: nothing is requested.
    reset();
    const err2 = await load(AbortSignal.abort(new Error('user gave up')));
    expect((err2 as Error).message).toMatch(/the load was aborted \(user gave up\)/);
    expect(stats.requests).toBe(0);
  });

  it('a refused connection names ECONNREFUSED', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const url = `http://127.0.0.1:${port}/model.safetensors`;
    await expect(openCheckpoint(url, undefined, { cache: false })).rejects.toThrow(
      new RegExp(`^${url.replace(/[.]/g, '\\.')}: cannot be fetched: connection refused \\(ECONNREFUSED`),
    );
  });
});
