// The BullMQ adapter (src/adapters/bullmq.ts) against a real Redis: a private redis-server for this
// file (test/helpers/redis.ts), worker PROCESSES running the built adapter with a stub handler
// (test/adapters/stub-worker.mjs), one of them SIGKILLed while it holds a part. The lock and stall
// settings are shortened through the environment (a 1.5 s lock, a 0.5 s stalled check) so that a
// dead worker's part is taken back within seconds. Without redis-server the Redis tests are
// skipped naming why (under CI=true they fail).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  QUEUE_DEFAULTS,
  QueueError,
  checkRedis,
  enqueueRun,
  parseQueueUrl,
  partJobId,
  removeRun,
  startWorker,
  watchRun,
  workerSettings,
  type Run,
} from '../../src/adapters/bullmq.js';
import { freePort, missingRedis, requireRedis, startRedis, type RedisServer } from '../helpers/redis.js';

const root = join(import.meta.dirname, '..', '..');
const built = join(root, 'dist', 'src', 'adapters', 'bullmq.js');
const stub = join(import.meta.dirname, 'stub-worker.mjs');

beforeAll(() => {
  // The stub workers and the child processes below run the built adapter.
  if (!existsSync(built)) spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
}, 600_000);

describe('parseQueueUrl', () => {
  it('takes host, port and database, with the defaults', () => {
    expect(parseQueueUrl('redis://10.0.0.5:6380/2')).toEqual({
      host: '10.0.0.5',
      port: 6380,
      db: 2,
      url: 'redis://10.0.0.5:6380/2',
      tls: false,
    });
    expect(parseQueueUrl('redis://queue.local')).toMatchObject({ host: 'queue.local', port: 6379, db: 0 });
    expect(parseQueueUrl('redis://queue.local:7000/')).toMatchObject({ port: 7000, db: 0 });
    expect(parseQueueUrl('redis://[::1]:6379/1')).toMatchObject({ host: '::1', db: 1, url: 'redis://[::1]:6379/1' });
  });

  it('takes credentials and TLS, and leaves the password out of the URL it names', () => {
    const u = parseQueueUrl('rediss://worker:s%40cret@redis.example:6390/3');
    expect(u).toEqual({
      host: 'redis.example',
      port: 6390,
      db: 3,
      url: 'rediss://redis.example:6390/3',
      tls: true,
      username: 'worker',
      password: 's@cret',
    });
    expect(parseQueueUrl('redis://:pw@h/0')).toMatchObject({ password: 'pw', url: 'redis://h:6379/0' });
  });

  it.each([
    ['localhost:6379', /bad Redis URL "localhost:6379": the scheme is localhost, not redis/],
    ['http://h:6379/0', /bad Redis URL "http:\/\/h:6379\/0": the scheme is http, not redis/],
    ['not a url', /bad Redis URL "not a url": not a URL \(expected redis:\/\/host:port\/db/],
    ['redis://h:6379/db1', /bad Redis URL "redis:\/\/h:6379\/db1": the path \/db1 is not a database number/],
    ['redis://h:6379/0/1', /the path \/0\/1 is not a database number/],
    ['redis://h:0/0', /bad Redis URL "redis:\/\/h:0\/0": port 0 is not in 1…65535/],
    ['redis://h:99999/0', /bad Redis URL "redis:\/\/h:99999\/0"/],
    ['redis:///0', /bad Redis URL "redis:\/\/\/0": no host/],
    ['redis://h/0?x=1', /bad Redis URL "redis:\/\/h\/0\?x=1": a query or fragment is not supported/],
  ])('refuses %s, naming it and what is wrong', (url, message) => {
    expect(() => parseQueueUrl(url)).toThrow(message);
  });
});

describe('workerSettings', () => {
  it('defaults suit multi-minute parts; the environment overrides them, an option overrides both', () => {
    expect(workerSettings({ env: {} })).toEqual({
      concurrency: 1,
      lockDurationMs: QUEUE_DEFAULTS.lockDurationMs,
      stalledIntervalMs: QUEUE_DEFAULTS.stalledIntervalMs,
      maxStalledCount: QUEUE_DEFAULTS.maxStalledCount,
    });
    const env = { WGSL_VIT_QUEUE_LOCK_MS: '1500', WGSL_VIT_QUEUE_STALL_MS: '500', WGSL_VIT_QUEUE_MAX_STALLED: '0' };
    expect(workerSettings({ env })).toEqual({
      concurrency: 1,
      lockDurationMs: 1500,
      stalledIntervalMs: 500,
      maxStalledCount: 0,
    });
    expect(workerSettings({ env, lockDurationMs: 60_000, concurrency: 2 })).toMatchObject({
      concurrency: 2,
      lockDurationMs: 60_000,
      stalledIntervalMs: 500,
    });
  });

  it('refuses a bad value, naming the variable or option', () => {
    expect(() => workerSettings({ env: { WGSL_VIT_QUEUE_LOCK_MS: '2s' } })).toThrow(
      'WGSL_VIT_QUEUE_LOCK_MS="2s" is not an integer ≥ 1',
    );
    expect(() => workerSettings({ env: { WGSL_VIT_QUEUE_STALL_MS: '0' } })).toThrow('WGSL_VIT_QUEUE_STALL_MS="0"');
    expect(() => workerSettings({ env: {}, concurrency: 0 })).toThrow('concurrency must be an integer ≥ 1, not 0');
  });
});

describe('without bullmq and ioredis installed', () => {
  it('the adapter still loads, and its functions say what to install', () => {
    // The built module alone, in a folder with no node_modules above it.
    const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-nobull-'));
    try {
      copyFileSync(built, join(dir, 'bullmq.mjs'));
      const r = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(join(dir, 'bullmq.mjs'))});
           console.log(JSON.stringify(m.parseQueueUrl('redis://h:1/2')));
           for (const f of [() => m.checkRedis('redis://127.0.0.1:1/0'), () => m.watchRun('redis://127.0.0.1:1/0', 'r1')])
             await f().then(() => console.log('resolved'), (e) => console.log(e.name + ': ' + e.message));`,
        ],
        { encoding: 'utf8', cwd: dir, timeout: 30_000 },
      );
      expect(r.stderr).toBe('');
      const lines = r.stdout.trim().split('\n');
      expect(JSON.parse(lines[0]!)).toMatchObject({ host: 'h', port: 1, db: 2 });
      expect(lines.slice(1)).toEqual([
        'QueueError: the --queue option needs the bullmq and ioredis packages: npm install bullmq ioredis (ioredis is not installed)',
        'QueueError: the --queue option needs the bullmq and ioredis packages: npm install bullmq ioredis (ioredis is not installed)',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is the package export wgsl-vit/adapters/bullmq', () => {
    const r = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', "console.log(import.meta.resolve('wgsl-vit/adapters/bullmq'))"],
      { encoding: 'utf8', cwd: root },
    );
    expect(r.stdout.trim()).toBe(`file://${built}`);
  });
});

