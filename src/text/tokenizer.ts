// The CLIPS tokenizer of OpenVision 1 (what open_clip's get_tokenizer builds for "openvision"
// models), importable on its own and without Node APIs, so it runs in browsers too:
//   1. clean: ftfy.fix_text's default fixes (the ones that apply to text that is not mojibake), then
//      html.unescape twice, strip, whitespace runs → one space;
//   2. BERT WordPiece as tokenizers.BertWordPieceTokenizer(vocab, lowercase=True) with
//      add_special_tokens=False: special-token strings matched whole, BERT normaliser (clean text,
//      spaces around CJK ideographs, accents stripped after NFD, lowercase), BERT pre-tokeniser
//      (whitespace, punctuation), greedy longest-match WordPiece with ## continuations;
//   3. layout, always `contextLength` ids: [bos] + pieces[:L-3] + [eos] + [pad]… + [CLS] last.
// Written here rather than taken from a library: the WordPiece is ~60 lines and exact against the
// fixture (34 strings), while the libraries that have one (Transformers.js) are far larger and do
// not do ftfy's cleaning. HTML entities use the `entities` package (the HTML5 table).
import { decodeHTMLStrict } from 'entities';
import { checkOptionKeys, type KeyList } from '../options.js';

/** Ids the CLIPS layout uses (the released vocabulary's [PAD], [bos], [eos], [UNK], [CLS]). */
export const CLIPS_IDS = { pad: 0, bos: 1, eos: 2, unk: 100, cls: 101 } as const;
const SPECIAL_TOKENS = ['[UNK]', '[SEP]', '[CLS]', '[PAD]', '[MASK]'];
const MAX_WORD_CHARS = 100;

/** An error in the tokenizer's input or vocabulary; names what is at fault. */
export class TokenizerError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'TokenizerError';
  }
}

// ---- 1. cleaning (ftfy.fix_text defaults, then html.unescape twice) -------------------------------

/** Windows-1252 for C1 controls 0x80–0x9F (ftfy's fix_c1_controls; undefined bytes stay). */
const CP1252: Record<number, string> = {
  0x80: '€',
  0x82: '‚',
  0x83: 'ƒ',
  0x84: '„',
  0x85: '…',
  0x86: '†',
  0x87: '‡',
  0x88: 'ˆ',
  0x89: '‰',
  0x8a: 'Š',
  0x8b: '‹',
  0x8c: 'Œ',
  0x8e: 'Ž',
  0x91: '‘',
  0x92: '’',
  0x93: '“',
  0x94: '”',
  0x95: '•',
  0x96: '–',
  0x97: '—',
  0x98: '˜',
  0x99: '™',
  0x9a: 'š',
  0x9b: '›',
  0x9c: 'œ',
  0x9e: 'ž',
  0x9f: 'Ÿ',
};
/** ftfy's fix_latin_ligatures. */
const LIGATURES: Record<string, string> = {
  Ĳ: 'IJ',
  ĳ: 'ij',
  ŉ: 'ʼn',
  Ǳ: 'DZ',
  ǲ: 'Dz',
  ǳ: 'dz',
  Ǆ: 'DŽ',
  ǅ: 'Dž',
  ǆ: 'dž',
  Ǉ: 'LJ',
  ǈ: 'Lj',
  ǉ: 'lj',
  Ǌ: 'NJ',
  ǋ: 'Nj',
  ǌ: 'nj',
  ﬀ: 'ff',
  ﬁ: 'fi',
  ﬂ: 'fl',
  ﬃ: 'ffi',
  ﬄ: 'ffl',
  ﬅ: 'ſt',
  ﬆ: 'st',
};
/** Python's str.isspace() characters (what str.strip() removes). */
const PY_SPACE = '\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** What `\s` matches in the `regex` module (Unicode White_Space: str.isspace() less U+001C–U+001F). */
export const REGEX_SPACE = '\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const SPACE_RUN = new RegExp(`[${REGEX_SPACE}]+`, 'g');
const PY_STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g');

