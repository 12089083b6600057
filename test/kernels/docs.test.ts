// docs/kernels.md documents every exported kernel wrapper under its exported name, with each of its
// arguments (the fields of its Args interface, read from the wrapper's source).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as kernels from '../../src/kernels/index.js';

const root = join(import.meta.dirname, '..', '..');
const doc = readFileSync(join(root, 'docs', 'kernels.md'), 'utf8');
const sources = readdirSync(join(root, 'src', 'kernels'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => readFileSync(join(root, 'src', 'kernels', f), 'utf8'));

/** The wrappers: exported functions `x` with an exported `xKernel` beside them. */
const wrappers = Object.keys(kernels).filter(
  (k) => typeof (kernels as Record<string, unknown>)[k] === 'function' && `${k}Kernel` in kernels,
);

/** The fields of the Args interface of wrapper `name` (its second parameter's type). */
function argsOf(name: string): string[] {
  for (const src of sources) {
    const sig = new RegExp(`export function ${name}\\(device: GPUDevice, \\w+: (\\w+)\\)`).exec(src);
    if (!sig) continue;
    const body = new RegExp(`export interface ${sig[1]} \\{([\\s\\S]*?)\\n\\}`).exec(src)![1]!;
    return [...body.matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1]!);
  }
  throw new Error(`no source for ${name}`);
}

describe('docs/kernels.md', () => {
  it('finds the wrappers', () => expect(wrappers.length).toBeGreaterThanOrEqual(13));
  it.each(wrappers)('documents %s and each of its arguments', (name) => {
    const at = doc.indexOf(`### \`${name}(device, args)\``);
    expect(at, `no "### \`${name}(device, args)\`" section`).toBeGreaterThanOrEqual(0);
    const next = doc.indexOf('\n#', at + 4);
    const section = doc.slice(at, next < 0 ? undefined : next);
    for (const a of argsOf(name)) expect(section, `${name}: argument ${a}`).toMatch(new RegExp(`\`${a}\\??\``));
  });
});
