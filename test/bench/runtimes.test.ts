// The benchmarks across WebGPU implementations (bench/runtimes.ts): `--runtime both` runs each model
// row on Dawn (this Node process) and on Deno's wgpu (a row server child) in alternating Benchmark.js
// rounds, each checked against the row's reference; the kernel rows run per family in a child per
// runtime. The built scripts run as a user runs them (dist/bench), in child processes.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRuntimes } from '../../bench/runtimes.js';
import { ensureBuilt } from '../helpers/cli.js';

const root = join(import.meta.dirname, '..', '..');
const out = mkdtempSync(join(tmpdir(), 'wgsl-vit-bench-rt-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Runs a built bench script with node, without blocking the worker; its exit code and output. */
function bench(script: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [join(root, 'dist', 'bench', script), ...args], {
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
  });
  let o = '',
    e = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (o += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (e += d));
  return new Promise((res, rej) => {
    child.on('error', rej);
    child.on('close', (code) => res({ code, out: o, err: e }));
  });
}

describe('benchmarks on two WebGPU implementations (--runtime)', () => {
  it('parses node, deno and both, and names a bad value', () => {
    expect(parseRuntimes('node')).toEqual(['node']);
    expect(parseRuntimes('Deno')).toEqual(['deno']);
    expect(parseRuntimes('both')).toEqual(['node', 'deno']);
    expect(() => parseRuntimes('bun')).toThrow("--runtime: expected node, deno or both, got 'bun'");
  });

  it('bench --runtime both: each row on Dawn and on wgpu, alternated, both checked, the ratio with its significance', async () => {
    ensureBuilt();
    const r = await bench('run.js', [
      ...['--rows', 'ti-16@32x2/L1', '--runtime', 'both', '--clip', 'no', '--dtypes', 'none'],
      ...['--peer', 'none', '--native', 'no', '--iters', '3', '--max-time', '0', '--out', out],
    ]);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(
      /on wgpu \(bundled\) in Deno [\d.]+: [\d.]+ img\/s ±[\d.]+%.*×[\d.]+ \((not )?significant\).* ok/,
    );
    const json = readdirSync(out).find((f) => f.endsWith('.json'))!;
    const rep = JSON.parse(readFileSync(join(out, json), 'utf8')) as {
      env: { implementations: string[]; timing: { rounds: number } };
      rows: {
        ok: boolean;
        implementation: string;
        timing: { samples: number; rme: number; rounds: number };
        alt: {
          implementation: string;
          ok: boolean;
          timing: { samples: number; rounds: number };
          ratio: string;
          maxAbs: number;
        }[];
      }[];
    };
    expect(rep.env.implementations).toHaveLength(2);
    expect(rep.env.implementations[0]).toMatch(/^Dawn \(npm webgpu [\d.]+\) in Node\.js v/);
    expect(rep.env.implementations[1]).toMatch(/^wgpu \(bundled\) in Deno /);
    const row = rep.rows[0]!;
    expect(row.ok).toBe(true);
    expect(row.implementation).toBe(rep.env.implementations[0]);
    // Three alternating rounds of Benchmark.js runs, ≥ 1 sample each, pooled.
    expect(row.timing.rounds).toBe(3);
    expect(row.timing.samples).toBeGreaterThanOrEqual(3);
    expect(row.alt).toHaveLength(1);
    const alt = row.alt[0]!;
    expect(alt.implementation).toBe(rep.env.implementations[1]);
    expect(alt.ok).toBe(true);
    expect(alt.maxAbs).toBeLessThan(1e-4);
    expect(alt.timing.rounds).toBe(3);
    expect(alt.ratio).toMatch(/^×[\d.]+ \((not )?significant\)$/);
    const md = readFileSync(join(out, json.replace(/\.json$/, '.md')), 'utf8');
    expect(md).toContain('wgpu (bundled) in Deno');
    expect(md).toMatch(/ms\/batch \(±95 %, n\)/);
  });

  it('bench:kernels --runtime both: a family on each implementation, one table with both columns', async () => {
    ensureBuilt();
    const r = await bench('kernels.js', ['--runtime', 'both', '--family', 'mean_pool', '--iters', '2']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(
      /\| kernel \| shape \| tile \/ variant \| Dawn in Node\.js v[\d.]+ \| wgpu in Deno [\d.]+ \| ×N \|/,
    );
    expect(r.out).toMatch(/\| mean_pool \| b16 32×197×768 \| — \| [\d.]+ ms ok \| [\d.]+ ms ok \| ×[\d.]+ \|/);
  });
});
