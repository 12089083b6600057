// The library in a Deno program granted nothing but --allow-read (test/deno/forward.ts): Deno's own
// WebGPU (wgpu), checkpoint and config read through node:fs, no environment variable or home
// directory read (src/env.ts: without --allow-env they read as unset; no tuning-profile store), and
// the outputs match PyTorch's. Runs `deno` from the devDependency, in a child process.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const deno = join(root, 'node_modules', '.bin', 'deno');

function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(deno, args, { cwd: root, env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' } });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out }));
  });
}

describe('Deno with only --allow-read', () => {
  it('loads a fixture and matches PyTorch through Deno’s own WebGPU', async () => {
    expect(existsSync(deno), `${deno}: the deno devDependency is missing (npm ci)`).toBe(true);
    const r = await run([
      'run',
      '--allow-read',
      '--unstable-sloppy-imports',
      'test/deno/forward.ts',
      'ov1-ti16-224-d1',
    ]);
    expect(r.out).toMatch(/^runtime deno-wgpu$/m);
    for (const k of ['tokens', 'pooled', 'embedding']) expect(r.out).toMatch(new RegExp(`^${k} ok `, 'm'));
    expect(r.code, r.out).toBe(0);
  });
});
