// The package as npm users get it: `npm pack`, the tarball unpacked into a fresh project's
// node_modules (its declared dependencies linked from this checkout, nothing else), the README's
// "Install from npm" examples type-checked with "strict": true and no skipLibCheck by TypeScript 5.9
// and TypeScript 7, and the kernel example compiled and run on this machine's adapter.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/cli.js';

const root = join(import.meta.dirname, '..', '..');
let project = '';
let examples: string[] = [];

/** The README's opening example (zero-shot), the ```ts blocks of its "Install" section, and every ```ts block of docs/. */
function readmeExamples(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const blocks = (text: string) => [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const start = readme.indexOf('## Install');
  const docs = readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .flatMap((f) => blocks(readFileSync(join(root, 'docs', f), 'utf8')));
  return [
    blocks(readme.slice(0, readme.indexOf('\n## ')))[0]!,
    ...blocks(readme.slice(start, readme.indexOf('\n## ', start + 1))),
    ...docs,
  ];
}

beforeAll(() => {
  ensureBuilt();
  project = mkdtempSync(join(tmpdir(), 'wgsl-vit-user-'));
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', project], { cwd: root, encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop()!;
  const modules = join(project, 'node_modules');
  mkdirSync(modules);
  execFileSync('tar', ['xzf', join(project, out), '-C', project]);
  execFileSync('mv', [join(project, 'package'), join(modules, 'wgsl-vit')]);
  const pkg = JSON.parse(readFileSync(join(modules, 'wgsl-vit', 'package.json'), 'utf8'));
  for (const dep of [...Object.keys(pkg.dependencies), '@types/node']) {
    mkdirSync(dirname(join(modules, dep)), { recursive: true });
    symlinkSync(join(root, 'node_modules', dep), join(modules, dep));
  }
  writeFileSync(join(project, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        outDir: 'out',
        skipLibCheck: false,
      },
      include: ['*.ts'],
    }),
  );
  examples = readmeExamples();
  examples.forEach((code, i) => writeFileSync(join(project, `example${i + 1}.ts`), code));
}, 120_000);

describe('the packed package in a fresh TypeScript project', () => {
  it('ships what it needs: LICENSE, third-party notices, compiled code with types, no test files', () => {
    const files = readdirSync(join(project, 'node_modules', 'wgsl-vit'));
    expect(files).toEqual(
      expect.arrayContaining(['LICENSE', 'THIRD_PARTY_NOTICES.md', 'README.md', 'dist', 'package.json']),
    );
    expect(readFileSync(join(project, 'node_modules', 'wgsl-vit', 'LICENSE'), 'utf8')).toMatch(
      /Apache License\s+Version 2\.0/,
    );
    const pkg = JSON.parse(readFileSync(join(project, 'node_modules', 'wgsl-vit', 'package.json'), 'utf8'));
    expect(pkg.license).toBe('Apache-2.0');
    expect(pkg.dependencies['@webgpu/types']).toBeDefined();
  });

  it('the README examples type-check with strict and no skipLibCheck', () => {
    expect(examples.length).toBeGreaterThanOrEqual(4);
    expect(examples[0]).toContain('zeroShot');
    const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], {
      encoding: 'utf8',
    });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  // TypeScript 6+ declares WebGPU in its DOM lib, and the package's types for it add no
  // @webgpu/types (package.json "types@<6"), so nothing is declared twice. TypeScript 7.0.2's DOM lib
  // lacks a few WebGPU names (the GPUBufferUsage / GPUMapMode constants): the package's own types
  // need none of them, user code that names them gets @types/web as docs/api.md says.
  const tsc7 = (config: object): string => {
    writeFileSync(join(project, 'tsconfig.ts7.json'), JSON.stringify({ extends: './tsconfig.json', ...config }));
    const r = spawnSync(
      process.execPath,
      [join(root, 'node_modules', 'typescript7', 'bin', 'tsc'), '-p', join(project, 'tsconfig.ts7.json'), '--noEmit'],
      { encoding: 'utf8' },
    );
    return r.stdout + r.stderr;
  };

  it('TypeScript 7 with its DOM lib: no error in the package or its dependencies, the examples only miss what that lib lacks', () => {
    const errors = tsc7({})
      .split('\n')
      .filter((l) => l.includes('error TS'));
    expect(errors.filter((l) => l.includes('node_modules'))).toEqual([]);
    expect(errors.filter((l) => !/Cannot find name 'GPU(BufferUsage|MapMode)'/.test(l))).toEqual([]);
  });

  it('TypeScript 7 with @types/web instead of the DOM lib (docs/api.md): the README examples type-check', () => {
    symlinkSync(join(root, 'node_modules', '@types', 'web'), join(project, 'node_modules', '@types', 'web'));
    try {
      expect(tsc7({ compilerOptions: { lib: ['es2022'], types: ['node', 'web'] } })).toBe('');
    } finally {
      rmSync(join(project, 'node_modules', '@types', 'web'));
    }
  });

  it('the kernel example runs and prints gelu(x·wᵀ + b)', () => {
    const kernel = examples.findIndex((e) => e.includes("from 'wgsl-vit/kernels'")) + 1;
    expect(kernel).toBeGreaterThan(0);
    const r = spawnSync(process.execPath, [join(project, 'out', `example${kernel}.js`)], {
      cwd: project,
      encoding: 'utf8',
      env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
    });
    expect(r.status, r.stderr).toBe(0);
    const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));
    const printed = JSON.parse(r.stdout.split('\n')[0]!) as number[];
    [1.875, 2.875, 3.875].forEach((v, i) => expect(printed[i]).toBeCloseTo(gelu(v), 5));
  });
});

/** erf to ~1e-7 (Abramowitz–Stegun 7.1.26 is 1.5e-7; enough for 5 decimals). */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x < 0 ? -y : y;
}
