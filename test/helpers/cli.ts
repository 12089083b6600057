// Runs the built CLI (dist/tools/cli.js) in a child process, as a user would; builds it first if absent.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
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

/** A CLI child started by startCli: the process, its end, and its stderr so far. */
export interface CliRun {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>;
  err(): string;
}

/** Starts the CLI in a child (env added to the test's own) and collects its output; kill it through `child`. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const child = spawn(process.execPath, [cli, ...args], { env: { ...cliEnv(), ...env } });
  let out = '',
    err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>(
    (resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal, out, err }));
    },
  );
  return { child, done, err: () => err };
}

/**
 * runCli without blocking the test worker's event loop: for a command that loads a model, which can
 * take tens of seconds on a loaded machine (a worker blocked past 60 s misses vitest's RPC deadline).
 */
export function runCliAsync(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  return startCli(args, env).done;
}
