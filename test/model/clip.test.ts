// OpenVision 1 as CLIP: logits and probabilities against PyTorch (OpenVision's own CLIP class),
// zero-shot from image files and labels, prompt ensembling, and every bad input named, with
// nothing left on the GPU.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ArgumentError, CheckpointError, ConfigError } from '../../src/errors.js';
import { CLIPModel, normalizeRows } from '../../src/model/clip.js';
import { compare, readExpected } from '../../src/model/verify.js';
import { memoryCheckpoint } from '../../src/weights/checkpoint.js';
import { openCheckpoint } from '../../src/weights/index.js';
import { fixture } from '../helpers/fixtures.js';
import { testDevice, trackBuffers } from '../helpers/gpu.js';

const CASE = 'ov1-clip-ti16-224-t2';
const config = () => JSON.parse(readFileSync(fixture(`${CASE}.open_clip_config.json`), 'utf8'));
const PROBS_MAX_ABS = 1e-4; // probabilities in [0, 1]: float32 logits err ~1e-5·scale(100) → ≤ 1e-4 after softmax

async function expected() {
  const exp = await readExpected(fixture(`${CASE}.expected.safetensors`));
  const meta = exp.meta as unknown as {
    labels: string[];
    template: string;
    images: string[];
    texts: string[];
    prompts: number;
  };
  return {
    exp,
    meta,
    logits: await exp.ckpt.read('logits_per_image'),
    probs: await exp.ckpt.read('probs'),
    image: await exp.ckpt.read('image_embedding'),
  };
}
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('CLIPModel', () => {
  it('logits_per_image and probs match PyTorch; zero-shot on the image files ranks the same', async () => {
    const { exp, meta, logits, probs, image } = await expected();
    const clip = await CLIPModel.load(await testDevice(), {
      weights: fixture(`${CASE}.bin`),
      config: fixture(`${CASE}.open_clip_config.json`),
    });
    try {
      expect(Math.exp(clip.logitScale)).toBeCloseTo(100, 4);
      const img = (await clip.vision.forward(exp.input, 4, { outputs: ['embedding'] })).embedding!;
      expect(compare('embedding', img, image).pass).toBe(true);
      const txt = await clip.encodeTexts(meta.texts.slice(0, meta.prompts));
      const got = clip.logits(img, txt);
      expect(maxAbs(got, logits), 'logits max abs (scale 100)').toBeLessThan(2e-3);
      const ranked = await clip.zeroShot(
        meta.images.map((i) => fixture(`${i}.png`)),
        meta.labels,
        { template: meta.template },
      );
      expect(ranked.length).toBe(4);
      for (const [i, r] of ranked.entries()) {
        const want = meta.labels
          .map((label, j) => ({ label, score: probs[i * 5 + j]! }))
          .sort((a, b) => b.score - a.score);
        expect(r.map((x) => x.label)).toEqual(want.map((x) => x.label));
        expect(
          maxAbs(
            r.map((x) => x.score),
            want.map((x) => x.score),
          ),
        ).toBeLessThan(PROBS_MAX_ABS);
        expect(r.reduce((a, x) => a + x.score, 0)).toBeCloseTo(1, 5);
      }
    } finally {
      clip.destroy();
    }
  });

  it('prompt ensembling: the mean of normalised prompt embeddings, normalised; one template equals the plain prompt', async () => {
    const clip = await CLIPModel.load(await testDevice(), { weights: fixture(`${CASE}.bin`), config: config() });
    try {
      const E = clip.embedDim;
      const one = await clip.labelEmbeddings(['cat'], ['a photo of a {}.']);
      expect(maxAbs(one, normalizeRows(await clip.encodeTexts(['a photo of a cat.']), E))).toBeLessThan(1e-6);
      const two = await clip.labelEmbeddings(['cat'], ['a photo of a {}.', 'a drawing of a {}.']);
      const parts = normalizeRows(await clip.encodeTexts(['a photo of a cat.', 'a drawing of a cat.']), E);
      const mean = normalizeRows(
        Float32Array.from({ length: E }, (_, e) => (parts[e]! + parts[E + e]!) / 2),
        E,
      );
      expect(maxAbs(two, mean)).toBeLessThan(1e-6);
    } finally {
      clip.destroy();
    }
  });

  it('refuses empty or non-string labels and templates without {}, naming the argument', async () => {
    const clip = await CLIPModel.load(await testDevice(), { weights: fixture(`${CASE}.bin`), config: config() });
    try {
      const img = [fixture('rocket.png')];
      await expect(clip.zeroShot(img, [])).rejects.toThrow(
        /zeroShot: argument 'labels': must be a non-empty array of strings/,
      );
      await expect(clip.zeroShot(img, ['cat', 3 as never])).rejects.toThrow(
        /argument 'labels': item 1 is number, not a label/,
      );
      await expect(clip.zeroShot(img, ['cat', ' '])).rejects.toThrow(/item 1 is an empty string/);
      await expect(clip.zeroShot(img, ['cat'], { template: 'a photo' })).rejects.toThrow(
        /argument 'templates': item 0 \("a photo"\) must be a string with \{\}/,
      );
      await expect(clip.zeroShot([], ['cat'])).rejects.toThrow(/argument 'images'/);
      await expect(clip.encodeTexts([null as never])).rejects.toBeInstanceOf(ArgumentError);
    } finally {
      clip.destroy();
    }
  });
});

