#!/usr/bin/env python3
"""Differential fuzz corpus for OpenAI's BPE tokenizer (src/text/bpe.ts).

Writes test/fixtures/openai-bpe-fuzz.expected.json: seeded random texts and their ids by an
independent Python implementation of OpenAI's clip/simple_tokenizer.py with open_clip's truncation,
run with what that tokenizer really uses from Python: the `regex` module (the split pattern with
IGNORECASE), str.lower(), html.unescape, str.strip(), UTF-8. ftfy is not installed here, so it is
the identity (as in the 21-case fixture); the test uses only the texts where the library's ftfy
subset changes nothing that matters (test/text/openai-bpe-fuzz.test.ts says how).

Needs python3 with `regex` (Debian: apt-get install python3-regex). Run from the repository root:
    python3 tools/make-bpe-fuzz.py
"""
import gzip
import html
import json
import random
import sys

import regex

VOCAB = 'src/text/bpe_simple_vocab_16e6.txt.gz'
OUT = 'test/fixtures/openai-bpe-fuzz.expected.json'
MERGES = 49152 - 256 - 2
CONTEXT = 77
SOT, EOT = '<|startoftext|>', '<|endoftext|>'
SPLIT = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)


def byte_symbol_table():
    """byte -> symbol: the printable Latin-1 bytes stand for themselves, the rest get 256, 257, ..."""
    keep = set(range(0x21, 0x7F)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


class Reference:
    def __init__(self, path):
        lines = gzip.open(path).read().decode('utf-8').split('\n')[1:MERGES + 1]
        pairs = [tuple(line.split()) for line in lines]
        self.sym = byte_symbol_table()
        base = sorted(self.sym.values())
        vocab = base + [s + '</w>' for s in base] + [a + b for a, b in pairs] + [SOT, EOT]
        self.ids = {s: i for i, s in enumerate(vocab)}
        self.rank = {p: i for i, p in enumerate(pairs)}

    def merge(self, token):
        word = list(token[:-1]) + [token[-1] + '</w>']
        while len(word) > 1:
            ranked = [(self.rank.get((word[i], word[i + 1]), float('inf')), i) for i in range(len(word) - 1)]
            best, _ = min(ranked)
            if best == float('inf'):
                break
            a, b = next((word[i], word[i + 1]) for r, i in ranked if r == best)
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == a and word[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        return word

    def pieces(self, text):
        text = html.unescape(html.unescape(text)).strip()  # basic_clean, ftfy as identity
        text = regex.sub(r'\s+', ' ', text).strip().lower()  # whitespace_clean, then lower
        out = []
        for tok in SPLIT.findall(text):
            if tok in (SOT, EOT):
                out.append(self.ids[tok])
                continue
            mapped = ''.join(self.sym[b] for b in tok.encode('utf-8'))
            out.extend(self.ids[s] for s in self.merge(mapped))
        return out

    def encode(self, text):
        ids = [self.ids[SOT]] + self.pieces(text) + [self.ids[EOT]]
        if len(ids) > CONTEXT:
            ids = ids[:CONTEXT]
            ids[-1] = self.ids[EOT]
        return ids  # the padding (0) to 77 is left out of the file


# Pieces the texts are drawn from: what the cleaning, the split and the byte-level BPE each treat
# specially. Left out: what ftfy changes (curly quotes, ligatures, full-width forms, C0/C1
# controls, U+3000, \r, characters NFC changes), since the reference has no ftfy.
WORDS = ['a', 'photo', 'of', 'the', 'dog', 'Cat', 'HELLO', 'world', 'electroencephalographically',
         'xxxxxxxxxxxxxxxxxxxxxxx', 'naïve', 'façade', 'Über', 'straße', 'fjord']
SCRIPTS = ['русский', 'Ελληνικά', 'ΟΔΟΣ', 'Σ', 'ΣΑ', 'ς', 'עברית', 'العربية', 'हिन्दी', 'ไทย', '한국어',
           '日本語', 'カタカナ', 'ひらがな', '中文字符', 'ქართული', 'Ꭰꭰ', 'Ꙁ']
ODD = ['ſ', "'ſ", 'K', 'İ', 'ẞ', 'ͅ', 'aͅb', 'q\u0301', 'x\u0308', 'ȿ', 'ⓐⒶ', 'Ⅻ', '²', '½', '٣', '३',
       '\u200d', '\u200b', '\u00ad', '\u2060', 'ʹ', 'ꙮ']
EMOJI = ['🐶', '🚀', '👍🏽', '👨\u200d👩\u200d👧', '🇫🇷', '❤\ufe0f', '☃', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '𓀀']
PUNCT = list('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~') + ['...', '--', '!!!', '?!', '«', '»', '¿', '¡', '§', '©',
                                                    '°', '€', '£', '¥', '…', '•', '–', '—']
CONTRACTIONS = ["'s", "'S", "'t", "'re", "'ve", "'m", "'ll", "'LL", "'d", "'D", "n't", "'x"]
SPECIAL = [SOT, EOT, '<|STARTOFTEXT|>', '<|EndOfText|>', '<|ſtartoftext|>', '<|startoftext', '|>']
ENTITIES = ['&amp;', '&lt;', '&gt;', '&quot;', '&#39;', '&#x27;', '&nbsp;', '&copy', '&notin;', '&not', '&ampere',
            '&#0;', '&#28;', '&#x80;', '&#x9d;', '&#xD800;', '&#1114112;', '&#99999999999;', '&#127;', '&#xfffe;',
            '&amp;lt;', '&;', '&#;', '&#x;', '&bogus;', '&frac12x', '&AMP', '&ThickSpace;', '&NotNestedGreaterGreater;',
            '&#65;', '&#x1F600;', '&AElig', '&amp;amp;', '&#13;', '&#9;', '&#10;']
DIGITS = ['0', '7', '42', '3.14159', '2025-11-23', '1,000', '10%', '$5']
SPACES = [' ', ' ', ' ', '', '  ', '\t', '\n', '\u00a0', '\u2003', '\u2028', ' \n ']
GROUPS = [(WORDS, 6), (SCRIPTS, 3), (ODD, 2), (EMOJI, 1), (PUNCT, 2), (CONTRACTIONS, 1), (SPECIAL, 1),
          (ENTITIES, 2), (DIGITS, 2)]


def random_text(rng):
    n = rng.choice([1, 2, 3, 4, 6, 8, 12]) if rng.random() > 0.05 else rng.randint(60, 120)
    parts = []
    for _ in range(n):
        group = rng.choices([g for g, _ in GROUPS], weights=[w for _, w in GROUPS])[0]
        piece = rng.choice(group)
        if rng.random() < 0.15:
            piece = piece.upper()
        parts.append(piece)
        parts.append(rng.choice(SPACES))
    text = ''.join(parts)
    return ('<b>' + text) if rng.random() < 0.3 else text  # '<' keeps ftfy from unescaping


def main():
    if not hasattr(regex, 'compile'):
        sys.exit('needs the regex module')
    ref = Reference(VOCAB)
    # first, the reference reproduces the 21 cases made with OpenAI's own tokenizer
    with open('test/fixtures/openai-bpe-tokenizer.expected.json', encoding='utf-8') as f:
        for case in json.load(f)['cases']:
            ids = ref.encode(case['text'])
            if ids + [0] * (CONTEXT - len(ids)) != case['ids']:
                sys.exit(f"the reference disagrees with OpenAI's tokenizer on {case['text']!r}")
    rng = random.Random(20261202)
    cases = []
    for _ in range(800):
        text = random_text(rng)
        cases.append({'text': text, 'ids': ref.encode(text)})
    note = ('Differential fuzz corpus from tools/make-bpe-fuzz.py: an independent Python implementation of '
            "clip/simple_tokenizer.py (regex module, str.lower, html.unescape; ftfy as identity) with open_clip's "
            f'truncation; ids until the last <|endoftext|>, the 0 padding to {CONTEXT} left out. regex {regex.__version__}, '
            f'Python {sys.version.split()[0]}.')
    with open(OUT, 'w', encoding='utf-8') as f:
        json.dump({'note': note, 'cases': cases}, f, ensure_ascii=False, indent=0)
        f.write('\n')
    print(f'wrote {OUT}: {len(cases)} cases')


if __name__ == '__main__':
    main()
