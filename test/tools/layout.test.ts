// The layout's rules, checked on the source itself: imports run one way (no import cycle; src/ imports
// nothing outside src/; reference/ nothing outside itself; nothing outside test/ imports test/), and
// no file of the project points outside the repository.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
const SKIP = new Set(['node_modules', 'dist', '.git', 'results', 'fixtures', '.gpu']);

function walk(dir: string, out: string[], keep: (f: string) => boolean): string[] {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) {
      if (!SKIP.has(f)) walk(p, out, keep);
    } else if (keep(p)) out.push(p);
  }
  return out;
}

/** Every relative import of the project's TypeScript files (type imports and re-exports included), as repository paths. */
function importGraph(): Map<string, string[]> {
  const files: string[] = [];
  for (const d of ['src', 'bench', 'tools', 'test', 'reference', 'web'])
    walk(join(root, d), files, (p) => p.endsWith('.ts') && !p.endsWith('.d.ts'));
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const deps: string[] = [];
    for (const m of readFileSync(f, 'utf8').matchAll(
      /(?:import|export)\s[^'";]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g,
    ))
      deps.push(relative(root, resolve(dirname(f), (m[1] ?? m[2])!)).replace(/\.js$/, '.ts'));
    graph.set(relative(root, f), deps);
  }
  return graph;
}

/** The strongly connected components with more than one file (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>(),
    low = new Map<string, number>(),
    stack: string[] = [],
    onStack = new Set<string>(),
    out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('layout', () => {
  const graph = importGraph();

  it('has no import cycle', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(cycles(graph)).toEqual([]);
  });

  it('the cycle check finds a cycle when there is one', () => {
    const g = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(cycles(g)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
  });

  it('imports run one way: src/ → src/ only, reference/ → reference/ only, test/ imported by tests alone', () => {
    const bad: string[] = [];
    for (const [f, deps] of graph)
      for (const d of deps) {
        if (f.startsWith('src/') && !d.startsWith('src/')) bad.push(`${f} -> ${d}`);
        if (f.startsWith('reference/') && !d.startsWith('reference/')) bad.push(`${f} -> ${d}`);
        if (!f.startsWith('test/') && d.startsWith('test/')) bad.push(`${f} -> ${d}`);
      }
    expect(bad).toEqual([]);
  });

  // The layers of src/, lowest first: a file imports only its own layer or lower ones, so the
  // architecture reads bottom-up (kernels and weights know nothing of models; models nothing of the
  // package's entry points). Each folder or top-level file of src/ must be in exactly one layer.
  const LAYERS: readonly (readonly string[])[] = [
    ['src/errors.ts', 'src/options.ts', 'src/shape.ts', 'src/half.ts', 'src/warn.ts', 'src/wgsl', 'src/types'],
    ['src/device.ts', 'src/kernels', 'src/weights', 'src/preprocess', 'src/text'],
    ['src/graph'],
    ['src/model'],
    ['src/onnx', 'src/io'],
    ['src/index.ts'],
  ];
  const layerOf = (f: string): number => {
    const unit = f.split('/').slice(0, 2).join('/');
    return LAYERS.findIndex((l) => l.includes(unit));
  };
  /** `from -> to` for each import that goes up a layer (or from/to a unit in no layer). */
  const upward = (g: Map<string, string[]>): string[] => {
    const bad: string[] = [];
    for (const [f, deps] of g) {
      if (!f.startsWith('src/')) continue;
      for (const d of deps) {
        if (!d.startsWith('src/')) continue;
        const [lf, ld] = [layerOf(f), layerOf(d)];
        if (lf < 0 || ld < 0 || ld > lf) bad.push(`${f} -> ${d}`);
      }
    }
    return bad;
  };

  it('imports in src/ run down the layers (no upward arrow)', () => {
    const units = new Set(readdirSync(join(root, 'src')).map((f) => `src/${f}`));
    expect([...units].filter((u) => layerOf(`${u}/x`) < 0 && layerOf(u) < 0)).toEqual([]);
    expect(upward(graph)).toEqual([]);
  });

  it('the layer check finds an upward arrow when there is one', () => {
    const g = new Map([
      ['src/model/clip.ts', ['src/encode.ts', 'src/kernels/gemm.ts']],
      ['src/kernels/gemm.ts', ['src/model/vit.ts', 'src/errors.ts']],
    ]);
    expect(upward(g)).toEqual(['src/model/clip.ts -> src/encode.ts', 'src/kernels/gemm.ts -> src/model/vit.ts']);
  });

  it('no file points outside the repository (../shared and the like)', () => {
    const files = walk(
      root,
      [],
      (p) => /\.(ts|mjs|cjs|js|md|sh|wgsl|py|json|html)$/.test(p) && !p.includes('generated'),
    );
    const outside = files.filter((f) =>
      /(^|[\s`'"(])\.\.\/shared\/|\bshared\/(notes|gpu|fixtures)\//.test(readFileSync(f, 'utf8')),
    );
    expect(outside.map((f) => relative(root, f))).toEqual([]);
  });
});
