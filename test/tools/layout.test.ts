// The layout's rules, checked on the source itself: imports run one way (no import cycle; src/ imports
// nothing outside src/; reference/ nothing outside itself; nothing outside test/ imports test/), no
// file of the project points outside the repository, every repository path a comment or a doc names
// exists, and docs/layout.md names every folder of src/.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
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

// Repository paths in comments and docs. A path is a token that starts with one of ROOTS and a slash,
// right after the start of the text or a character that cannot be part of a path (so `@types/web`,
// `dist/src/…`, `../src/…` and URLs are not paths of the repository), and ends in a file extension
// (`src/model/vit.ts`) or a slash (`reference/`): `src/model` alone is a word, not checked. A closing
// `.` or `:` is the sentence's. Brace lists expand (`x.{json,md}`: both must exist). Pattern forms
// name files that vary or are written at run time: a segment with `*` (`bench/results/*.md`,
// `test/**/*.test.ts`) or a `<placeholder>` (`src/kernels/<name>.ts`, `bench/results/latest-<vendor>.md`)
// is checked by the folder before its first pattern segment, which must exist. Markdown links with
// a relative target are resolved from the document's folder. In a Markdown document, a section whose
// heading says "Planned" (down to the next heading of its level or above) names what does not exist
// yet, and is skipped; nothing else is.
const ROOTS = ['src', 'test', 'bench', 'tools', 'docs', 'reference', 'web', 'types'];
const PATH = new RegExp(`(?<![\\w@.\\/~$-])((?:${ROOTS.join('|')})\\/(?:[\\w.*<>/-]|\\{[\\w.,-]*\\})*)`, 'g');

/** The comments of a TypeScript or JavaScript file (the parser's, so strings and regexes are not comments). */
function scriptComments(text: string, file: string): string[] {
  const kind = file.endsWith('.ts') ? ts.ScriptKind.TS : ts.ScriptKind.JS;
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, kind);
  const seen = new Set<number>(),
    out: string[] = [];
  const take = (ranges: ts.CommentRange[] | undefined) => {
    for (const r of ranges ?? [])
      if (!seen.has(r.pos)) {
        seen.add(r.pos);
        out.push(text.slice(r.pos, r.end));
      }
  };
  const visit = (n: ts.Node) => {
    take(ts.getLeadingCommentRanges(text, n.pos));
    take(ts.getTrailingCommentRanges(text, n.end));
    for (const c of n.getChildren(sf)) visit(c);
  };
  visit(sf);
  return out;
}

