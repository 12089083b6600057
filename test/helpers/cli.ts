// Runs the built CLI (dist/tools/cli.js) in a child process, as a user would; builds it first if absent.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
export const cli = join(root, 'dist', 'tools', 'cli.js');

export function ensureBuilt(): void {
  if (!existsSync(cli)) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
}

const cliEnv = () => ({ ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' });

export function runCli(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: cliEnv() });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/**
 * runCli without blocking the test worker's event loop: for a command that loads a model, which can
 * take tens of seconds on a loaded machine (a worker blocked past 60 s misses vitest's RPC deadline).
 */
export function runCliAsync(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [cli, ...args], { env: cliEnv() });
    let out = '',
      err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, err }));
  });
}