// HTML character references exactly as Python's html.unescape (HTML5 rules, Python's choices for
// invalid code points), with the HTML5 named references of the `entities` package.
/** The HTML5 names that are references without a semicolon too (html.entities.html5's keys without ';'). */
const LEGACY_ENTITIES = new Set(
  (
    'AElig AMP Aacute Acirc Agrave Aring Atilde Auml COPY Ccedil ETH Eacute Ecirc Egrave Euml GT Iacute Icirc ' +
    'Igrave Iuml LT Ntilde Oacute Ocirc Ograve Oslash Otilde Ouml QUOT REG THORN Uacute Ucirc Ugrave Uuml Yacute ' +
    'aacute acirc acute aelig agrave amp aring atilde auml brvbar ccedil cedil cent copy curren deg divide eacute ' +
    'ecirc egrave eth euml frac12 frac14 frac34 gt iacute icirc iexcl igrave iquest iuml laquo lt macr micro ' +
    'middot nbsp not ntilde oacute ocirc ograve ordf ordm oslash otilde ouml para plusmn pound quot raquo reg sect ' +
    'shy sup1 sup2 sup3 szlig thorn times uacute ucirc ugrave uml uuml yacute yen yuml'
  ).split(' '),
);
/** The value of the HTML5 named reference `name` (with its ';' when it has one), or undefined. */
function namedReference(name: string): string | undefined {
  if (name.endsWith(';')) {
    const ref = `&${name}`,
      v = decodeHTMLStrict(ref);
    return v !== ref ? v : undefined;
  }
  return LEGACY_ENTITIES.has(name) ? decodeHTMLStrict(`&${name};`) : undefined;
}
/** Python's html._invalid_codepoints: numeric references to these decode to nothing. */
const isInvalidCodePoint = (n: number) =>
  (n >= 0x1 && n <= 0x8) ||
  n === 0xb ||
  (n >= 0xe && n <= 0x1f) ||
  (n >= 0x7f && n <= 0x9f) ||
  (n >= 0xfdd0 && n <= 0xfdef) ||
  (n & 0xfffe) === 0xfffe;
function numericReference(n: number): string {
  if (n === 0) return '\ufffd';
  if (n === 0xd) return '\r';
  if (n >= 0x80 && n <= 0x9f) return CP1252[n] ?? String.fromCodePoint(n); // Python's _invalid_charrefs
  if ((n >= 0xd800 && n <= 0xdfff) || n > 0x10ffff) return '\ufffd';
  if (isInvalidCodePoint(n)) return '';
  return String.fromCodePoint(n);
}
const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

/** Python's html.unescape: numeric and named references, the longest legacy name without ';' as a prefix. */
export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(CHARREF, (whole, s: string) => {
    if (s[0] === '#') {
      const hex = s[1] === 'x' || s[1] === 'X';
      const digits = s.slice(hex ? 2 : 1).replace(/;$/, '');
      return numericReference(parseInt(digits, hex ? 16 : 10));
    }
    const v = namedReference(s);
    if (v !== undefined) return v;
    const cps = Array.from(s);
    for (let x = cps.length - 1; x > 1; x--) {
      const w = namedReference(cps.slice(0, x).join(''));
      if (w !== undefined) return w + cps.slice(x).join('');
    }
    return whole;
  });
}

/** ftfy's unescape_html: `&name;` of the HTML5 table (and all-caps forms of lowercase names), `&#…;` by html.unescape. */
const FTFY_ENTITY = /&#?[0-9A-Za-z]{1,24};/g;
function ftfyUnescape(text: string): string {
  return text.replace(FTFY_ENTITY, (m) => {
    if (m.startsWith('&#')) {
      const u = htmlUnescape(m);
      return u.includes(';') ? m : u; // only a reference consumed with its ';'
    }
    const v = namedReference(m.slice(1));
    if (v !== undefined) return v;
    // &NAME; for an all-lowercase HTML5 name, when html.unescape leaves &NAME; as it is
    const name = m.slice(1, -1),
      lower = name.toLowerCase();
    if (name === lower.toUpperCase() && name !== lower && htmlUnescape(m) === m) {
      const w = namedReference(`${lower};`);
      if (w !== undefined) return w.toUpperCase();
    }
    return m;
  });
}

