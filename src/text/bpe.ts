// OpenAI's CLIP tokenizer (clip/simple_tokenizer.py), what open_clip's SimpleTokenizer is for every
// checkpoint without `hf_tokenizer_name` (OpenAI's CLIP, LAION, DataComp, DFN, MetaCLIP), importable
// on its own and without Node APIs, so it runs in browsers too:
//   1. clean: cleanText (ftfy.fix_text's default fixes except mojibake repair, html.unescape twice,
//      strip, whitespace runs → one space), then lowercase;
//   2. split by `<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
//      (the `regex` module, IGNORECASE: SPLIT below says how that is written without the flag);
//   3. each piece's UTF-8 bytes → bytes_to_unicode characters, `</w>` on the last one, byte-pair
//      merges by rank (the first 48894 merges of bpe_simple_vocab_16e6.txt: 49152 − 256 − 2);
//   4. layout (open_clip's tokenize): [49406] + ids + [49407], cut to `contextLength` with 49407
//      kept last, padded with 0.
// Written here rather than taken from a library: Transformers.js's CLIPTokenizer (the one JS
// implementation of this vocabulary) needs the Hugging Face tokenizer.json, a different file, and
// normalises differently (no ftfy, no HTML unescaping: "rock &amp; roll" gives other ids), while the
// BPE itself is ~40 lines. The vocabulary (MIT License, Copyright (c) 2021 OpenAI) is
// src/text/bpe_simple_vocab_16e6.txt.gz, embedded at build time (tools/embed-assets.mjs).
import { checkOptionKeys } from '../options.js';
import {
  cleanText,
  encodeRows,
  REGEX_SPACE,
  TokenizerError,
  TOKENIZER_OPTION_KEYS,
  type TokenizerOptions,
} from './tokenizer.js';

/** Ids of OpenAI's vocabulary: `<|startoftext|>`, `<|endoftext|>` and the padding (0, which is also "!"). */
export const OPENAI_BPE_IDS = { sot: 49406, eot: 49407, pad: 0 } as const;
/** Merges the vocabulary uses: lines 2 … 48895 of bpe_simple_vocab_16e6.txt (49152 − 256 − 2). */
export const OPENAI_BPE_MERGES = 48894;
/** 256 byte symbols, 256 with `</w>`, the merges, the two special tokens. */
export const OPENAI_BPE_VOCAB_SIZE = 2 * 256 + OPENAI_BPE_MERGES + 2;
const SOT = '<|startoftext|>',
  EOT = '<|endoftext|>';
/** Distinct pieces remembered (Python's cache is unbounded; past this the cache starts over). */
const CACHE_LIMIT = 100_000;

/**
 * OpenAI's split pattern as the `regex` module applies it with IGNORECASE to lowercased text,
 * written without JavaScript's `i` flag (whose case folding differs): after lowercasing, the flag
 * still lets `s` match ſ (U+017F), and it keeps U+0345 (a combining mark whose case variant ι is a
 * letter) out of `[^\s\p{L}\p{N}]` — so that character is dropped, as the `regex` module drops it.
 * `\s` is the `regex` module's (Unicode White_Space), not JavaScript's.
 */
const SPLIT = new RegExp(
  `<\\|[sſ]tartoftext\\|>|<\\|endoftext\\|>|'[sſ]|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^${REGEX_SPACE}\\p{L}\\p{N}\\u0345]+`,
  'gu',
);

/** bytes_to_unicode: byte → the character standing for it (printable Latin-1 bytes as themselves, the others from U+0100 on). */
function byteSymbols(): string[] {
  const out: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out.push(String.fromCharCode(printable ? b : 256 + n++));
  }
  return out;
}
const BYTE_SYMBOL = byteSymbols();
const utf8 = new TextEncoder();

/** OpenAI's byte-level BPE tokenizer over a merges file (bpe_simple_vocab_16e6.txt). */
export class BpeTokenizer {
  readonly kind = 'openai-bpe' as const;
  readonly contextLength: number;
  private readonly ids = new Map<string, number>();
  private readonly symbols: string[] = [];
  /** "a b" → rank of merging a and b. */
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, number[]>();

  private constructor(merges: readonly string[], opts: TokenizerOptions) {
    this.contextLength = opts.contextLength ?? 77;
    if (!Number.isInteger(this.contextLength) || this.contextLength < 2)
      throw new TokenizerError(`contextLength must be an integer ≥ 2, got ${this.contextLength}`);
    // vocab order: the byte symbols by code point (bytes_to_unicode's values), the same with </w>, merges, specials
    const bytes = [...BYTE_SYMBOL].sort();
    for (const s of [...bytes, ...bytes.map((b) => b + '</w>')]) this.add(s);
    merges.forEach((m, i) => {
      const parts = m.split(' ');
      if (parts.length !== 2 || !parts[0] || !parts[1])
        throw new TokenizerError(
          `merges: line ${i + 2} must be two symbols separated by one space, found ${JSON.stringify(m)}`,
        );
      this.ranks.set(m, i);
      this.add(parts[0] + parts[1]);
    });
    this.add(SOT);
    this.add(EOT);
  }

  private add(symbol: string): void {
    // a symbol twice (a merge that repeats another's result) keeps its last id, as Python's dict(zip(vocab, range))
    this.ids.set(symbol, this.symbols.length);
    this.symbols.push(symbol);
  }

