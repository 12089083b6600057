// OpenAI's BPE tokenizer against the fixture made with OpenAI's own clip/simple_tokenizer.py (ftfy
// as identity: every case is a text ftfy leaves unchanged) and open_clip's truncation: all 21 cases
// exact, all 77 ids; then the layout, the vocabulary shipped, and the refusals.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BpeTokenizer, OPENAI_BPE_IDS, OPENAI_BPE_VOCAB_SIZE } from '../../src/text/bpe.js';
import { ftfyFixText, htmlUnescape, TokenizerError } from '../../src/text/tokenizer.js';
import { fixture } from '../helpers/fixtures.js';

const { cases } = JSON.parse(readFileSync(fixture('openai-bpe-tokenizer.expected.json'), 'utf8')) as {
  cases: { text: string; ids: number[] }[];
};
const VOCAB_GZ = new URL('../../src/text/bpe_simple_vocab_16e6.txt.gz', import.meta.url);

describe("OpenAI's BPE tokenizer", () => {
  it("has the fixture's 21 cases, each one where ftfy changes nothing html.unescape would not", () => {
    // the fixture was made with ftfy as identity: our ftfy subset must then agree with it on these texts
    expect(cases.length).toBe(21);
    const twice = (t: string) => htmlUnescape(htmlUnescape(t));
    for (const c of cases) expect(twice(ftfyFixText(c.text)), JSON.stringify(c.text)).toBe(twice(c.text));
  });

  it.each(cases.map((c, i) => [i, JSON.stringify(c.text).slice(0, 60), c] as const))(
    'case %i %s: all 77 ids',
    async (_, __, c) => {
      const tok = await BpeTokenizer.default();
      expect(Array.from(tok.encode(c.text))).toEqual(c.ids);
    },
  );

  it('ships the released vocabulary file byte for byte, with its 49408 tokens', async () => {
    const gz = readFileSync(VOCAB_GZ);
    expect(createHash('sha256').update(gz).digest('hex')).toBe(
      '924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a',
    );
    const tok = await BpeTokenizer.default();
    expect(tok.vocabSize).toBe(OPENAI_BPE_VOCAB_SIZE);
    expect(OPENAI_BPE_VOCAB_SIZE).toBe(49408);
    // the same tokenizer from the .gz itself (DecompressionStream: the browser path for another file)
    const fromGz = await BpeTokenizer.fromGzip(new Uint8Array(gz));
    for (const c of cases.slice(0, 5)) expect(Array.from(fromGz.encode(c.text))).toEqual(c.ids);
  });

  it("cuts a long text to 77 ids with <|endoftext|> last (open_clip's truncation), and says it cut", async () => {
    const tok = await BpeTokenizer.default();
    const long = Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ');
    const ids = tok.encode(long);
    expect(ids.length).toBe(77);
    expect(ids[0]).toBe(OPENAI_BPE_IDS.sot);
    expect(ids[76]).toBe(OPENAI_BPE_IDS.eot);
    expect(Array.from(ids.subarray(1, 76))).toEqual(tok.pieces(long).slice(0, 75));
    expect(tok.truncates(long)).toBe(true);
    expect(tok.truncates('a photo of a dog.')).toBe(false);
    // exactly 75 pieces: not cut
    const pieces75 = Array.from({ length: 75 }, () => 'a').join(' ');
    expect(tok.truncates(pieces75)).toBe(false);
    expect(tok.encode(pieces75)[76]).toBe(OPENAI_BPE_IDS.eot);
    expect(tok.truncates(pieces75 + ' a')).toBe(true);
  });

  it('packs a batch row by row, takes another context length, and decodes as OpenAI does', async () => {
    const tok = await BpeTokenizer.default();
    const b = tok.encodeBatch(['a photo of a dog.', '']);
    expect(b.length).toBe(154);
    expect(Array.from(b.subarray(77, 80))).toEqual([49406, 49407, 0]);
    const short = await BpeTokenizer.default({ contextLength: 5 });
    expect(Array.from(short.encode('a photo of a dog.'))).toEqual([49406, 320, 1125, 539, 49407]);
    expect(tok.decode(tok.pieces('Café crème, 日本語!'))).toBe('café crème , 日本語 ! ');
    expect(tok.decode([49406, 320, 49407])).toBe('<|startoftext|>a <|endoftext|>');
  });

  it('cleans as OpenAI does before splitting: ftfy fixes, HTML references, whitespace, case', async () => {
    const tok = await BpeTokenizer.default();
    const same = (a: string, b: string) =>
      expect(Array.from(tok.encode(a)), JSON.stringify(a)).toEqual(Array.from(tok.encode(b)));
    same('\u201cit\u2019s\u201d', '"it\'s"'); // uncurl_quotes (an ftfy default)
    same('ﬁne', 'fine'); // fix_latin_ligatures
    same('ＡＢＣ\u3000x', 'abc x'); // fix_character_width
    same('cafe\u0301', 'café'); // NFC
    same('a&amp;amp;b', 'a&b'); // html.unescape twice (and ftfy's own)
    same('x &#28; y', 'x y'); // Python's html.unescape drops invalid code points
    same(' \t a \u00a0 b\n', 'a b');
  });

  it('refuses non-strings, a short merges file, a non-gzip file and an unknown option, naming them', async () => {
    const tok = await BpeTokenizer.default();
    expect(() => tok.encodeBatch(['ok', 3 as never])).toThrow(/text 1: expected a string, got number/);
    expect(() => tok.encode(null as never)).toThrow(TokenizerError);
    expect(() => BpeTokenizer.fromMerges('#version: 0.2\ni n\n')).toThrow(
      /merges: 2 merge lines after the version line; OpenAI's vocabulary uses 48894/,
    );
    const bad = ['#version', ...Array.from({ length: 48894 }, () => 'i n')];
    bad[7] = 'a b c';
    expect(() => BpeTokenizer.fromMerges(bad.join('\n'))).toThrow(
      /merges: line 8 must be two symbols separated by one space, found "a b c"/,
    );
    await expect(BpeTokenizer.fromGzip(new Uint8Array([1, 2, 3]))).rejects.toThrow(/merges: not a gzip file/);
    await expect(BpeTokenizer.fromGzip(gzipSync('#v\ni n\n'))).rejects.toThrow(/merges: 2 merge lines/);
    await expect(BpeTokenizer.default({ contextLenght: 77 } as never)).rejects.toThrow(
      /BpeTokenizer\.default: argument 'contextLenght': unknown option \(did you mean 'contextLength'\?\)/,
    );
    await expect(BpeTokenizer.default({ contextLength: 1 })).rejects.toThrow(
      /contextLength must be an integer ≥ 2, got 1/,
    );
    expect(() => tok.decode([49408])).toThrow(/decode: id 49408 at index 0 is not in the vocabulary/);
  });
});
