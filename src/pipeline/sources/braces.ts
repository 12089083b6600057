// Brace patterns as webdataset and clip-retrieval write shard lists (`shards/{00000..00099}.tar`),
// with the shell's rules: `{a,b,c}` alternatives (nested, each expanded), `{m..n}` integer ranges
// (ascending or descending; zero-padded to the wider end's width when either end is written with a
// leading zero, as in bash), several groups giving their product in order (`{a,b}{1,2}` → a1 a2 b1
// b2). A brace group with neither a comma nor a range (`{x}`), or an unmatched brace, is literal.
import { ArgumentError } from '../../errors.js';

/** The most names one pattern may expand to (a typo such as `{0..99999999}` is refused, not allocated). */
export const MAX_EXPANSION = 10_000_000;

function range(a: string, b: string): string[] {
  const [m, n] = [Number(a), Number(b)];
  const padded = /^-?0\d/.test(a) || /^-?0\d/.test(b);
  const width = padded ? Math.max(a.replace('-', '').length, b.replace('-', '').length) : 0;
  const count = Math.abs(n - m) + 1;
  if (count > MAX_EXPANSION)
    throw new ArgumentError('expandBraces', 'pattern', `{${a}..${b}} gives ${count} names (at most ${MAX_EXPANSION})`);
  const step = n >= m ? 1 : -1;
  const out: string[] = [];
  for (let v = m; ; v += step) {
    const s = String(Math.abs(v)).padStart(width, '0');
    out.push(v < 0 ? `-${s}` : s);
    if (v === n) break;
  }
  return out;
}

/** Every name a brace pattern stands for, in order; a string without braces is itself. */
export function expandBraces(pattern: string): string[] {
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] !== '{') continue;
    let depth = 0,
      j = i;
    const commas: number[] = [];
    for (; j < pattern.length; j++) {
      const c = pattern[j];
      if (c === '{') depth++;
      else if (c === '}' && --depth === 0) break;
      else if (c === ',' && depth === 1) commas.push(j);
    }
    if (j >= pattern.length) break; // unmatched: the rest is literal
    const body = pattern.slice(i + 1, j);
    let alternatives: string[] | undefined;
    if (commas.length > 0) {
      const cuts = [i, ...commas, j];
      alternatives = cuts.slice(1).flatMap((end, k) => expandBraces(pattern.slice(cuts[k]! + 1, end)));
    } else {
      const m = /^(-?\d+)\.\.(-?\d+)$/.exec(body);
      if (m) alternatives = range(m[1]!, m[2]!);
    }
    if (!alternatives) continue; // a literal group: look inside it and beyond
    const head = pattern.slice(0, i);
    const tails = expandBraces(pattern.slice(j + 1));
    if (alternatives.length * tails.length > MAX_EXPANSION)
      throw new ArgumentError('expandBraces', 'pattern', `${pattern} gives more than ${MAX_EXPANSION} names`);
    return alternatives.flatMap((a) => tails.map((t) => head + a + t));
  }
  return [pattern];
}