// OpenAI's layout (OpenAI's clip/model.py, float32): causal text tower, QuickGELU, <|endoftext|>
// pooling, OpenAI's BPE tokenizer (chosen from the config): zero-shot from the image files and the
// labels reproduces PyTorch's probabilities.
describe("CLIPModel in OpenAI's layout", () => {
  const OAI = 'oai-clip-b16-64-t1';
  it("zero-shot on the image files gives PyTorch's probabilities; the BPE ids are the file's", async () => {
    const exp = await readExpected(fixture(`${OAI}.expected.safetensors`));
    const meta = exp.meta as unknown as { labels: string[]; template: string; images: string[]; texts: string[] };
    const clip = await CLIPModel.load(await testDevice(), {
      weights: fixture(`${OAI}.safetensors`),
      config: fixture(`${OAI}.open_clip_config.json`),
    });
    try {
      expect(clip.tokenizer.kind).toBe('openai-bpe');
      expect(clip.text.config).toMatchObject({ causal: true, pool: 'argmax', act: 'quick_gelu', contextLength: 77 });
      expect(clip.vision.config.act).toBe('quick_gelu');
      expect(Array.from(clip.tokenizer.encodeBatch(meta.texts))).toEqual(
        Array.from(await exp.ckpt.readInt32!('text_ids')),
      );
      const probs = await exp.ckpt.read('probs');
      const ranked = await clip.zeroShot(
        meta.images.map((i) => fixture(`${i}.png`)),
        meta.labels,
        { template: meta.template },
      );
      for (const [i, r] of ranked.entries()) {
        const want = meta.labels
          .map((label, j) => ({ label, score: probs[i * 5 + j]! }))
          .sort((a, b) => b.score - a.score);
        expect(r.map((x) => x.label)).toEqual(want.map((x) => x.label));
        expect(
          maxAbs(
            r.map((x) => x.score),
            want.map((x) => x.score),
          ),
        ).toBeLessThan(PROBS_MAX_ABS);
      }
    } finally {
      clip.destroy();
    }
  });
});

describe('CLIPModel.load refuses what does not fit, leaving nothing on the GPU', () => {
  async function fixtureTensors() {
    const ck = await openCheckpoint(fixture(`${CASE}.bin`));
    const m = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [k, t] of ck.tensors) m.set(k, { shape: [...t.shape], data: await ck.read(k) });
    return m;
  }
  async function expectLoadError(
    opts: Parameters<typeof CLIPModel.load>[1],
    type: abstract new (...args: never[]) => Error,
    pattern: RegExp,
  ) {
    const device = await testDevice();
    const track = trackBuffers(device);
    try {
      const err = await CLIPModel.load(device, opts).then(
        () => null,
        (e) => e,
      );
      expect(err).toBeInstanceOf(type);
      expect(String(err?.message)).toMatch(pattern);
      await new Promise((r) => setTimeout(r, 0));
      expect(track.live(), 'GPU buffers left after the failed load').toBe(0);
    } finally {
      track.stop();
    }
  }

  it('a checkpoint missing a text key', async () => {
    const t = await fixtureTensors();
    t.delete('transformer.resblocks.1.mlp.c_fc.bias');
    await expectLoadError(
      { weights: memoryCheckpoint(t, 'no-text-key'), config: config() },
      CheckpointError,
      /no-text-key: key 'transformer\.resblocks\.1\.mlp\.c_fc\.bias': missing \(the config's text tower has 2 layers/,
    );
  });

  it('a text tower whose width or heads disagree with the config', async () => {
    const c = config();
    c.model_cfg.text_cfg.width = 128;
    await expectLoadError(
      { weights: fixture(`${CASE}.bin`), config: c },
      CheckpointError,
      /key 'token_embedding\.weight': shape \[32000, 64\] does not match the config's \[32000, 128\]/,
    );
    const h = config();
    h.model_cfg.text_cfg.heads = 3;
    await expectLoadError(
      { weights: fixture(`${CASE}.bin`), config: h },
      ConfigError,
      /text width 64 is not divisible by heads 3/,
    );
  });

  it('a vocabulary of the wrong size or without the CLIPS tokens', async () => {
    const big = Array.from({ length: 40000 }, (_, i) =>
      i === 0 ? '[PAD]' : i === 1 ? '[bos]' : i === 2 ? '[eos]' : i === 100 ? '[UNK]' : i === 101 ? '[CLS]' : `t${i}`,
    ).join('\n');
    await expectLoadError(
      { weights: fixture(`${CASE}.bin`), config: config(), vocab: big },
      ConfigError,
      /the vocabulary has 40000 tokens, more than the text tower's 32000 embedding rows/,
    );
    await expectLoadError(
      { weights: fixture(`${CASE}.bin`), config: config(), vocab: 'a\nb\nc\n' },
      Error,
      /vocabulary: line 1 must be \[PAD\]/,
    );
  });

  it('a vision-only checkpoint or config is named as such: OpenVision 2, or an OpenVision 1 vision tower alone', async () => {
    await expectLoadError(
      { weights: fixture('ov2-h14-224-d1.safetensors'), config: config() },
      CheckpointError,
      /ov2-h14-224-d1\.safetensors: key 'logit_scale': has no text tower and no logit_scale: a vision-only checkpoint \(OpenVision 2 style\)/,
    );
    await expectLoadError(
      { weights: fixture('ov1-ti16-224-d1.safetensors'), config: config() },
      CheckpointError,
      /a vision-only checkpoint \(an OpenVision 1 vision tower saved alone: its keys start with 'visual\.'\)/,
    );
    await expectLoadError(
      { weights: fixture('ov2-h14-224-d1.safetensors'), config: fixture('ov2-h14-224-d1.open_clip_config.json') },
      ConfigError,
      /has no model_cfg\.text_cfg: a vision-only model \(OpenVision 2, or an OpenVision 1 vision tower saved alone\) has no text tower/,
    );
  });
});
