// The template step's //!unroll directive (tools/embed-wgsl.mjs): straight-line copies with the
// index as a literal, nesting, word-boundary substitution, and errors naming the file and line.
import { describe, expect, it } from 'vitest';
import { math, unroll, variant } from '../../tools/embed-wgsl.mjs';

describe('//!unroll', () => {
  it('repeats the block with $i as 0u, 1u, …', () => {
    const src = 'a\n//!unroll i 3\nacc[$i] = x[$i];\n//!end\nb';
    expect(unroll(src)).toBe('a\nacc[0u] = x[0u];\nacc[1u] = x[1u];\nacc[2u] = x[2u];\nb');
  });
  it('nests, and replaces only the whole name ($i, not $ix)', () => {
    const src = '//!unroll r 2\n//!unroll i 2\nacc[2u * $r + $i] = $ix;\n//!end\n//!end';
    expect(unroll(src).split('\n')).toEqual([
      'acc[2u * 0u + 0u] = $ix;',
      'acc[2u * 0u + 1u] = $ix;',
      'acc[2u * 1u + 0u] = $ix;',
      'acc[2u * 1u + 1u] = $ix;',
    ]);
  });
  it('names the file and line of an unclosed block or a stray //!end', () => {
    expect(() => unroll('x\n//!unroll i 2\ny', 'k.wgsl')).toThrow(/k\.wgsl:2: \/\/!unroll without \/\/!end/);
    expect(() => unroll('x\n//!end', 'k.wgsl')).toThrow(/k\.wgsl:2: \/\/!end without \/\/!unroll/);
  });
});

describe('//!variant', () => {
  const src = 'a\n//!variant native_f16\nvar w: array<f16>;\n//!variant packed\nvar w: array<u32>;\n//!variant end\nb';
  it('keeps the packed lines in the packed build, the native ones (after enable f16;) in the native build', () => {
    expect(variant(src, 'packed')).toBe('a\nvar w: array<u32>;\nb');
    expect(variant(src, 'native_f16')).toBe('enable f16;\na\nvar w: array<f16>;\nb');
  });
  it('is null for a text without blocks, and names the file and line of a malformed block', () => {
    expect(variant('a\nb', 'packed')).toBeNull();
    expect(() => variant('//!variant packed\nx\n//!variant end', 'packed', 'k.wgsl')).toThrow(
      /k\.wgsl:1: \/\/!variant packed without \/\/!variant native_f16/,
    );
    expect(() => variant('//!variant native_f16\nx', 'packed', 'k.wgsl')).toThrow(
      /k\.wgsl: \/\/!variant block not closed/,
    );
  });
});

describe('//!math', () => {
  const src = 'a\n//!math f16\nalias t4 = vec4<f16>;\n//!math f32\nalias t4 = vec4f;\n//!math end\nb';
  it('keeps the f32 lines in the f32 arithmetic, the f16 ones in the f16', () => {
    expect(math(src, 'f32')).toBe('a\nalias t4 = vec4f;\nb');
    expect(math(src, 'f16')).toBe('a\nalias t4 = vec4<f16>;\nb');
  });
  it('is null for a text without blocks, and names the file and line of a malformed block', () => {
    expect(math('a\nb', 'f32')).toBeNull();
    expect(() => math('//!math f32\nx\n//!math end', 'f32', 'k.wgsl')).toThrow(
      /k\.wgsl:1: \/\/!math f32 without \/\/!math f16/,
    );
    expect(() => math('//!math f16\nx', 'f16', 'k.wgsl')).toThrow(/k\.wgsl: \/\/!math block not closed/);
    expect(() => math('//!math f16\n//!math f16', 'f16', 'k.wgsl')).toThrow(/k\.wgsl:2: \/\/!math f16 inside a block/);
  });
});