/**
 * One pass of ftfy 6's fixes in its order (fix_and_explain), minus fix_encoding (mojibake
 * detection and repair: not reproduced).
 */
function ftfyPass(text: string, unescape: boolean): string {
  let t = unescape ? ftfyUnescape(text) : text; // unescape_html
  t = t.replace(/[\x80-\x9f]/g, (c) => CP1252[c.charCodeAt(0)] ?? c); // fix_c1_controls (sloppy-windows-1252)
  t = t.replace(/[ĲĳŉǱǲǳǄǅǆǇǈǉǊǋǌﬀ-ﬆ]/g, (c) => LIGATURES[c] ?? c); // fix_latin_ligatures
  t = t.replace(/[\u3000\uff01-\uffef]/g, (c) => (c === '\u3000' ? ' ' : c.normalize('NFKC'))); // fix_character_width
  t = t.replace(/[\u02bc\u2018-\u201b]/g, "'").replace(/[\u201c-\u201f]/g, '"'); // uncurl_quotes
  t = t.replace(/\r\n/g, '\n').replace(/[\r\u2028\u2029\u0085]/g, '\n'); // fix_line_breaks
  t = t.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'); // fix_surrogates
  // eslint-disable-next-line no-control-regex -- ftfy's remove_terminal_escapes matches the ESC control character
  t = t.replace(/\x1b\[((?:\d|;)*)([a-zA-Z])/g, ''); // remove_terminal_escapes
  // eslint-disable-next-line no-control-regex -- ftfy's remove_control_chars removes exactly these
  t = t.replace(/[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g, ''); // remove_control_chars
  return t.normalize('NFC');
}

/** Passes until nothing changes (ftfy repeats its fixes so; they settle in two or three). */
const FTFY_MAX_PASSES = 16;

/**
 * ftfy.fix_text with its default options (ftfy 6.3), except mojibake repair: the text is fixed line
 * by line (segments ending after each '\n'); HTML references are decoded ('auto') until a segment
 * with '<' is met; each segment gets unescape_html, fix_c1_controls, fix_latin_ligatures,
 * fix_character_width, uncurl_quotes, fix_line_breaks, fix_surrogates, remove_terminal_escapes,
 * remove_control_chars and NFC, repeated until it no longer changes. Not reproduced: fix_encoding
 * (mojibake detection by ftfy's badness heuristic and its re-decoding, restore_byte_a0,
 * replace_lossy_sequences, decode_inconsistent_utf8) and the split of lines over
 * max_decode_length (10⁶) characters.
 */
export function ftfyFixText(text: string): string {
  let unescape = true,
    out = '';
  for (let pos = 0; pos < text.length;) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl + 1;
    let seg = text.slice(pos, end);
    if (seg.includes('<')) unescape = false;
    for (let i = 0; i < FTFY_MAX_PASSES; i++) {
      const next = ftfyPass(seg, unescape);
      if (next === seg) break;
      seg = next;
    }
    out += seg;
    pos = end;
  }
  return out;
}

/** OpenAI's whitespace_clean after basic_clean's strip: strip, runs of the `regex` module's \s → one space, strip. */
export function whitespaceClean(text: string): string {
  return text.replace(PY_STRIP, '').replace(SPACE_RUN, ' ').replace(PY_STRIP, '');
}

/** open_clip's (and OpenAI's) text cleaning: ftfyFixText, html.unescape twice, whitespaceClean. */
export function cleanText(text: string): string {
  return whitespaceClean(htmlUnescape(htmlUnescape(ftfyFixText(text))));
}

// ---- 2. BERT normaliser, pre-tokeniser and WordPiece -------------------------------------------

const isCjk = (cp: number): boolean =>
  (cp >= 0x4e00 && cp <= 0x9fff) ||
  (cp >= 0x3400 && cp <= 0x4dbf) ||
  (cp >= 0x20000 && cp <= 0x2a6df) ||
  (cp >= 0x2a700 && cp <= 0x2b73f) ||
  (cp >= 0x2b740 && cp <= 0x2b81f) ||
  (cp >= 0x2b820 && cp <= 0x2ceaf) ||
  (cp >= 0xf900 && cp <= 0xfaff) ||
  (cp >= 0x2f800 && cp <= 0x2fa1f);
const CONTROL = /\p{C}/u;
const WHITESPACE = /\p{White_Space}/u;
const MARK_NONSPACING = /\p{Mn}/gu;
const PUNCT = /[!-/:-@[-`{-~]|\p{P}/u; // ASCII punctuation (incl. $+<=>^`|~) or Unicode P*

/** tokenizers' BertNormalizer(clean_text, handle_chinese_chars, strip_accents = lowercase = true). */
function bertNormalize(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === '\t' || ch === '\n' || ch === '\r' || WHITESPACE.test(ch)) out += ' ';
    else if (cp === 0 || cp === 0xfffd || CONTROL.test(ch)) continue;
    else if (isCjk(cp)) out += ` ${ch} `;
    else out += ch;
  }
  return out.normalize('NFD').replace(MARK_NONSPACING, '').toLowerCase();
}

