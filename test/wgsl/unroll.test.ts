// The template step's //!unroll directive (tools/embed-wgsl.mjs): straight-line copies with the
// index as a literal, nesting, word-boundary substitution, and errors naming the file and line.
import { describe, expect, it } from 'vitest';
import { unroll } from '../../tools/embed-wgsl.mjs';

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
