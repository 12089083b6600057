// Which runtimes (and so which WebGPU implementations) the benchmarks run on: `--runtime node`
// (Dawn through npm `webgpu`, in this process), `deno` (Deno's own WebGPU, wgpu + Naga, in a child
// process) or `both`, on the same adapter. The model rows talk to a row server in the other runtime
// (bench/row-server.ts) so that their timing rounds alternate; the kernel rows run a kernel-benchmark
// child per family and runtime, alternated (bench/kernels.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { KernelChoices } from '../src/graph/graph.js';
import type { ModelDType } from '../src/model/dtype.js';
import { ROOT } from './env.js';
import type { Implementation, RowFinish, RowSession } from './row-session.js';
import type { TimingOptions, TimingStats } from './stats.js';
import type { BenchRow } from './suites.js';
import type { TextRowSpec, TextSession } from './clip.js';

export type BenchRuntime = 'node' | 'deno';

/** --runtime node|deno|both (names the flag and the value at fault). */
export function parseRuntimes(spec: string): BenchRuntime[] {
  const v = spec.trim().toLowerCase();
  if (v === 'both') return ['node', 'deno'];
  if (v === 'node' || v === 'deno') return [v];
  throw new Error(`--runtime: expected node, deno or both, got '${spec}'`);
}

/** The command that runs a built script (dist/…) under `runtime`, and the environment it needs. */
export function commandFor(
  runtime: BenchRuntime,
  script: string,
  args: string[],
): { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
  const inDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
  if (runtime === 'node') return { cmd: inDeno ? 'node' : process.execPath, args: [script, ...args], env: process.env };
  const deno = join(ROOT, 'node_modules', '.bin', 'deno');
  if (!existsSync(deno)) throw new Error(`--runtime deno: ${deno} is missing (the devDependency \`deno\`: run npm ci)`);
  // Deno's own WebGPU (wgpu), not Dawn: WGSL_VIT_WEBGPU=native (src/device.ts); --cached-only: no network.
  return {
    cmd: deno,
    args: ['run', '-A', '--cached-only', script, ...args],
    env: { ...process.env, WGSL_VIT_WEBGPU: 'native' },
  };
}

/** The tag that starts each reply line of a row server (the rest of its stdout is not the protocol's). */
export const REPLY_TAG = '@@wgsl-vit-row ';

export type ServerRequest =
  | { op: 'open'; row: BenchRow; dtype: ModelDType; flags: string[]; warmup: number; kernels?: KernelChoices }
  | { op: 'open-text'; spec: TextRowSpec; flags: string[]; warmup: number }
  | { op: 'time'; opts: TimingOptions }
  | { op: 'finish'; inFlightCalls: number }
  | { op: 'close' }
  | { op: 'exit' };

/** A row server in another runtime: one row session at a time. */
export interface RowServer {
  readonly runtime: BenchRuntime;
  open(req: Omit<Extract<ServerRequest, { op: 'open' }>, 'op'>): Promise<RowSession>;
  /** A text row (bench/clip.ts) instead of a model row. */
  openText(req: Omit<Extract<ServerRequest, { op: 'open-text' }>, 'op'>): Promise<TextSession>;
  exit(): Promise<void>;
}

export function startRowServer(runtime: BenchRuntime): RowServer {
  const c = commandFor(runtime, join(ROOT, 'dist', 'bench', 'row-server.js'), []);
  const child: ChildProcess = spawn(c.cmd, c.args, { env: c.env, stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting: { resolve: (v: unknown) => void; reject: (e: Error) => void }[] = [];
  let dead: Error | null = null;
  const fail = (e: Error) => {
    dead ??= e;
    for (const w of waiting.splice(0)) w.reject(e);
  };
  child.on('error', (e) => fail(new Error(`${runtime} row server: ${e.message}`)));
  // A server that is gone (or never started) fails its pending requests above; a write into its
  // closed stdin must not become an uncaught stream error.
  child.stdin!.on('error', (e) => fail(new Error(`${runtime} row server: ${e.message}`)));
  child.on('exit', (code, sig) => fail(new Error(`${runtime} row server exited (${sig ?? `code ${code}`})`)));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!line.startsWith(REPLY_TAG)) return;
    const r = JSON.parse(line.slice(REPLY_TAG.length)) as { ok: boolean; value?: unknown; error?: string };
    const w = waiting.shift();
    if (!w) return;
    if (r.ok) w.resolve(r.value);
    else w.reject(new Error(r.error));
  });
  const ask = <T>(req: ServerRequest): Promise<T> => {
    if (dead) return Promise.reject(dead);
    return new Promise<T>((resolve, reject) => {
      waiting.push({ resolve: resolve as (v: unknown) => void, reject });
      child.stdin!.write(`${JSON.stringify(req)}\n`);
    });
  };
  return {
    runtime,
    async open(req) {
      const o = await ask<{ implementation: Implementation; timestamps: RowSession['timestamps']; firstRunMs: number }>(
        {
          op: 'open',
          ...req,
        },
      );
      return {
        ...o,
        time: (opts) => ask<TimingStats>({ op: 'time', opts }),
        finish: (inFlightCalls) => ask<RowFinish>({ op: 'finish', inFlightCalls }),
        close: () => void ask({ op: 'close' }).catch(() => undefined),
      };
    },
    async openText(req) {
      const o = await ask<{ implementation: Implementation; firstRunMs: number }>({ op: 'open-text', ...req });
      return {
        ...o,
        time: (opts) => ask<TimingStats>({ op: 'time', opts }),
        finish: () => ask<Awaited<ReturnType<TextSession['finish']>>>({ op: 'finish', inFlightCalls: 0 }),
        close: () => void ask({ op: 'close' }).catch(() => undefined),
      };
    },
    async exit() {
      if (dead) return;
      const gone = new Promise<void>((res) => child.once('exit', () => res()));
      child.stdin!.write(`${JSON.stringify({ op: 'exit' })}\n`);
      child.stdin!.end();
      await Promise.race([gone, new Promise<void>((res) => setTimeout(res, 10_000))]);
      if (child.exitCode === null) child.kill();
    },
  };
}

/** Runs a built script under `runtime` to the end, its output shown as it comes; resolves to its exit code. */
export function runScript(runtime: BenchRuntime, script: string, args: string[]): Promise<number> {
  const c = commandFor(runtime, script, args);
  const child = spawn(c.cmd, c.args, { env: c.env, stdio: 'inherit' });
  return new Promise((res, rej) => {
    child.on('error', rej);
    child.on('exit', (code, sig) => res(code ?? (sig ? 128 : 1)));
  });
}