describe('Redis unreachable', () => {
  it('checkRedis on a closed port: the named error, within seconds', async () => {
    const port = await freePort(); // free, so nothing listens there
    const url = `redis://127.0.0.1:${port}/0`;
    const t0 = Date.now();
    const err = await checkRedis(url).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueError);
    expect((err as Error).message).toMatch(
      new RegExp(`^Redis at redis://127\\.0\\.0\\.1:${port}/0 is unreachable: .*ECONNREFUSED`),
    );
    expect(Date.now() - t0).toBeLessThan(10_000); // not a hang
  });

  it('a server that never answers: the named error after the timeout, the connection closed, the process free to exit', async () => {
    const sockets: Socket[] = [];
    let closed = 0;
    const server = createServer((s) => {
      sockets.push(s);
      s.resume(); // read (and drop) what the client sends, so its end is seen
      s.on('close', () => closed++);
      s.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      const t0 = Date.now();
      await expect(checkRedis(`redis://127.0.0.1:${port}/0`, 500)).rejects.toThrow(
        `Redis at redis://127.0.0.1:${port}/0 is unreachable: no answer within 500 ms`,
      );
      expect(Date.now() - t0).toBeLessThan(10_000);
      await expect.poll(() => closed, { timeout: 5000 }).toBe(sockets.length);
      expect(sockets.length).toBe(1);
      // In a process of its own: it ends by itself once checkRedis has rejected (nothing left open).
      // (spawned, not spawnSync: this process's server must go on reading meanwhile, as a remote one would)
      const child = spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { checkRedis } = await import(${JSON.stringify(built)});
           await checkRedis('redis://127.0.0.1:${port}/0', 500).catch((e) => console.log(e.message));`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await new Promise((r) => child.on('exit', (c, sig) => r(c ?? sig)));
      clearTimeout(killer);
      expect(code).toBe(0); // ended by itself, not killed
      expect(out.trim()).toBe(`Redis at redis://127.0.0.1:${port}/0 is unreachable: no answer within 500 ms`);
    } finally {
      sockets.forEach((s) => s.destroy());
      server.close();
    }
  });

  it('enqueueRun, watchRun and startWorker name the unreachable Redis too', async () => {
    const url = `redis://127.0.0.1:${await freePort()}/0`;
    const named = new RegExp(`^Redis at ${url.replace(/\./g, '\\.')} is unreachable: `);
    const run: Run = { runId: 'r1', data: {}, parts: [{ index: 0, data: null }] };
    await expect(enqueueRun(url, run)).rejects.toThrow(named);
    await expect(watchRun(url, 'r1')).rejects.toThrow(named);
    await expect(startWorker(url, () => Promise.resolve())).rejects.toThrow(named);
  });
});

