// Differential fuzz of OpenAI's BPE tokenizer: 800 seeded random texts (scripts, emoji, HTML
// references, contractions, special tokens, the characters where the `regex` module's IGNORECASE,
// str.lower() or html.unescape behave unlike JavaScript's defaults) against an independent Python
// implementation run with Python's own regex / lower / unescape (tools/make-bpe-fuzz.py, which also
// reproduces the 21 cases made with OpenAI's tokenizer). The reference has no ftfy (identity), so a
// text counts only where the library's ftfy subset changes nothing after html.unescape and the
// whitespace cleaning; nearly all do.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BpeTokenizer } from '../../src/text/bpe.js';
import { cleanText, htmlUnescape, whitespaceClean } from '../../src/text/tokenizer.js';
import { fixture } from '../helpers/fixtures.js';

const { cases } = JSON.parse(readFileSync(fixture('openai-bpe-fuzz.expected.json'), 'utf8')) as {
  cases: { text: string; ids: number[] }[];
};
/** What the reference's cleaning gives: ftfy as identity. */
const cleanWithoutFtfy = (t: string) => whitespaceClean(htmlUnescape(htmlUnescape(t)));
/**
 * At most this share of the corpus may be left out for ftfy changing it: the generator avoids what
 * ftfy fixes, but upper-casing a piece makes some (&NOTIN; is decoded by ftfy alone); 40 of 800 now.
 */
const MAX_LEFT_OUT = 0.1;

describe("OpenAI's BPE tokenizer, differential fuzz against Python's regex / lower / html.unescape", () => {
  const usable = cases.filter((c) => cleanText(c.text) === cleanWithoutFtfy(c.text));

  it(`has 800 cases, at most ${MAX_LEFT_OUT * 100}% of them changed by ftfy`, () => {
    expect(cases.length).toBe(800);
    expect(cases.length - usable.length).toBeLessThanOrEqual(MAX_LEFT_OUT * cases.length);
  });

  it('gives the reference ids for every usable case', async () => {
    const tok = await BpeTokenizer.default();
    const wrong: string[] = [];
    for (const c of usable) {
      const ids = Array.from(tok.encode(c.text));
      const want = [...c.ids, ...new Array<number>(77 - c.ids.length).fill(0)];
      if (ids.join(',') !== want.join(','))
        wrong.push(`${JSON.stringify(c.text)}: ${ids.slice(0, c.ids.length + 1).join(' ')} ≠ ${c.ids.join(' ')}`);
    }
    expect(wrong.slice(0, 5), `${wrong.length} of ${usable.length} differ`).toEqual([]);
  });
});
