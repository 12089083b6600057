// `wgsl-vit embed-dataset` as a user runs it (the built CLI in a child process): a webdataset of real
// JPEGs, killed with SIGKILL half way and rerun (every sample exactly once, the files equal an
// uninterrupted run's byte for byte), the --json summary, a folder source, and bad inputs: a shard URL
// that 404s, an output folder that cannot be written, usage errors.
import { createServer, type Server } from 'node:http';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runCliAsync, startCli } from '../helpers/cli.js';
import { fixture } from '../helpers/fixtures.js';
import { filesOf, keysOf } from '../helpers/output-folder.js';
import { PHOTOS, writeShards } from '../helpers/webdataset.js';

const WEIGHTS = fixture('ov1-ti16-224-d1.safetensors'),
  CONFIG = fixture('ov1-ti16-224-d1.open_clip_config.json');

describe('wgsl-vit embed-dataset', () => {
  const tmps: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'wgsl-vit-ds-'));
    tmps.push(d);
    return d;
  };
  let shardDir = '';
  let shards: string[] = [];
  let allKeys: string[] = [];
  let server: Server;
  let base = '';

  beforeAll(async () => {
    ensureBuilt();
    shardDir = tmp();
    const made = await writeShards(shardDir, 8, 6);
    shards = made.paths;
    allKeys = made.samples.flat().map((s) => s.key);
    server = createServer((req, res) => {
      const f = join(shardDir, basename(req.url ?? ''));
      if (!existsSync(f)) {
        res.writeHead(404).end('no such shard');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/x-tar' }).end(readFileSync(f));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  }, 300_000);

  afterAll(() => {
    server?.close();
    for (const d of tmps) rmSync(d, { recursive: true, force: true });
  });

  const common = ['embed-dataset', '--weights', WEIGHTS, '--config', CONFIG, '--threads', '1'];

  it('killed with SIGKILL half way, then rerun: every sample exactly once, the same files as one uninterrupted run', async () => {
    const whole = tmp(),
      killed = tmp();
    const a = await runCliAsync([...common, '--output', whole, '--batch', '2', '--json', ...shards]);
    expect(a.code, a.err).toBe(0);
    const summary = JSON.parse(a.out);
    expect(summary).toMatchObject({ samples: 48, embedded: 48, failed: 0, parts: { total: 8, written: 8 } });
    expect(Object.keys(summary.stages).sort()).toEqual(['decode', 'forward', 'preprocess', 'read', 'text', 'write']);
    expect(await keysOf(whole)).toEqual(allKeys);

    // One process (no CLI child: WGSL_VIT_DAWN_NOTICES=1), killed outright once part 1 is recorded.
    let recordedAtKill: string[] = [];
    const run = startCli([...common, '--output', killed, '--batch', '2', ...shards], { WGSL_VIT_DAWN_NOTICES: '1' });
    const poll = setInterval(() => {
      if (existsSync(join(killed, 'parts', 'part_1.json'))) {
        run.child.kill('SIGKILL');
        recordedAtKill = readdirSync(join(killed, 'parts'));
        clearInterval(poll);
      }
    }, 5);
    const k = await run.done.finally(() => clearInterval(poll));
    expect(k.signal).toBe('SIGKILL');
    expect(recordedAtKill.length).toBeLessThan(8); // it was killed half way, not at the end
    const b = await runCliAsync([...common, '--output', killed, '--batch', '2', '--json', ...shards]);
    expect(b.code, b.err).toBe(0);
    const resumed = JSON.parse(b.out);
    expect(resumed.parts.skipped).toBeGreaterThanOrEqual(2);
    expect(resumed.parts.skipped + resumed.parts.written).toBe(8);
    expect(await keysOf(killed)).toEqual(allKeys); // each exactly once, in order
    const [fa, fb] = [filesOf(whole), filesOf(killed)];
    expect([...fb.keys()]).toEqual([...fa.keys()]);
    for (const [name, bytes] of fa) expect(fb.get(name)!.equals(bytes), name).toBe(true);
  }, 300_000);

  it('a folder source: keys are paths relative to it, captions from the .txt beside each image', async () => {
    const folder = join(tmp(), 'photos');
    mkdirSync(join(folder, 'sub'), { recursive: true });
    cpSync(PHOTOS[0]!, join(folder, 'a.jpg'));
    cpSync(PHOTOS[1]!, join(folder, 'sub', 'b.jpg'));
    writeFileSync(join(folder, 'sub', 'b.txt'), 'a caption');
    const out = tmp();
    const r = await runCliAsync([...common, '--output', out, '--json', folder]);
    expect(r.code, r.err).toBe(0);
    expect(await keysOf(out)).toEqual(['a', 'sub/b']);
    expect(readdirSync(join(out, 'img_emb'))).toEqual(['img_emb_0.npy']);
  }, 120_000);

  it('a shard URL that 404s: named, its part not written, the others are, exit 1; a rerun retries only it', async () => {
    const out = tmp();
    const urls = [`${base}/00000.tar`, `${base}/missing.tar`, `${base}/00002.tar`];
    const r = await runCliAsync([...common, '--output', out, ...urls]);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toContain(`part 1 not written (${base}/missing.tar: HTTP 404`);
    expect(readdirSync(join(out, 'parts')).sort()).toEqual(['part_0.json', 'part_2.json']);
    cpSync(shards[1]!, join(shardDir, 'missing.tar'));
    const again = await runCliAsync([...common, '--output', out, '--json', ...urls]);
    expect(again.code, again.err).toBe(0);
    expect(JSON.parse(again.out).parts).toEqual({ total: 3, written: 1, skipped: 2, failed: 0 });
  }, 120_000);

  it('an output folder that cannot be written, a missing SOURCE, usage errors: clear messages, no hang', async () => {
    const file = join(tmp(), 'a-file');
    writeFileSync(file, 'x');
    const r = await runCliAsync([...common, '--output', join(file, 'out'), shards[0]!]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`output folder ${join(file, 'out')}: cannot be written`);
    const missing = await runCliAsync([...common, '--output', tmp(), '/no/such/shards/{0..2}.tar']);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('/no/such/shards/0.tar: no such file or folder');
    const usage = await runCliAsync(['embed-dataset', '--weights', WEIGHTS, '--config', CONFIG, shards[0]!]);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/--output is required/);
    const dtype = await runCliAsync([...common, '--output', tmp(), '--emb-dtype', 'float64', shards[0]!]);
    expect(dtype.code).toBe(2);
    expect(dtype.err).toContain("--emb-dtype must be float16 or float32, got 'float64'");
  }, 120_000);
});