/** BertPreTokenizer: split on whitespace, every punctuation character its own word. */
function preTokenize(text: string): string[] {
  const words: string[] = [];
  let cur = '';
  for (const ch of text) {
    if (WHITESPACE.test(ch)) {
      if (cur) words.push(cur);
      cur = '';
    } else if (PUNCT.test(ch)) {
      if (cur) words.push(cur);
      words.push(ch);
      cur = '';
    } else cur += ch;
  }
  if (cur) words.push(cur);
  return words;
}

export interface TokenizerOptions {
  /** Ids per text (OpenVision: 80, the text tower's context_length). */
  contextLength?: number;
}

/** The keys of TokenizerOptions (an unknown one is refused, options.ts). */
export const TOKENIZER_OPTION_KEYS = { contextLength: true } as const satisfies KeyList<TokenizerOptions>;

/** CLIPS tokenizer over a WordPiece vocabulary (vocab.txt: one token per line, id = line index). */
export class ClipsTokenizer {
  readonly kind = 'clips' as const;
  private readonly ids: Map<string, number>;
  readonly contextLength: number;

  private constructor(
    readonly vocab: readonly string[],
    opts: TokenizerOptions,
  ) {
    this.contextLength = opts.contextLength ?? 80;
    if (!Number.isInteger(this.contextLength) || this.contextLength < 3)
      throw new TokenizerError(`contextLength must be an integer ≥ 3, got ${this.contextLength}`);
    this.ids = new Map(vocab.map((t, i) => [t, i]));
    const need: [string, number][] = [
      ['[PAD]', CLIPS_IDS.pad],
      ['[bos]', CLIPS_IDS.bos],
      ['[eos]', CLIPS_IDS.eos],
      ['[UNK]', CLIPS_IDS.unk],
      ['[CLS]', CLIPS_IDS.cls],
    ];
    for (const [tok, id] of need) {
      if (vocab[id] !== tok)
        throw new TokenizerError(
          `vocabulary: line ${id + 1} must be ${tok} (the CLIPS layout's id ${id}), found ${JSON.stringify(vocab[id] ?? null)}`,
        );
    }
  }

