// `embed-dataset --queue` and `wgsl-vit worker` against a real redis-server (test/helpers/redis.ts): a
// webdataset of real JPEGs embedded by three worker processes, one SIGKILLed while it holds a part —
// the run completes, every sample appears exactly once, and the files equal a single-process run's
// byte for byte; Redis unreachable (named within seconds, not a hang); a worker given another model.
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, startCli, type CliRun } from '../helpers/cli.js';
import { fixture } from '../helpers/fixtures.js';
import { filesOf, keysOf } from '../helpers/output-folder.js';
import { freePort, requireRedis, startRedis, type RedisServer } from '../helpers/redis.js';
import { writeShards } from '../helpers/webdataset.js';

requireRedis();

const WEIGHTS = fixture('ov1-ti16-224-d1.safetensors'),
  CONFIG = fixture('ov1-ti16-224-d1.open_clip_config.json');
// Short locks so that a SIGKILLed worker's part goes to another within seconds (the defaults suit
// multi-minute parts: docs/datasets.md, "Scaling out with BullMQ").
const FAST_QUEUE = { WGSL_VIT_QUEUE_LOCK_MS: '3000', WGSL_VIT_QUEUE_STALL_MS: '1000', WGSL_VIT_DAWN_NOTICES: '1' };

const until = async (what: string, ok: () => boolean, ms = 120_000) => {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('embed-dataset --queue with wgsl-vit worker processes', () => {
  let redis: RedisServer;
  const tmps: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'wgsl-vit-queue-'));
    tmps.push(d);
    return d;
  };
  const workers: CliRun[] = [];
  let shards: string[] = [];
  let allKeys: string[] = [];

  beforeAll(async () => {
    ensureBuilt();
    redis = await startRedis();
    const made = await writeShards(tmp(), 6, 4);
    shards = made.paths;
    allKeys = made.samples.flat().map((s) => s.key);
  }, 120_000);

  afterAll(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    await redis?.stop();
    for (const d of tmps) rmSync(d, { recursive: true, force: true });
  });

  it('three workers, one SIGKILLed holding a part: every sample once, the files of a single-process run', async () => {
    const single = tmp(),
      queued = tmp();
    const one = await startCli([
      'embed-dataset',
      '--weights',
      WEIGHTS,
      '--config',
      CONFIG,
      '--output',
      single,
      '--batch',
      '2',
      ...shards,
    ]).done;
    expect(one.code, one.err).toBe(0);

    const coordinator = startCli(
      [
        'embed-dataset',
        '--weights',
        WEIGHTS,
        '--config',
        CONFIG,
        '--output',
        queued,
        '--batch',
        '2',
        '--queue',
        redis.url,
        '--json',
        ...shards,
      ],
      FAST_QUEUE,
    );
    await until('the run to be enqueued', () => coordinator.err().includes('parts on'));
    for (let i = 0; i < 3; i++) workers.push(startCli(['worker', '--queue', redis.url, '--threads', '1'], FAST_QUEUE));
    // A worker loads its model inside its first part's job: once it says so, it holds that part.
    await until('worker 0 to take a part', () => workers[0]!.err().includes('wgsl-vit worker: loaded'));
    workers[0]!.child.kill('SIGKILL');
    const c = await coordinator.done;
    expect(c.code, c.err).toBe(0);
    const summary = JSON.parse(c.out);
    expect(summary).toMatchObject({ parts: { total: 6, done: 6, failed: 0 }, embedded: 24 });
    expect((await workers[0]!.done).signal).toBe('SIGKILL');
    // The others stop on SIGTERM after their part (exit 0).
    for (const w of workers.slice(1)) w.child.kill('SIGTERM');
    for (const w of workers.slice(1)) expect((await w.done).code).toBe(0);
    expect(await keysOf(queued)).toEqual(allKeys);
    const [a, b] = [filesOf(single), filesOf(queued)];
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, bytes] of a) expect(b.get(name)!.equals(bytes), name).toBe(true);
  }, 300_000);

  it('Redis unreachable: the coordinator and a worker name it within seconds', async () => {
    const closed = `redis://127.0.0.1:${await freePort()}/0`;
    const t0 = Date.now();
    const c = await startCli([
      'embed-dataset',
      '--weights',
      WEIGHTS,
      '--config',
      CONFIG,
      '--output',
      tmp(),
      '--queue',
      closed,
      shards[0]!,
    ]).done;
    expect(c.code).toBe(1);
    expect(c.err).toContain(`Redis at ${closed} is unreachable`);
    const w = await startCli(['worker', '--queue', closed]).done;
    expect(w.code).toBe(1);
    expect(w.err).toContain(`Redis at ${closed} is unreachable`);
    expect(Date.now() - t0).toBeLessThan(60_000); // not a hang (each check gives up after 5 s)
  }, 90_000);

  it("a worker whose files are not the run's model refuses the part, and the run lists it as failed", async () => {
    const dir = tmp();
    const weights = join(dir, 'model.safetensors');
    copyFileSync(WEIGHTS, weights);
    const out = tmp();
    const coordinator = startCli(
      [
        'embed-dataset',
        '--weights',
        weights,
        '--config',
        CONFIG,
        '--output',
        out,
        '--queue',
        redis.url,
        '--json',
        shards[0]!,
      ],
      FAST_QUEUE,
    );
    await until('the run to be enqueued', () => coordinator.err().includes('parts on'));
    copyFileSync(fixture('ov1-ti8-160-d1.safetensors'), weights); // the file changed under the run
    const w = startCli(['worker', '--queue', redis.url], FAST_QUEUE);
    workers.push(w);
    const c = await coordinator.done;
    expect(c.code).toBe(1);
    expect(c.err).toMatch(/part 0 failed after its retries: this worker's .*model\.safetensors.* hash to sha256:/);
    expect(existsSync(join(out, 'parts', 'part_0.json'))).toBe(false);
    w.child.kill('SIGTERM');
    expect((await w.done).code).toBe(0);
  }, 180_000);
});
