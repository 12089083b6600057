// CLIPModel takes the tokenizer its config names (src/text/choose.ts): OpenVision 1's fixture with
// hf_tokenizer_name gets CLIPS; the same towers with the key removed (and a token table of OpenAI's
// 49408 rows, seeded random) get OpenAI's BPE, and encodeTexts / zeroShot run on its ids. The text
// forward is OpenVision's here (the config keeps no_causal_mask; OpenAI's layout as a whole is
// test/model/clip.test.ts's and the fixture test's).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLIPModel } from '../../src/model/clip.js';
import { BpeTokenizer } from '../../src/text/bpe.js';
import { memoryCheckpoint } from '../../src/weights/checkpoint.js';
import { openCheckpoint } from '../../src/weights/index.js';
import { fixture } from '../helpers/fixtures.js';
import { rng, testDevice } from '../helpers/gpu.js';

const CASE = 'ov1-clip-ti16-224-t2';
const config = () => JSON.parse(readFileSync(fixture(`${CASE}.open_clip_config.json`), 'utf8'));

describe('the tokenizer CLIPModel uses', () => {
  it("OpenVision 1's config: CLIPS", async () => {
    const clip = await CLIPModel.load(await testDevice(), { weights: fixture(`${CASE}.bin`), config: config() });
    expect(clip.tokenizer.kind).toBe('clips');
    expect(clip.tokenizer.contextLength).toBe(80);
    clip.destroy();
  });

  it("no hf_tokenizer_name: OpenAI's BPE, in encodeTexts and zeroShot (its truncation flagged)", async () => {
    const ck = await openCheckpoint(fixture(`${CASE}.bin`));
    const w = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [k, t] of ck.tensors) w.set(k, { shape: [...t.shape], data: await ck.read(k) });
    w.set('token_embedding.weight', { shape: [49408, 64], data: rng(11).normals(49408 * 64, 0.5) });
    const cfg = config();
    delete cfg.model_cfg.text_cfg.hf_tokenizer_name;
    delete cfg.model_cfg.text_cfg.tokenizer_kwargs;
    cfg.model_cfg.text_cfg.vocab_size = 49408;
    const clip = await CLIPModel.load(await testDevice(), { weights: memoryCheckpoint(w, 'bpe-clip'), config: cfg });
    try {
      expect(clip.tokenizer.kind).toBe('openai-bpe');
      expect(clip.tokenizer.contextLength).toBe(80); // the config's context_length
      const texts = ['a photo of a dog.', 'rock &amp; roll'];
      const bpe = await BpeTokenizer.default({ contextLength: 80 });
      const direct = await clip.text.forward(bpe.encodeBatch(texts), texts.length);
      expect(Array.from(await clip.encodeTexts(texts))).toEqual(Array.from(direct.embedding!));
      const long = Array.from({ length: 90 }, (_, i) => `w${i}`).join(' ');
      const [ranked] = await clip.zeroShot([fixture('chelsea.png')], ['cat', long]);
      expect(ranked!.map((r) => r.label).sort()).toEqual(['cat', long].sort());
      expect(ranked!.find((r) => r.label === long)!.truncated).toBe(true);
      expect(ranked!.find((r) => r.label === 'cat')!.truncated).toBeUndefined();
    } finally {
      clip.destroy();
    }
  });
});
