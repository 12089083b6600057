// Options objects: an unknown key is refused, naming it and the known ones (JavaScript callers have no
// compiler to catch `{ dtpye: 'fp16' }`, which would otherwise be ignored without a word).
import { ArgumentError } from './errors.js';

/**
 * Every key of `T`, optional ones included, mapped to `true`. Written as
 * `const KEYS = { … } as const satisfies KeyList<Options>`, a key missing from the list or one the
 * interface does not have is a compile error, so the list cannot drift from the interface.
 */
export type KeyList<T> = { readonly [K in keyof Required<T>]: true };

/** Makes the error for a bad options object (default: an ArgumentError). */
export type OptionFail = (where: string, argument: string, detail: string) => Error;

const argumentError: OptionFail = (where, argument, detail) => new ArgumentError(where, argument, detail);

/** Optimal string alignment distance (Levenshtein with adjacent transpositions), case-insensitive. */
export function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}

/** The known key closest to `key` within an edit distance of 2 (and less than its length), if any. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined,
    bestD = Infinity;
  for (const k of known) {
    const dist = editDistance(key, k);
    if (dist <= 2 && dist < key.length && dist < bestD) [best, bestD] = [k, dist];
  }
  return best;
}

/**
 * Throws unless `opts` is undefined or an object whose own enumerable keys are all in `known`.
 * The error names the first unknown key (as `prefix + key`, e.g. 'kernels.gemmTyle'), a near known
 * key when there is one, and all the known keys. `argument` names the object itself in the error
 * for a non-object (null, a number, an array); `noun` is what the keys are ('option', 'argument').
 */
export function checkOptionKeys(
  where: string,
  opts: unknown,
  known: Readonly<Record<string, true>>,
  {
    fail = argumentError,
    argument = 'options',
    prefix = '',
    noun = 'option',
  }: { fail?: OptionFail; argument?: string; prefix?: string; noun?: string } = {},
): void {
  if (opts === undefined) return;
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts))
    throw fail(
      where,
      argument,
      `must be an object of ${noun}s, got ${opts === null ? 'null' : Array.isArray(opts) ? 'an array' : `a ${typeof opts}`}`,
    );
  const names = Object.keys(known);
  for (const key of Object.keys(opts)) {
    if (Object.hasOwn(known, key)) continue;
    const near = closestKey(key, names);
    throw fail(
      where,
      prefix + key,
      `unknown ${noun}${near ? ` (did you mean '${near}'?)` : ''}; known ${noun}s: ${names.join(', ')}`,
    );
  }
}

/** Whether a value is a positive integer (an option's count, size or index). */
export const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
