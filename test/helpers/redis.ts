// A private Redis for the tests that need one (the BullMQ adapter, test/adapters/bullmq.test.ts):
// Debian's redis-server, installed by `npm run setup` (tools/setup-system.sh), started on a free
// loopback port in a temporary directory with persistence off, and stopped (its directory removed)
// by the test. No test uses a system Redis, so nothing of a developer's Redis is touched.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, beforeEach } from 'vitest';

/** The redis-server the tests run: REDIS_SERVER_PATH, or `redis-server` on the PATH. */
export const REDIS_SERVER = process.env.REDIS_SERVER_PATH ?? 'redis-server';

/**
 * Why Redis tests cannot run here, or null when they can: redis-server is not installed (Redis is
 * installed by `npm run setup` where apt-get is available; without it those tests are skipped with
 * this reason, and under CI=true they fail instead, so a green CI always ran them).
 */
export const missingRedis: string | null = (() => {
  const r = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' });
  if (r.status === 0 && /Redis server/i.test(r.stdout)) return null;
  const why = r.error ? r.error.message : `exit status ${r.status}: ${(r.stderr || r.stdout).trim()}`;
  return `${REDIS_SERVER} cannot run (${why}): run \`npm run setup\` (installs Debian's redis-server) or set REDIS_SERVER_PATH`;
})();

/**
 * Registers the hooks that skip a file's tests when redis-server is missing (naming why), or fail
 * them under CI=true, as test/web/page.test.ts does for Chromium. Call it at the top of the file.
 */
export function requireRedis(): void {
  beforeEach((ctx) => {
    if (missingRedis && !process.env.CI) ctx.skip(`Redis not tested: ${missingRedis}`);
  });
  beforeAll(() => {
    if (missingRedis && process.env.CI) throw new Error(missingRedis);
  });
}

/** A running private redis-server. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>/0` */
  url: string;
  port: number;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its directory. */
  stop(): Promise<void>;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS's choice). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Whether a Redis on the port answers PING with PONG (a raw RESP exchange, no client library). */
function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let got = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) done(got.startsWith('+PONG'));
    });
  });
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => p.once('exit', () => resolve()));
}

/**
 * Starts `redis-server --port <free loopback port> --bind 127.0.0.1 --dir <mkdtemp> --save ''
 * --appendonly no` and resolves once it answers PING (an error with its output if it exits first or
 * does not answer within 15 s; a port taken in between is retried on another).
 */
export async function startRedis(): Promise<RedisServer> {
  let last = '';
  for (let tries = 0; tries < 3; tries++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-redis-'));
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'];
    const proc = spawn(REDIS_SERVER, [...args, '--daemonize', 'no', '--logfile', ''], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    let failed: Error | undefined;
    proc.once('error', (e) => (failed = e));
    const stop = async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited(proc);
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    };
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !failed && proc.exitCode === null && proc.signalCode === null) {
      if (await pings(port)) return { url: `redis://127.0.0.1:${port}/0`, port, stop };
      await new Promise((r) => setTimeout(r, 50));
    }
    const running = proc.exitCode === null && proc.signalCode === null;
    await stop();
    last = failed
      ? `${REDIS_SERVER} ${args.join(' ')}: ${failed.message}`
      : `${REDIS_SERVER} ${args.join(' ')} ${running ? 'did not answer PING within 15 s' : `exited (${proc.exitCode ?? proc.signalCode})`}:\n${out}`;
    if (!/Address already in use/i.test(out)) break;
  }
  throw new Error(`could not start a private Redis: ${last}`);
}