  /**
   * From the text of a bpe_simple_vocab_16e6.txt-style file: a version line, then one merge ("a b")
   * per line, of which the first 48894 are used, as OpenAI's and open_clip's tokenizers use them.
   */
  static fromMerges(text: string, opts: TokenizerOptions = {}): BpeTokenizer {
    checkOptionKeys('BpeTokenizer.fromMerges', opts, TOKENIZER_OPTION_KEYS);
    if (typeof text !== 'string') throw new TokenizerError('merges: expected the text of a BPE merges file');
    const lines = text.split('\n');
    if (lines.length < OPENAI_BPE_MERGES + 1)
      throw new TokenizerError(
        `merges: ${Math.max(0, lines.length - 1)} merge lines after the version line; OpenAI's vocabulary uses ${OPENAI_BPE_MERGES}`,
      );
    return new BpeTokenizer(
      lines.slice(1, OPENAI_BPE_MERGES + 1).map((l) => l.replace(/\r$/, '')),
      opts,
    );
  }

  /**
   * From the bytes of a gzipped merges file (bpe_simple_vocab_16e6.txt.gz as released), decompressed
   * with DecompressionStream (Node ≥ 18 and current browsers).
   */
  static async fromGzip(bytes: Uint8Array | ArrayBuffer, opts: TokenizerOptions = {}): Promise<BpeTokenizer> {
    checkOptionKeys('BpeTokenizer.fromGzip', opts, TOKENIZER_OPTION_KEYS);
    if (typeof DecompressionStream === 'undefined')
      throw new TokenizerError(
        'merges: this runtime has no DecompressionStream to gunzip with; decompress the file and use BpeTokenizer.fromMerges',
      );
    const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    let text: string;
    try {
      const stream = new Blob([new Uint8Array(u8)]).stream().pipeThrough(new DecompressionStream('gzip'));
      text = await new Response(stream).text();
    } catch (e) {
      throw new TokenizerError(`merges: not a gzip file (${(e as Error).message})`);
    }
    return BpeTokenizer.fromMerges(text, opts);
  }

  /** OpenAI's vocabulary (bpe_simple_vocab_16e6.txt, MIT License, Copyright (c) 2021 OpenAI), shipped with the package. */
  static async default(opts: TokenizerOptions = {}): Promise<BpeTokenizer> {
    checkOptionKeys('BpeTokenizer.default', opts, TOKENIZER_OPTION_KEYS);
    const { openaiBpeMerges } = await import('./bpe-vocab.generated.js');
    return BpeTokenizer.fromMerges(openaiBpeMerges, opts);
  }

  get vocabSize(): number {
    return this.symbols.length;
  }

  /** BPE ids of one text, after cleaning and lowercasing, without `<|startoftext|>` / `<|endoftext|>` around them. */
  pieces(text: string): number[] {
    if (typeof text !== 'string')
      throw new TokenizerError(`expected a string, got ${text === null ? 'null' : typeof text}`);
    const out: number[] = [];
    for (const [piece] of cleanText(text).toLowerCase().matchAll(SPLIT)) {
      if (piece === SOT || piece === EOT) out.push(this.ids.get(piece)!);
      else {
        let s = '';
        for (const b of utf8.encode(piece)) s += BYTE_SYMBOL[b];
        out.push(...this.bpe(s));
      }
    }
    return out;
  }

  /** The ids of one byte-symbol word: merged pair by pair, the lowest-ranked pair first, every occurrence left to right. */
  private bpe(token: string): number[] {
    const hit = this.cache.get(token);
    if (hit) return hit;
    let word = Array.from(token);
    word[word.length - 1] += '</w>';
    while (word.length > 1) {
      let best = -1,
        bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const first = word[best]!,
        second = word[best + 1]!;
      const merged: string[] = [];
      for (let i = 0; i < word.length;) {
        if (word[i] === first && word[i + 1] === second && i + 1 < word.length) {
          merged.push(first + second);
          i += 2;
        } else merged.push(word[i++]!);
      }
      word = merged;
    }
    const ids = word.map((w) => this.ids.get(w)!);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(token, ids);
    return ids;
  }

  /** The `contextLength` ids of one text: [49406] + pieces + [49407], cut with 49407 kept last, padded with 0. */
  encode(text: string): Int32Array {
    const L = this.contextLength;
    const ids = new Int32Array(L); // zero-filled: the padding
    const pieces = this.pieces(text).slice(0, L - 2);
    ids[0] = OPENAI_BPE_IDS.sot;
    ids.set(pieces, 1);
    ids[1 + pieces.length] = OPENAI_BPE_IDS.eot;
    return ids;
  }

  /** Whether `encode(text)` cuts the text: more than contextLength − 2 BPE ids (open_clip cuts them the same way). */
  truncates(text: string): boolean {
    return this.pieces(text).length > this.contextLength - 2;
  }

  /** [texts.length, contextLength] ids, row-major. */
  encodeBatch(texts: readonly string[]): Int32Array {
    return encodeRows(this, texts);
  }

  /** The text of ids, as OpenAI's decode: the symbols' bytes as UTF-8 (invalid bytes → U+FFFD), each `</w>` → a space. */
  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const s = this.symbols[ids[i]!];
      if (s === undefined)
        throw new TokenizerError(
          `decode: id ${ids[i]} at index ${i} is not in the vocabulary (0 … ${this.vocabSize - 1})`,
        );
      for (const ch of s) bytes.push(SYMBOL_BYTE.get(ch)!);
    }
    return new TextDecoder().decode(new Uint8Array(bytes)).replaceAll('</w>', ' ');
  }
}
const SYMBOL_BYTE = new Map(BYTE_SYMBOL.map((s, b) => [s, b]));
