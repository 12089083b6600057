// Source rules for src/wgsl that the compiler does not enforce.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = join(import.meta.dirname, '..', '..', 'src', 'wgsl');
const files = readdirSync(dir).filter((f) => f.endsWith('.wgsl'));

/**
 * Lines (1-based) where a function-scope `var` without an initializer is declared inside a loop.
 * WGSL zero-initialises such a variable every time its declaration runs, but Dawn's Vulkan path
 * does it once per invocation: on lavapipe a `var a: array<vec4f, 16>;` inside a `for` kept the
 * previous iteration's sums (a loop summing 4 per pass gave 24, not 12). Kernels must write
 * `var a = array<vec4f, 16>();` (or declare it outside the loop and reset it) instead.
 */
export function uninitialisedLoopVars(src: string): number[] {
  const bad: number[] = [];
  const stack: boolean[] = []; // per open brace: is it (inside) a loop body?
  let pendingLoop = false;
  src.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\/\/.*$/, '');
    if (/\b(for|loop|while)\b/.test(line)) pendingLoop = true;
    if (stack.some(Boolean) && /\bvar\s+\w+\s*:[^=]*;/.test(line)) bad.push(i + 1);
    for (const ch of line) {
      if (ch === '{') {
        stack.push(pendingLoop || stack.some(Boolean));
        pendingLoop = false;
      } else if (ch === '}') stack.pop();
    }
  });
  return bad;
}

describe('WGSL sources', () => {
  it.each(files)('%s declares no uninitialised var inside a loop', (f) => {
    expect(uninitialisedLoopVars(readFileSync(join(dir, f), 'utf8'))).toEqual([]);
  });

  it('the rule catches the pattern it is meant to catch', () => {
    const src =
      'fn f() {\n  var ok: f32;\n  for (var i = 0u; i < 3u; i++) {\n    var a: array<vec4f, 4>;\n    var b = 0.0;\n    if (true) { var c: u32; }\n  }\n}\n';
    expect(uninitialisedLoopVars(src)).toEqual([4, 6]);
  });
});