describe('with a Redis', () => {
  requireRedis();
  let redis: RedisServer;
  let url = '';
  const procs: ChildProcess[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    if (missingRedis) return;
    redis = await startRedis();
    url = redis.url;
  }, 60_000);

  afterEach(() => {
    for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  afterAll(async () => {
    await redis?.stop();
  });

  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'wgsl-vit-parts-'));
    dirs.push(d);
    return d;
  };

  const makeRun = (runId: string, n: number, tag = 'T'): Run => ({
    runId,
    data: { tag },
    parts: Array.from({ length: n }, (_, i) => ({ index: i, data: { text: `part ${i} of ${runId}` } })),
  });

  /** A stub worker process; `lines` gathers its stdout, `exit` resolves with its exit code. */
  const spawnWorker = (queue: string, dir: string, env: Record<string, string> = {}) => {
    const p = spawn(process.execPath, [stub], {
      env: {
        ...process.env,
        STUB_URL: url,
        STUB_DIR: dir,
        STUB_QUEUE: queue,
        WGSL_VIT_QUEUE_LOCK_MS: '1500',
        WGSL_VIT_QUEUE_STALL_MS: '500',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    procs.push(p);
    const lines: string[] = [];
    let err = '';
    let buf = '';
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      lines.push(...parts);
    });
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exit = new Promise<number | string | null>((r) => p.on('exit', (code, signal) => r(code ?? signal)));
    return { p, lines, stderr: () => err, exit };
  };

  const counts = async (queue: string) => {
    const q = new Queue(queue, { connection: parseQueueUrl(url) });
    try {
      return await q.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
    } finally {
      await q.close();
    }
  };

  const partState = async (queue: string, runId: string, index: number) => {
    const q = new Queue(queue, { connection: parseQueueUrl(url) });
    try {
      const job = await q.getJob(partJobId(runId, index));
      return { state: await job!.getState(), attemptsMade: job!.attemptsMade };
    } finally {
      await q.close();
    }
  };

  const partFiles = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('part_') || f.startsWith('.part_'));
  const logLines = (dir: string, i: number) =>
    existsSync(join(dir, `log_${i}.txt`))
      ? readFileSync(join(dir, `log_${i}.txt`), 'utf8')
          .trim()
          .split('\n')
      : [];

  it('checkRedis resolves on a running Redis, and names a database it refuses', async () => {
    await expect(checkRedis(url)).resolves.toBeUndefined();
    await expect(checkRedis(url.replace(/\/0$/, '/15'))).resolves.toBeUndefined();
    const db99 = url.replace(/\/0$/, '/99');
    await expect(checkRedis(db99)).rejects.toThrow(
      `Redis at ${db99} answered with an error: ERR DB index is out of range`,
    );
  });

  it('enqueueing the same run twice adds nothing; other parameters are refused; removeRun empties it', async () => {
    const queue = 'twice';
    const run = makeRun('run-twice', 3);
    expect(await enqueueRun(url, run, { queue })).toEqual({ added: 3, existing: 0, retried: 0 });
    expect(await enqueueRun(url, run, { queue })).toEqual({ added: 0, existing: 3, retried: 0 });
    expect(await counts(queue)).toMatchObject({ waiting: 3, active: 0 });
    expect(await counts(`${queue}-runs`)).toMatchObject({ waiting: 0 }); // the parent waits for its children
    await expect(enqueueRun(url, makeRun('run-twice', 3, 'other'), { queue })).rejects.toThrow(
      /^run run-twice is already in queue twice at redis:\/\/127\.0\.0\.1:\d+\/0 with other parameters \(there: \{"tag":"T"\}, now: \{"tag":"other"\}\)/,
    );
    await expect(enqueueRun(url, makeRun('run-twice', 4), { queue })).rejects.toThrow(
      'with other parts (there: 0,1,2, now: 0,1,2,3)',
    );
    const changed = makeRun('run-twice', 3);
    changed.parts[1]!.data = { text: 'changed' };
    await expect(enqueueRun(url, changed, { queue })).rejects.toThrow('and part 1 has other data there');
    await expect(enqueueRun(url, { ...run, runId: 'a:b' }, { queue })).rejects.toThrow('bad run id "a:b"');
    await expect(
      enqueueRun(url, { ...run, parts: [run.parts[0]!, run.parts[0]!] }, { queue: 'other' }),
    ).rejects.toThrow('run run-twice: part 0 is listed twice');
    await removeRun(url, 'run-twice', { queue });
    expect(await counts(queue)).toMatchObject({ waiting: 0 });
    await expect(watchRun(url, 'run-twice', { queue })).rejects.toThrow(
      /^no run run-twice in queue twice at redis:\/\/127\.0\.0\.1:\d+\/0$/,
    );
  });

  it('three worker processes, one SIGKILLed while it holds a part: the run completes, every part written once', async () => {
    const queue = 'scale';
    const dir = tempDir();
    const run = makeRun('run-scale', 6);
    await enqueueRun(url, run, { queue });
    // The victim starts first and takes a part it would hold for 30 s; the two others come next.
    const victim = spawnWorker(queue, dir, { STUB_SLEEP_MS: '30000' });
    await expect.poll(() => victim.lines.some((l) => l.startsWith('ready ')), { timeout: 30_000 }).toBe(true);
    const others = [0, 1].map(() => spawnWorker(queue, dir, { STUB_SLEEP_MS: '800' }));
    await expect.poll(() => victim.lines.find((l) => l.startsWith('start ')), { timeout: 30_000 }).toBeDefined();
    const held = Number(victim.lines.find((l) => l.startsWith('start '))!.split(' ')[1]);
    victim.p.kill('SIGKILL');
    expect(await victim.exit).toBe('SIGKILL');

    const seen: number[] = [];
    const result = await watchRun(url, run.runId, { queue, pollMs: 200, onProgress: (s) => seen.push(s.done) });
    expect(result.failed).toEqual([]);
    expect(result.done).toEqual([0, 1, 2, 3, 4, 5]);
    expect(seen.at(-1)).toBe(6);
    expect(Object.keys(result.results)).toEqual(['0', '1', '2', '3', '4', '5']);
    // Every part file once, with its content, no temporary left; the killed part ran again elsewhere.
    expect(partFiles(dir).sort()).toEqual([0, 1, 2, 3, 4, 5].map((i) => `part_${i}.txt`));
    for (const p of run.parts)
      expect(readFileSync(join(dir, `part_${p.index}.txt`), 'utf8')).toBe(`T:part ${p.index} of run-scale\n`);
    const heldLog = logLines(dir, held);
    expect(heldLog.length).toBeGreaterThanOrEqual(2);
    expect(heldLog[0]).toContain(`pid ${victim.p.pid} `);
    expect(heldLog.at(-1)).not.toContain(`pid ${victim.p.pid} `);
    expect((result.results[held] as { pid: number }).pid).not.toBe(victim.p.pid);
    expect(victim.lines.filter((l) => l.startsWith('start '))).toEqual([`start ${held}`]);
    for (const p of run.parts) expect(logLines(dir, p.index).length).toBeGreaterThanOrEqual(1);

    for (const w of others) {
      w.p.kill('SIGTERM');
      expect(await w.exit).toBe(0);
    }
  }, 60_000);

  it('a part whose worker dies more often than maxStalledCount allows fails, naming why', async () => {
    const queue = 'stall';
    const dir = tempDir();
    const run = makeRun('run-stall', 1);
    await enqueueRun(url, run, { queue });
    const env = { WGSL_VIT_QUEUE_MAX_STALLED: '0' };
    const victim = spawnWorker(queue, dir, { ...env, STUB_SLEEP_MS: '30000' });
    await expect.poll(() => victim.lines.includes('start 0'), { timeout: 30_000 }).toBe(true);
    victim.p.kill('SIGKILL');
    const survivor = spawnWorker(queue, dir, { ...env, STUB_SLEEP_MS: '50' });
    expect(await watchRun(url, run.runId, { queue, pollMs: 100 })).toEqual({
      done: [],
      failed: [{ index: 0, reason: 'job stalled more than allowable limit' }],
      results: {},
    });
    expect(survivor.lines).not.toContain('start 0'); // failed, not run again
    survivor.p.kill('SIGTERM');
    expect(await survivor.exit).toBe(0);
  }, 60_000);

  it('removeRun refuses while a part runs, naming the run; an in-process worker gets the run and the part', async () => {
    const queue = 'remove-busy';
    const run = makeRun('run-busy', 1);
    await enqueueRun(url, run, { queue });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: unknown[] = [];
    const worker = await startWorker(
      url,
      async (data, ctx) => {
        seen.push(data, { jobId: ctx.jobId, runId: ctx.runId, attempt: ctx.attempt });
        await gate;
        return 'ok';
      },
      { queue },
    );
    try {
      await expect.poll(() => seen.length, { timeout: 30_000 }).toBe(2);
      expect(seen).toEqual([
        { run: { tag: 'T' }, part: { index: 0, data: { text: 'part 0 of run-busy' } } },
        { jobId: 'run-busy.part-0', runId: 'run-busy', attempt: 1 },
      ]);
      await expect(removeRun(url, 'run-busy', { queue })).rejects.toThrow(
        /^run run-busy could not be removed \(a part still running\?\): .*locked/,
      );
    } finally {
      release();
      await worker.close();
    }
    expect(await watchRun(url, 'run-busy', { queue })).toEqual({ done: [0], failed: [], results: { 0: 'ok' } });
    await removeRun(url, 'run-busy', { queue });
    expect(await counts(queue)).toMatchObject({ waiting: 0, completed: 0 });
  });

  it('a worker fails a job that is not a part at once, naming it', async () => {
    const queue = 'foreign';
    const q = new Queue(queue, { connection: parseQueueUrl(url) });
    try {
      await q.add('other', { hello: 'world' }, { jobId: 'not-a-part', attempts: 3 });
      const errors: Error[] = [];
      const worker = await startWorker(url, () => Promise.resolve('never'), { queue, onError: (e) => errors.push(e) });
      try {
        await expect.poll(async () => (await q.getJob('not-a-part'))!.getState(), { timeout: 30_000 }).toBe('failed');
        const job = (await q.getJob('not-a-part'))!;
        expect(job.failedReason).toBe(
          `job not-a-part in queue ${queue} is not a wgsl-vit part (no part index in its data)`,
        );
        expect(job.attemptsMade).toBe(1);
      } finally {
        await worker.close();
      }
      expect(errors).toEqual([]);
    } finally {
      await q.close();
    }
  });

  it('a handler that throws: the part fails after its attempts with the reason; enqueued again it runs again', async () => {
    const queue = 'fail';
    const dir = tempDir();
    const run = makeRun('run-fail', 3);
    await enqueueRun(url, run, { queue, attempts: 2, backoffMs: 50 });
    const w = spawnWorker(queue, dir, { STUB_SLEEP_MS: '50', STUB_FAIL: '1' });
    const result = await watchRun(url, run.runId, { queue, pollMs: 100 });
    expect(result.done).toEqual([0, 2]);
    expect(result.failed).toEqual([{ index: 1, reason: 'stub failure for part 1' }]);
    expect(logLines(dir, 1)).toHaveLength(2); // its two attempts
    expect(existsSync(join(dir, 'part_1.txt'))).toBe(false);
    w.p.kill('SIGTERM');
    expect(await w.exit).toBe(0);

    // The same run again (a rerun of the command): the failed part is put back, with fresh attempts.
    expect(await enqueueRun(url, run, { queue, attempts: 2, backoffMs: 50 })).toEqual({
      added: 0,
      existing: 3,
      retried: 1,
    });
    const w2 = spawnWorker(queue, dir, { STUB_SLEEP_MS: '50' });
    const again = await watchRun(url, run.runId, { queue, pollMs: 100 });
    expect(again).toMatchObject({ done: [0, 1, 2], failed: [] });
    expect(readFileSync(join(dir, 'part_1.txt'), 'utf8')).toBe('T:part 1 of run-fail\n');
    expect(logLines(dir, 0)).toHaveLength(1); // done parts are not redone
    w2.p.kill('SIGTERM');
    expect(await w2.exit).toBe(0);
  }, 60_000);

  it('SIGTERM mid-part: the worker finishes that part, takes no other, and exits 0', async () => {
    const queue = 'term';
    const dir = tempDir();
    const run = makeRun('run-term', 2);
    await enqueueRun(url, run, { queue });
    const w = spawnWorker(queue, dir, { STUB_SLEEP_MS: '2000' });
    await expect.poll(() => w.lines.find((l) => l.startsWith('start ')), { timeout: 30_000 }).toBeDefined();
    const held = Number(w.lines.find((l) => l.startsWith('start '))!.split(' ')[1]);
    w.p.kill('SIGTERM');
    expect(await w.exit).toBe(0);
    expect(w.lines).toEqual(expect.arrayContaining(['closing', `done ${held}`, 'closed']));
    expect(w.lines.filter((l) => l.startsWith('start '))).toEqual([`start ${held}`]);
    expect(readFileSync(join(dir, `part_${held}.txt`), 'utf8')).toBe(`T:part ${held} of run-term\n`);
    expect(await partState(queue, run.runId, held)).toMatchObject({ state: 'completed' });
    expect(await partState(queue, run.runId, 1 - held)).toMatchObject({ state: 'waiting', attemptsMade: 0 });
  }, 60_000);

  it('SIGTERM with abort: the part is released at once, without using an attempt, and another worker does it', async () => {
    const queue = 'release';
    const dir = tempDir();
    const run = makeRun('run-release', 1);
    await enqueueRun(url, run, { queue });
    const w = spawnWorker(queue, dir, { STUB_SLEEP_MS: '30000', STUB_ON_SIGTERM: 'abort' });
    await expect.poll(() => w.lines.includes('start 0'), { timeout: 30_000 }).toBe(true);
    w.p.kill('SIGTERM');
    expect(await w.exit).toBe(0);
    expect(w.lines).not.toContain('done 0');
    expect(await partState(queue, run.runId, 0)).toEqual({ state: 'waiting', attemptsMade: 0 });
    expect(existsSync(join(dir, 'part_0.txt'))).toBe(false);
    const w2 = spawnWorker(queue, dir, { STUB_SLEEP_MS: '50' });
    expect(await watchRun(url, run.runId, { queue, pollMs: 100 })).toMatchObject({ done: [0], failed: [] });
    expect(logLines(dir, 0)).toHaveLength(2);
    w2.p.kill('SIGTERM');
    expect(await w2.exit).toBe(0);
  }, 60_000);

  it('a Redis that stops during watchRun: the named error within seconds, not a hang', async () => {
    const own = await startRedis();
    try {
      await enqueueRun(own.url, makeRun('run-gone', 1), { queue: 'gone' });
      let polls = 0;
      const watching = watchRun(own.url, 'run-gone', {
        queue: 'gone',
        pollMs: 100,
        requestTimeoutMs: 1000,
        onProgress: () => polls++,
      });
      await expect.poll(() => polls, { timeout: 10_000 }).toBeGreaterThan(0);
      await own.stop();
      const t0 = Date.now();
      await expect(watching).rejects.toThrow(
        new RegExp(`^Redis at ${own.url.replace(/\./g, '\\.')}(:| stopped answering:) polling the parts`),
      );
      expect(Date.now() - t0).toBeLessThan(15_000);
    } finally {
      await own.stop();
    }
  }, 60_000);

  it('Redis gone while a worker closes: close() still resolves (the error reported) and the worker can exit', async () => {
    const own = await startRedis();
    try {
      const dir = tempDir();
      await enqueueRun(own.url, makeRun('run-lost', 1), { queue: 'lost' });
      const w = spawnWorker('lost', dir, {
        STUB_URL: own.url,
        STUB_SLEEP_MS: '1500',
        STUB_CLOSE_TIMEOUT_MS: '500',
        STUB_EXIT_AFTER_CLOSE: '1',
      });
      await expect.poll(() => w.lines.includes('start 0'), { timeout: 30_000 }).toBe(true);
      await own.stop();
      w.p.kill('SIGTERM');
      expect(await w.exit).toBe(0);
      expect(w.lines).toEqual(expect.arrayContaining(['closing', 'done 0', 'closed']));
      expect(w.stderr()).toContain(
        `Redis at ${own.url} did not answer within 500 ms of the last part's end while the worker closed`,
      );
    } finally {
      await own.stop();
    }
  }, 60_000);

  it('watchRun stops when its signal aborts', async () => {
    const queue = 'abort-watch';
    await enqueueRun(url, makeRun('run-watch', 1), { queue });
    const ac = new AbortController();
    const watching = watchRun(url, 'run-watch', {
      queue,
      pollMs: 100,
      signal: ac.signal,
      onProgress: () => ac.abort(new Error('stop')),
    });
    await expect(watching).rejects.toThrow('stop');
  });
});