/** The Markdown text outside "Planned" sections. */
function unplanned(md: string): string {
  let skip = 0; // the level of the Planned heading being skipped, 0 when none
  const out: string[] = [];
  let fence = false;
  for (const line of md.split('\n')) {
    if (/^\s*```/.test(line)) fence = !fence;
    const h = fence ? null : /^(#+)\s+(.*)$/.exec(line);
    if (h) {
      const level = h[1]!.length;
      if (skip && level <= skip) skip = 0;
      if (!skip && /\bplanned\b/i.test(h[2]!)) skip = level;
    }
    if (!skip) out.push(line);
  }
  return out.join('\n');
}

/** The text of a file that names paths: its comments (scripts, WGSL, shell, Python: docstrings too), or all of a document. */
function commentText(text: string, file: string): string {
  if (/\.(ts|mjs|cjs|js)$/.test(file)) return scriptComments(text, file).join('\n');
  if (file.endsWith('.wgsl')) return [...text.matchAll(/\/\/.*|\/\*[\s\S]*?\*\//g)].map((m) => m[0]).join('\n');
  if (file.endsWith('.md')) return unplanned(text);
  const parts = [...text.matchAll(/(?:^|\s)#(?!!).*/gm)].map((m) => m[0]);
  if (file.endsWith('.py')) parts.push(...[...text.matchAll(/"""[\s\S]*?"""/g)].map((m) => m[0]));
  return parts.join('\n');
}

/** The repository paths a comment text names (see above), as written. */
function namedPaths(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(PATH)) {
    const p = m[1]!.replace(/[.:]+$/, '');
    if (/\/$|\.[A-Za-z0-9]+$|\.\{[\w.,-]+\}$|\*$/.test(p)) out.push(p);
  }
  return out;
}

/** Whether a named path (brace lists expanded, patterns by their fixed folder) exists under `base`. */
function pathExists(p: string, base: string, exists: (abs: string) => boolean = existsSync): boolean {
  const brace = /\{([^}]*)\}/.exec(p);
  if (brace)
    return brace[1]!
      .split(',')
      .every((alt) => pathExists(p.slice(0, brace.index) + alt + p.slice(brace.index + brace[0].length), base, exists));
  const segs = p.split('/');
  const wild = segs.findIndex((s) => /[*<>]/.test(s));
  return exists(join(base, ...(wild < 0 ? segs : segs.slice(0, wild))));
}

/** The relative targets of a Markdown document's links and images (URLs and anchors left out). */
function linkTargets(md: string): string[] {
  return [...md.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!.replace(/#.*$/, ''))
    .filter((t) => t && !/^[a-z]+:/i.test(t));
}

/** `file: path` for each path a file's comments (or a document) names that does not exist. */
function danglingPaths(
  file: string,
  text: string,
  base: string,
  exists: (abs: string) => boolean = existsSync,
): string[] {
  const body = commentText(text, file);
  const bad = namedPaths(body)
    .filter((p) => !pathExists(p, base, exists))
    .map((p) => `${file}: ${p}`);
  if (file.endsWith('.md'))
    for (const t of linkTargets(body)) if (!exists(join(base, dirname(file), t))) bad.push(`${file}: ${t} (link)`);
  return bad;
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
    [
      'src/errors.ts',
      'src/options.ts',
      'src/shape.ts',
      'src/half.ts',
      'src/warn.ts',
      'src/env.ts',
      'src/wgsl',
      'src/types',
    ],
    ['src/device.ts', 'src/kernels', 'src/weights', 'src/preprocess', 'src/text'],
    ['src/graph'],
    ['src/model'],
    ['src/pipeline'],
    ['src/onnx', 'src/io', 'src/adapters'],
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

  // The adapters (src/adapters: BullMQ) are package exports of their own whose peers (bullmq) are
  // optional: nothing else of src/ may import them, or the library would load them.
  it('nothing of src/ outside src/adapters imports src/adapters', () => {
    const bad: string[] = [];
    for (const [f, deps] of graph)
      if (f.startsWith('src/') && !f.startsWith('src/adapters/'))
        for (const d of deps) if (d.startsWith('src/adapters/')) bad.push(`${f} -> ${d}`);
    expect(bad).toEqual([]);
  });

  it('the layer check finds an upward arrow when there is one', () => {
    const g = new Map([
      ['src/model/clip.ts', ['src/encode.ts', 'src/kernels/gemm.ts']],
      ['src/kernels/gemm.ts', ['src/model/vit.ts', 'src/errors.ts']],
    ]);
    expect(upward(g)).toEqual(['src/model/clip.ts -> src/encode.ts', 'src/kernels/gemm.ts -> src/model/vit.ts']);
  });

  // The files whose comments name paths: scripts, kernels, shell (by extension or a shell #! line)
  // and Python, and every Markdown document; generated files and fixtures' data left out.
  const named = walk(root, [], (p) => !p.includes('generated') && /\.(ts|mjs|cjs|wgsl|sh|py|md)$/.test(p))
    .concat(walk(join(root, 'test', 'fixtures'), [], (p) => p.endsWith('.md')))
    .concat(walk(join(root, '.ci'), [], (p) => /^#!.*\b(ba)?sh\b/.test(readFileSync(p, 'utf8').split('\n', 1)[0]!)));

  it('every repository path a comment or a doc names exists (Planned sections aside)', () => {
    expect(named.length).toBeGreaterThan(200);
    const bad = named.flatMap((f) => danglingPaths(relative(root, f), readFileSync(f, 'utf8'), root));
    expect(bad).toEqual([]);
  });

  it('the path check finds a dangling path when there is one', () => {
    const ts = [
      '// reads src/kernels/program/texture-matrix.ts and src/kernels/texture-matrix.ts (moved);',
      "const s = 'src/not/a/comment.ts'; // a string is not a comment; @types/web and dist/src/x.js are not paths",
      '/* bench/results/<stamp>.json, test/**/*.test.ts, reference/, src/model (a word) */',
    ].join('\n');
    expect(danglingPaths('x.ts', ts, root)).toEqual(['x.ts: src/kernels/texture-matrix.ts']);
    const wgsl = '// see src/kernels/program/weight-format.ts.\nconst A: u32 = 1u; // and test/model/lifetime.test.ts';
    expect(danglingPaths('x.wgsl', wgsl, root)).toEqual(['x.wgsl: test/model/lifetime.test.ts']);
    const sh = '#!/bin/sh\necho "#tools/nope.sh" # writes bench/gpu-run.sh\n';
    expect(danglingPaths('x.sh', sh, root)).toEqual(['x.sh: bench/gpu-run.sh']);
    const md = [
      '# Doc',
      'See `test/reference/`, `bench/results/2026-11-30T20-01-07-111Z-mesa.{json,md,txt}` and [x](../nope.md).',
      '## Planned (not yet present)',
      '`src/adapters/bullmq.ts`',
      '## After',
      '`src/not-yet/`',
    ].join('\n');
    expect(danglingPaths('docs/x.md', md, root)).toEqual([
      'docs/x.md: test/reference/',
      'docs/x.md: bench/results/2026-11-30T20-01-07-111Z-mesa.{json,md,txt}',
      'docs/x.md: src/not-yet/',
      'docs/x.md: ../nope.md (link)',
    ]);
  });

  /**
   * The folders of src/ that a layout tree names: an entry at the start of a line (`src/graph/`)
   * and the entries indented under it (`  program/` under `src/kernels/` is src/kernels/program).
   */
  const layoutFolders = (md: string): Set<string> => {
    const out = new Set<string>();
    let top = '';
    for (const line of unplanned(md).split('\n')) {
      const entry = /^(\s*)([\w.-]+(?:\/[\w.-]+)*\/)(?:\s|$)/.exec(line);
      if (!entry) continue;
      if (entry[1] === '') top = entry[2]!;
      const folder = entry[1] === '' ? entry[2]! : top + entry[2]!;
      if (folder.startsWith('src/')) out.add(folder.replace(/\/$/, ''));
    }
    return out;
  };

  it('docs/layout.md names every folder of src/ (its tree, Planned section aside) and every file at its top', () => {
    const dirs: string[] = [];
    const list = (d: string) => {
      for (const f of readdirSync(join(root, d)))
        if (statSync(join(root, d, f)).isDirectory()) {
          dirs.push(`${d}/${f}`);
          list(`${d}/${f}`);
        }
    };
    list('src');
    const layout = readFileSync(join(root, 'docs', 'layout.md'), 'utf8');
    const named = layoutFolders(layout);
    expect(dirs.filter((d) => !named.has(d))).toEqual([]);
    // and its files at the top of src/, by their path
    const files = readdirSync(join(root, 'src')).filter((f) => !statSync(join(root, 'src', f)).isDirectory());
    expect(files.filter((f) => !unplanned(layout).includes(`src/${f}`))).toEqual([]);
  });

  it('the folder check reads a layout tree', () => {
    const md = ['```', 'src/kernels/     wrappers', '  program/       machinery', 'src/io/', 'bench/', '```'].join(
      '\n',
    );
    expect([...layoutFolders(md)]).toEqual(['src/kernels', 'src/kernels/program', 'src/io']);
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