  /** From the text of a vocab.txt file. */
  static fromVocab(text: string, opts: TokenizerOptions = {}): ClipsTokenizer {
    checkOptionKeys('ClipsTokenizer.fromVocab', opts, TOKENIZER_OPTION_KEYS);
    if (typeof text !== 'string') throw new TokenizerError('vocabulary: expected the text of a vocab.txt file');
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    return new ClipsTokenizer(
      lines.map((l) => l.replace(/\r$/, '')),
      opts,
    );
  }

  /** The released OpenVision 1 vocabulary (BERT base uncased, 30522 tokens, [bos]/[eos] at 1/2), shipped with the package. */
  static async default(opts: TokenizerOptions = {}): Promise<ClipsTokenizer> {
    checkOptionKeys('ClipsTokenizer.default', opts, TOKENIZER_OPTION_KEYS);
    const { clipsVocab } = await import('./vocab.generated.js');
    return ClipsTokenizer.fromVocab(clipsVocab, opts);
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  /** WordPiece ids of one text, after cleaning, without the layout. */
  pieces(text: string): number[] {
    const out: number[] = [];
    // Special tokens are matched whole in the cleaned text, before normalisation (case-sensitive).
    for (const part of cleanText(text).split(/(\[UNK\]|\[SEP\]|\[CLS\]|\[PAD\]|\[MASK\])/)) {
      if (!part) continue;
      if (SPECIAL_TOKENS.includes(part)) {
        out.push(this.ids.get(part) ?? CLIPS_IDS.unk);
        continue;
      }
      for (const word of preTokenize(bertNormalize(part))) out.push(...this.wordPiece(word));
    }
    return out;
  }

  private wordPiece(word: string): number[] {
    const chars = Array.from(word);
    if (chars.length > MAX_WORD_CHARS) return [CLIPS_IDS.unk];
    const out: number[] = [];
    for (let start = 0; start < chars.length;) {
      let end = chars.length,
        id: number | undefined;
      for (; end > start; end--) {
        id = this.ids.get((start > 0 ? '##' : '') + chars.slice(start, end).join(''));
        if (id !== undefined) break;
      }
      if (id === undefined) return [CLIPS_IDS.unk]; // no piece matches: the whole word is [UNK]
      out.push(id);
      start = end;
    }
    return out;
  }

  /** The `contextLength` ids of one text: [bos] + pieces + [eos], [pad]s, [CLS] at the last position. */
  encode(text: string): Int32Array {
    if (typeof text !== 'string')
      throw new TokenizerError(`expected a string, got ${text === null ? 'null' : typeof text}`);
    const L = this.contextLength;
    const ids = new Int32Array(L); // zero-filled: [PAD]
    const pieces = this.pieces(text).slice(0, L - 3);
    ids[0] = CLIPS_IDS.bos;
    ids.set(pieces, 1);
    ids[1 + pieces.length] = CLIPS_IDS.eos;
    ids[L - 1] = CLIPS_IDS.cls;
    return ids;
  }

  /** Whether `encode(text)` cuts the text: more than contextLength − 3 word pieces (open_clip cuts them the same way). */
  truncates(text: string): boolean {
    return this.pieces(text).length > this.contextLength - 3;
  }

  /** [texts.length, contextLength] ids, row-major. */
  encodeBatch(texts: readonly string[]): Int32Array {
    return encodeRows(this, texts);
  }
}

/** [texts.length, contextLength] ids, row-major: each text encoded by `tok` (both tokenizers' encodeBatch). */
export function encodeRows(
  tok: { readonly contextLength: number; encode(text: string): Int32Array },
  texts: readonly string[],
): Int32Array {
  if (!Array.isArray(texts)) throw new TokenizerError('expected an array of strings');
  const out = new Int32Array(texts.length * tok.contextLength);
  texts.forEach((t, i) => {
    if (typeof t !== 'string')
      throw new TokenizerError(`text ${i}: expected a string, got ${t === null ? 'null' : typeof t}`);
    out.set(tok.encode(t), i * tok.contextLength);
  });
  return out;
}
