// The CLI's two processes (tools/cli/child.ts) and `convert` interrupted: the child dies with its
// parent (even a SIGKILLed one) and writes nothing after; SIGINT / SIGTERM remove convert's temporary
// file and exit 130 / 143; a terminal's progress bar reaches the terminal (the child is told it is
// one). The long-running command is a `convert` from a local URL whose download hangs after the
// first block (the fixture server's `stallAt`), so it is caught with its temporary file open.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, noticeFilter, runsInProcess, signalStatus, TTY_ENV } from '../../tools/cli/child.js';
import { ensureBuilt } from '../helpers/cli.js';
import { fixture } from '../helpers/fixtures.js';
import { startFixtureServer, type FixtureServer } from '../helpers/fixture-server.js';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'dist', 'tools', 'cli.js');
const CLIP = 'ov1-clip-ti16-224-t2';

let server: FixtureServer;
beforeAll(async () => {
  ensureBuilt();
  server = await startFixtureServer();
});
afterAll(() => server.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, f: () => T | undefined, ms = 60_000): Promise<T> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(50)) {
    const v = f();
    if (v !== undefined) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}
/** Whether a process runs (a zombie, or one gone, does not). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** `convert` of the CLIP .bin from the server, stalled after the first 4 MiB block; resolves once its temporary file is there. */
async function stalledConvert(): Promise<{
  p: ChildProcess;
  dir: string;
  out: string;
  childPid: number;
  exit: Promise<number | null>;
  err: () => string;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-proc-'));
  const out = join(dir, 'out.safetensors');
  server.stallAt = 4 << 20; // the second 4 MiB block, read during the conversion
  const p = spawn(
    process.execPath,
    [
      cli,
      'convert',
      '--dtype',
      'q8',
      '--weights',
      `${server.base}/range/${CLIP}.bin`,
      '--config',
      fixture(`${CLIP}.open_clip_config.json`),
      '--out',
      out,
    ],
    {
      env: {
        ...process.env,
        WGSL_VIT_CACHE: join(dir, 'cache'),
        XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  p.stdout.resume();
  const exit = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  const tmpName = await until('the temporary file', () => readdirSync(dir).find((f) => f.endsWith('.tmp')));
  const childPid = Number(/\.(\d+)\.tmp$/.exec(tmpName)![1]);
  return { p, dir, out, childPid, exit, err: () => err };
}

describe('the CLI child', () => {
  it('dies with its parent: SIGKILL the parent of a stalled convert, the child ends and writes nothing', async () => {
    const c = await stalledConvert();
    expect(c.childPid).not.toBe(c.p.pid); // the work is in the child
    expect(alive(c.childPid)).toBe(true);
    c.p.kill('SIGKILL');
    await c.exit;
    await until('the child to end', () => (alive(c.childPid) ? undefined : true), 10_000).catch(() => undefined);
    const childAlive = alive(c.childPid);
    // The download goes on: a child still there would finish and write the output now.
    server.stallAt = null;
    server.release();
    if (childAlive) process.kill(c.childPid, 'SIGKILL');
    expect(childAlive).toBe(false);
    await sleep(1500);
    expect(existsSync(c.out)).toBe(false);
    expect(readdirSync(c.dir).filter((f) => f !== 'cache')).toEqual([]); // its temporary file removed too
  }, 90_000);

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)(
    '%s during convert removes the temporary file and exits %i',
    async (sig, status) => {
      const c = await stalledConvert();
      c.p.kill(sig);
      const code = await c.exit;
      server.stallAt = null;
      server.release();
      expect(code, c.err()).toBe(status);
      expect(readdirSync(c.dir).filter((f) => f !== 'cache')).toEqual([]);
      expect(alive(c.childPid)).toBe(false);
    },
    90_000,
  );

  it('in a terminal, the URL progress bar reaches it (notices still filtered)', async () => {
    // util-linux `script` runs the CLI on a pseudo-terminal; skipped where there is none.
    if (spawnSync('script', ['--version']).status !== 0) return;
    const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-tty-'));
    const embed = [
      process.execPath,
      cli,
      'embed',
      '--weights',
      `${server.base}/range/ov1-ti16-224-d1.safetensors`,
      '--config',
      fixture('ov1-ti16-224-d1.open_clip_config.json'),
      fixture('rocket.png'),
    ];
    // Spawned asynchronously: the server answering it runs in this process.
    const p = spawn('script', ['-qec', embed.map((a) => `'${a}'`).join(' '), '/dev/null'], {
      env: {
        ...process.env,
        WGSL_VIT_CACHE: join(dir, 'cache'),
        XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const r = { stdout: '', stderr: '', status: null as number | null };
    p.stdout.on('data', (d: Buffer) => (r.stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (r.stderr += d.toString()));
    r.status = await new Promise<number | null>((res) => p.on('close', (code) => res(code)));
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/loading \w+ \[.*\] [\d.]+\/[\d.]+ MB/);
    expect(r.stdout).not.toContain('artificially reduced');
  }, 90_000);
});

describe('the CLI child, its pieces', () => {
  it('is told when stderr is a terminal (its width), and not otherwise', () => {
    expect(childEnv({ A: '1' }, { isTTY: true, columns: 120 })).toMatchObject({
      A: '1',
      WGSL_VIT_CLI_CHILD: '1',
      [TTY_ENV]: '120',
    });
    expect(childEnv({ [TTY_ENV]: '99' }, { isTTY: false })[TTY_ENV]).toBeUndefined();
    expect(runsInProcess({})).toBe(false);
    expect(runsInProcess({ WGSL_VIT_CLI_CHILD: '1' })).toBe(true);
    expect(runsInProcess({ WGSL_VIT_DAWN_NOTICES: '1' })).toBe(true);
  });
  it('drops exactly the notices, and passes a partial progress line at once', () => {
    const f = noticeFilter();
    const notice =
      'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n';
    expect(f.push(notice.slice(0, 30))).toBe('');
    expect(f.push(notice.slice(30) + 'other\n')).toBe('other\n');
    expect(f.push('\x1b[1Gloading download [==  ] 1/2 MB')).toBe('\x1b[1Gloading download [==  ] 1/2 MB');
    expect(f.push('Warning: something else\n')).toBe('Warning: something else\n');
    expect(signalStatus('SIGINT')).toBe(130);
    expect(signalStatus('SIGTERM')).toBe(143);
  });
});
