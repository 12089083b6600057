// The CLIPS tokenizer against the fixture made with OpenVision's own tokenizer (ftfy + html
// cleaning, Hugging Face's BertWordPieceTokenizer on the released vocab.txt): every case exact,
// the cleaned text and all 80 ids.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ClipsTokenizer, cleanText, TokenizerError } from '../../src/text/tokenizer.js';
import { fixture } from '../helpers/fixtures.js';

const { cases } = JSON.parse(readFileSync(fixture('clips-tokenizer.expected.json'), 'utf8')) as {
  cases: { text: string; cleaned: string; ids: number[] }[];
};

describe('CLIPS tokenizer', () => {
  it("has the fixture's 34 cases", () => expect(cases.length).toBe(34));

  it.each(cases.map((c, i) => [i, JSON.stringify(c.text).slice(0, 60), c] as const))(
    'case %i %s: cleaned text and ids',
    async (_, __, c) => {
      const tok = await ClipsTokenizer.default();
      expect(cleanText(c.text)).toBe(c.cleaned);
      expect(Array.from(tok.encode(c.text))).toEqual(c.ids);
    },
  );

  it('packs a batch row by row, with the layout [bos] pieces [eos] pads … [CLS]', async () => {
    const tok = await ClipsTokenizer.default();
    const b = tok.encodeBatch(['a photo of a dog.', '']);
    expect(b.length).toBe(160);
    expect(Array.from(b.subarray(80, 83))).toEqual([1, 2, 0]);
    expect(b[159]).toBe(101);
    expect(tok.vocabSize).toBe(30522);
  });

  it('refuses non-strings and a vocabulary without the CLIPS special tokens, naming them', async () => {
    const tok = await ClipsTokenizer.default();
    expect(() => tok.encodeBatch(['ok', 3 as never])).toThrow(/text 1: expected a string, got number/);
    expect(() => ClipsTokenizer.fromVocab('[PAD]\n[unused0]\n[unused1]\n')).toThrow(TokenizerError);
    expect(() => ClipsTokenizer.fromVocab('[PAD]\n[unused0]\n[unused1]\n')).toThrow(
      /vocabulary: line 2 must be \[bos\]/,
    );
  });

  it('takes another vocabulary and context length', () => {
    const vocab = [
      '[PAD]',
      '[bos]',
      '[eos]',
      ...Array.from({ length: 97 }, (_, i) => `[unused${i}]`),
      '[UNK]',
      '[CLS]',
      'hello',
      '##s',
      'world',
    ];
    const tok = ClipsTokenizer.fromVocab(vocab.join('\n') + '\n', { contextLength: 8 });
    expect(Array.from(tok.encode('Hellos WORLD zzz'))).toEqual([1, 102, 103, 104, 100, 2, 0, 101]);
  });
});
