// The cleaning both tokenizers share (src/text/tokenizer.ts): Python's html.unescape (values below
// printed by Python 3.11's html.unescape) and the ftfy subset (values from ftfy 6.3's own
// docstrings, and its per-line, repeat-until-stable processing), with what is not reproduced.
import { describe, expect, it } from 'vitest';
import { cleanText, ftfyFixText, htmlUnescape } from '../../src/text/tokenizer.js';

describe("Python's html.unescape", () => {
  it.each([
    ['&amp', '&'],
    ['&ampere', '&ere'],
    ['&notin', '¬in'],
    ['&notin;', '∉'],
    ['&#x80;', '€'],
    ['&#1;', ''],
    ['&#0;', '\ufffd'],
    ['&#13;', '\r'],
    ['&#xD800;', '\ufffd'],
    ['&#x110000;', '\ufffd'],
    ['&AMP;', '&'],
    ['&frac12x', '½x'],
    ['&;', '&;'],
    ['&#;', '&#;'],
    ['a&b', 'a&b'],
    ['&Aacute', 'Á'],
    ['&aacute;x', 'áx'],
    ['&#65', 'A'],
    ['&#x41g', 'Ag'],
    ['&' + 'a'.repeat(40) + ';', '&' + 'a'.repeat(40) + ';'],
  ])('%j → %j', (text, want) => expect(htmlUnescape(text)).toBe(want));
});

describe("ftfy.fix_text's defaults (less mojibake repair)", () => {
  it.each([
    // unescape_html's docstring
    ['&lt;tag&gt;', '<tag>'],
    ['&Jscr;ohn &HilbertSpace;ancock', '𝒥ohn ℋancock'],
    ['&checkmark;', '✓'],
    ['P&eacute;rez', 'Pérez'],
    ['P&EACUTE;REZ', 'PÉREZ'],
    ['BUNDESSTRA&SZLIG;E', 'BUNDESSTRASSE'],
    ['&ntilde; &Ntilde; &NTILDE; &nTILDE;', 'ñ Ñ Ñ &nTILDE;'],
    // fix_text's and the fixers' docstrings
    ['ＬＯＵＤ\u3000ＮＯＩＳＥＳ', 'LOUD NOISES'],
    ['ﬂuﬃeﬆ', 'fluffiest'],
    ['\u201chere\u2019s a test\u201d', '"here\'s a test"'],
    ["\x1b[36;44mI'm blue\x1b[0m", "I'm blue"],
    ['a\r\nb\rc\u2028d', 'a\nb\nc\nd'],
    ['\x80 \x9d', '€ \x9d'], // C1 controls as Windows-1252 (0x9D is undefined there and stays)
  ])('%j → %j', (text, want) => expect(ftfyFixText(text)).toBe(want));

  it("repeats until stable, and stops decoding HTML from the first line with '<' on", () => {
    expect(ftfyFixText('&amp;amp;amp;')).toBe('&');
    expect(ftfyFixText('a &amp; b\n<b> &amp;\n&amp;')).toBe('a & b\n<b> &amp;\n&amp;');
  });

  it('does not repair mojibake (fix_encoding is not reproduced)', () => {
    expect(ftfyFixText('schÃ¶n')).toBe('schÃ¶n');
  });

  it('cleanText: ftfy, html.unescape twice, whitespace', () => {
    expect(cleanText('  <b>&amp;amp;</b>\t\u00a0x\n')).toBe('<b>&</b> x');
    expect(cleanText('a&#28;b')).toBe('ab');
  });
});
