// Build step: turns every src/wgsl/*.wgsl file into a string export of src/wgsl/sources.generated.ts,
// so that kernels work unchanged in Node and in browser bundles (no fs, no fetch at run time).
// The template step, three directives and nothing else:
// - a line `//!include _name.wgsl` is replaced by that partial's text (files starting with `_` are
//   partials, shared by several kernels, not exported on their own), once per kernel: a partial
//   included again (by two partials that both need it) expands to nothing the second time;
// - `//!unroll i COUNT` … `//!end` repeats the lines between for i = 0 .. COUNT-1, each `$i` written
//   as the literal `0u`, `1u`, …: straight-line code whose register-array indices are constants
//   (WGSL has no unroll attribute, and a GPU driver that does not unroll a loop over a private array
//   puts the array in local memory: docs/gpu.md). Unrolls nest; COUNT is a literal.
// - `//!variant native_f16` … `//!variant packed` … `//!variant end`: a kernel with such blocks is
//   exported twice: as `<name>Wgsl` with the `packed` lines, and as `<name>NativeF16Wgsl` with the
//   `native_f16` lines and `enable f16;` first (its build for devices with shader-f16, reading f16
//   weights as WGSL f16; src/wgsl/_weight_buffer.wgsl).
// - `//!math f16` … `//!math f32` … `//!math end`: a kernel with such blocks is also exported as
//   `<name>F16MathWgsl`, its build for the f16 precision mode (f16 products, f32 accumulation): the
//   `f16` lines, the `packed` weight lines and `enable f16;` first; every other build keeps the `f32` lines.
// The .wgsl files stay the single source; the generated file is git-ignored.
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'wgsl');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.wgsl') && !f.startsWith('_'))
  .sort();
const expand = (f, seen = [], done = new Set()) => {
  if (seen.includes(f)) throw new Error(`embed-wgsl: include cycle ${[...seen, f].join(' -> ')}`);
  done.add(f);
  return readFileSync(join(dir, f), 'utf8').replace(/^\/\/!include (\S+)$/gm, (_, inc) => {
    if (!existsSync(join(dir, inc))) throw new Error(`embed-wgsl: ${f} includes ${inc}, which does not exist`);
    if (done.has(inc) && ![...seen, f].includes(inc)) return `// (${inc}: included above)`;
    return expand(inc, [...seen, f], done);
  });
};
const UNROLL = /^\s*\/\/!unroll (\w+) (\d+)\s*$/;
const END = /^\s*\/\/!end\s*$/;
/** Expands the //!unroll blocks of `text` (from file `f`, for messages). */
export const unroll = (text, f = 'wgsl') => {
  const lines = text.split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const m = UNROLL.exec(lines[i]);
    if (!m) {
      if (END.test(lines[i])) throw new Error(`embed-wgsl: ${f}:${i + 1}: //!end without //!unroll`);
      out.push(lines[i]);
      continue;
    }
    let depth = 1,
      j = i + 1;
    for (; j < lines.length; j++) {
      if (UNROLL.test(lines[j])) depth++;
      else if (END.test(lines[j]) && --depth === 0) break;
    }
    if (j === lines.length) throw new Error(`embed-wgsl: ${f}:${i + 1}: //!unroll without //!end`);
    const [, name, count] = m;
    const body = lines.slice(i + 1, j).join('\n');
    const placeholder = new RegExp(`\\$${name}\\b`, 'g');
    for (let k = 0; k < Number(count); k++) out.push(unroll(body.replace(placeholder, `${k}u`), f));
    i = j;
  }
  return out.join('\n');
};
const VARIANT = /^\s*\/\/!variant (native_f16|packed|end)\s*$/;
/**
 * The `which` build ('packed' or 'native_f16') of a text with //!variant blocks, or null when it has
 * none: the lines of the other build dropped (`enable f16;` first in the native one).
 */
export const variant = (text, which, f = 'wgsl') => {
  const lines = text.split('\n');
  if (!lines.some((l) => VARIANT.test(l))) return null;
  const out = [];
  let inside = null;
  for (const [i, l] of lines.entries()) {
    const m = VARIANT.exec(l);
    if (!m) {
      if (inside === null || inside === which) out.push(l);
      continue;
    }
    const v = m[1];
    if (v === 'native_f16' && inside !== null)
      throw new Error(`embed-wgsl: ${f}:${i + 1}: //!variant native_f16 inside a block`);
    if (v === 'packed' && inside !== 'native_f16')
      throw new Error(`embed-wgsl: ${f}:${i + 1}: //!variant packed without //!variant native_f16`);
    if (v === 'end' && inside !== 'packed')
      throw new Error(`embed-wgsl: ${f}:${i + 1}: //!variant end without //!variant packed`);
    inside = v === 'end' ? null : v;
  }
  if (inside !== null) throw new Error(`embed-wgsl: ${f}: //!variant block not closed by //!variant end`);
  return (which === 'native_f16' ? 'enable f16;\n' : '') + out.join('\n');
};
const MATH = /^\s*\/\/!math (f16|f32|end)\s*$/;
/**
 * The `which` arithmetic ('f32' or 'f16') of a text with //!math blocks, or null when it has none:
 * the lines of the other one dropped.
 */
export const math = (text, which, f = 'wgsl') => {
  const lines = text.split('\n');
  if (!lines.some((l) => MATH.test(l))) return null;
  const out = [];
  let inside = null;
  for (const [i, l] of lines.entries()) {
    const m = MATH.exec(l);
    if (!m) {
      if (inside === null || inside === which) out.push(l);
      continue;
    }
    const v = m[1];
    if (v === 'f16' && inside !== null) throw new Error(`embed-wgsl: ${f}:${i + 1}: //!math f16 inside a block`);
    if (v === 'f32' && inside !== 'f16') throw new Error(`embed-wgsl: ${f}:${i + 1}: //!math f32 without //!math f16`);
    if (v === 'end' && inside !== 'f32') throw new Error(`embed-wgsl: ${f}:${i + 1}: //!math end without //!math f32`);
    inside = v === 'end' ? null : v;
  }
  if (inside !== null) throw new Error(`embed-wgsl: ${f}: //!math block not closed by //!math end`);
  return out.join('\n');
};
const camel = (f) => f.replace(/\.wgsl$/, '').replace(/[_-](\w)/g, (_, c) => c.toUpperCase());
/** Writes src/wgsl/sources.generated.ts (only when its content changes). */
export function embedAll() {
  let out = '// Generated by tools/embed-wgsl.mjs from src/wgsl/*.wgsl. Do not edit.\n';
  for (const f of files) {
    const all = unroll(expand(f), f);
    const f16 = math(all, 'f16', f);
    const text = math(all, 'f32', f) ?? all;
    const packed = variant(text, 'packed', f);
    out += `export const ${camel(f)}Wgsl: string = ${JSON.stringify(packed ?? text)};\n`;
    if (packed !== null)
      out += `export const ${camel(f)}NativeF16Wgsl: string = ${JSON.stringify(variant(text, 'native_f16', f))};\n`;
    if (f16 !== null)
      out += `export const ${camel(f)}F16MathWgsl: string = ${JSON.stringify('enable f16;\n' + (variant(f16, 'packed', f) ?? f16))};\n`;
  }
  const target = join(dir, 'sources.generated.ts');
  if (!existsSync(target) || readFileSync(target, 'utf8') !== out) writeFileSync(target, out);
}

// Run as a script (the build), not when imported (the test of the template step).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) embedAll();
