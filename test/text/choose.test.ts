// Which tokenizer a checkpoint's open_clip config asks for (open_clip's get_tokenizer):
// hf_tokenizer_name 'bert-base-uncased' → CLIPS (OpenVision 1), no hf_tokenizer_name → OpenAI's BPE,
// anything else refused by name; the tokenizer built with the config's context length.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { BpeTokenizer } from '../../src/text/bpe.js';
import { tokenizerChoice, tokenizerForConfig } from '../../src/text/choose.js';
import { ClipsTokenizer, TokenizerError } from '../../src/text/tokenizer.js';
import { fixture } from '../helpers/fixtures.js';

const json = (name: string) => JSON.parse(readFileSync(fixture(name), 'utf8')) as Record<string, any>;
const OV1 = 'ov1-clip-ti16-224-t2.open_clip_config.json',
  OAI = 'oai-clip-b16-64-t1.open_clip_config.json';
const bpeCases = () =>
  (
    JSON.parse(readFileSync(fixture('openai-bpe-tokenizer.expected.json'), 'utf8')) as {
      cases: { text: string; ids: number[] }[];
    }
  ).cases;
const clipsCases = () =>
  (
    JSON.parse(readFileSync(fixture('clips-tokenizer.expected.json'), 'utf8')) as {
      cases: { text: string; ids: number[] }[];
    }
  ).cases;

describe('the tokenizer of a config', () => {
  it("OpenVision 1's config: CLIPS, 80 ids; OpenAI's layout: BPE, 77 ids", async () => {
    expect(tokenizerChoice(json(OV1))).toEqual({ kind: 'clips', contextLength: 80 });
    expect(tokenizerChoice(json(OAI))).toEqual({ kind: 'openai-bpe', contextLength: 77 });
    const clips = await tokenizerForConfig(json(OV1));
    expect(clips).toBeInstanceOf(ClipsTokenizer);
    const c = clipsCases()[0]!;
    expect(Array.from(clips.encode(c.text))).toEqual(c.ids);
    const bpe = await tokenizerForConfig(json(OAI));
    expect(bpe).toBeInstanceOf(BpeTokenizer);
    for (const b of bpeCases()) expect(Array.from(bpe.encode(b.text))).toEqual(b.ids);
  });

  it("takes open_clip's defaults: no context_length → 77; clean: 'lower' is the BPE's default", () => {
    const j = json(OAI);
    delete j.model_cfg.text_cfg.context_length;
    j.model_cfg.text_cfg.tokenizer_kwargs = { clean: 'lower' };
    expect(tokenizerChoice(j)).toEqual({ kind: 'openai-bpe', contextLength: 77 });
    j.model_cfg.text_cfg.hf_tokenizer_name = '';
    expect(tokenizerChoice(j).kind).toBe('openai-bpe');
  });

  it('a given tokenizer or vocabulary text is used, of the config kind only', async () => {
    const bpe = await BpeTokenizer.default();
    expect(await tokenizerForConfig(json(OAI), { vocab: bpe })).toBe(bpe);
    await expect(tokenizerForConfig(json(OV1), { vocab: bpe, source: 'ov1.json' })).rejects.toThrow(
      /ov1\.json: its checkpoint uses the clips tokenizer \(hf_tokenizer_name "bert-base-uncased"\), but the tokenizer given \(vocab\) is openai-bpe/,
    );
    const vocab = [
      '[PAD]',
      '[bos]',
      '[eos]',
      ...Array.from({ length: 97 }, (_, i) => `[u${i}]`),
      '[UNK]',
      '[CLS]',
      'hi',
    ];
    const small = await tokenizerForConfig(json(OV1), { vocab: vocab.join('\n'), contextLength: 6 });
    expect(Array.from(small.encode('hi'))).toEqual([1, 102, 2, 0, 0, 101]);
    await expect(tokenizerForConfig(json(OAI), { vocab: 3 as never })).rejects.toThrow(TokenizerError);
  });

  it.each([
    [
      'no text tower',
      (j: Record<string, any>) => delete j.model_cfg.text_cfg,
      /has no model_cfg\.text_cfg: a vision-only model/,
    ],
    [
      'another Hugging Face tokenizer',
      (j: Record<string, any>) => (j.model_cfg.text_cfg.hf_tokenizer_name = 'xlm-roberta-base'),
      /model_cfg\.text_cfg\.hf_tokenizer_name = "xlm-roberta-base": only "bert-base-uncased" \(OpenVision 1's CLIPS tokenizer\) is implemented/,
    ],
    [
      'another BPE cleaning',
      (j: Record<string, any>) => (j.model_cfg.text_cfg.tokenizer_kwargs = { clean: 'canonicalize' }),
      /model_cfg\.text_cfg\.tokenizer_kwargs\.clean = "canonicalize": not implemented \(the OpenAI BPE tokenizer here takes only clean: "lower"\)/,
    ],
    [
      'a bad context length',
      (j: Record<string, any>) => (j.model_cfg.text_cfg.context_length = 7.5),
      /model_cfg\.text_cfg\.context_length must be an integer ≥ 2, got 7\.5/,
    ],
  ])('refused: %s, naming the key', (_, edit, pattern) => {
    const j = json(OAI);
    edit(j);
    expect(() => tokenizerChoice(j, 'cfg.json')).toThrow(ConfigError);
    expect(() => tokenizerChoice(j, 'cfg.json')).toThrow(pattern);
  });

  it("OpenVision 1's tokenizer_kwargs (strip_sep_token: true) are accepted, others refused", () => {
    const j = json(OV1);
    expect(tokenizerChoice(j).kind).toBe('clips');
    j.model_cfg.text_cfg.tokenizer_kwargs = { strip_sep_token: false };
    expect(() => tokenizerChoice(j, 'ov1.json')).toThrow(
      /ov1\.json: model_cfg\.text_cfg\.tokenizer_kwargs\.strip_sep_token = false: not implemented \(the CLIPS tokenizer here takes only strip_sep_token: true\)/,
    );
  });
});
