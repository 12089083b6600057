// The text tower: against the PyTorch fixture (OpenVision's own CLIP, float64), the float64 CPU
// reference checked against the same fixture, then the reference on random configs (head dims 64
// and 72, both GELUs, batch > 1, another context length).
import { describe, expect, it } from 'vitest';
import { textConfigFromOpenClip, type TextConfig } from '../../src/model/config.js';
import { randomTextTensors } from '../../src/model/random.js';
import { TextTransformer } from '../../src/model/text.js';
import { compare, readExpected } from '../../src/model/verify.js';
import { memoryCheckpoint } from '../../src/weights/checkpoint.js';
import { openCheckpoint } from '../../src/weights/index.js';
import { ClipsTokenizer } from '../../src/text/tokenizer.js';
import { textRef } from '../../reference/text.js';
import { fixture } from '../helpers/fixtures.js';
import { testDevice, trackBuffers } from '../helpers/gpu.js';
import { readFileSync } from 'node:fs';

const CASE = 'ov1-clip-ti16-224-t2';
const cfgJson = () => JSON.parse(readFileSync(fixture(`${CASE}.open_clip_config.json`), 'utf8'));

async function fixtureData() {
  const exp = await readExpected(fixture(`${CASE}.expected.safetensors`));
  const ids = await exp.ckpt.readInt32!('text_ids');
  const read = (k: string) => exp.ckpt.read(k);
  return {
    exp,
    ids,
    block0: await read('text_block0'),
    embedding: await read('text_embedding'),
    meta: exp.meta as { texts: string[] },
  };
}

// OpenAI's layout (OpenAI's own clip/model.py, float32): causal mask, QuickGELU, pooling at the
// <|endoftext|> token, context 77, eps 1e-5. The ids come from the file (OpenAI's BPE tokenizer is
// another item of issue 29).
const OAI = 'oai-clip-b16-64-t1';
/** float64 reference vs PyTorch in float32 (one block, K ≤ 256 terms, values ≲ 10): ≲ 256·2⁻²⁴·10 ≈ 1.5e-4 worst case, ~1e-6 in practice; 1e-4 is far below a layout error (≥ 1e-2). */
const F32_PYTORCH_MAX_ABS = 1e-4;
describe("text tower in OpenAI's layout", () => {
  it('reads its config as such and matches PyTorch: text_block0 and text_embedding from the fixture ids', async () => {
    const exp = await readExpected(fixture(`${OAI}.expected.safetensors`));
    const ids = await exp.ckpt.readInt32!('text_ids');
    const m = await TextTransformer.load(await testDevice(), {
      weights: fixture(`${OAI}.safetensors`),
      config: fixture(`${OAI}.open_clip_config.json`),
    });
    try {
      expect(m.config).toMatchObject({
        contextLength: 77,
        vocabSize: 49408,
        act: 'quick_gelu',
        causal: true,
        pool: 'argmax',
        eps: 1e-5,
      });
      const out = await m.forward(ids, 8, { outputs: ['block0', 'embedding'], maxBatch: 5 });
      expect(out.chunks).toEqual([5, 3]); // the second chunk's rows are offset (eot_rows per chunk)
      for (const [k, want] of [
        ['block0', await exp.ckpt.read('text_block0')],
        ['embedding', await exp.ckpt.read('text_embedding')],
      ] as const) {
        const c = compare(k, out[k]!, want);
        expect(c.pass, `${k}: max abs ${c.maxAbs}, cosine ${c.cosine}`).toBe(true);
      }
    } finally {
      m.destroy();
    }
  });

  it('the float64 reference matches PyTorch on the fixture', async () => {
    const exp = await readExpected(fixture(`${OAI}.expected.safetensors`));
    const ids = await exp.ckpt.readInt32!('text_ids');
    const t = textConfigFromOpenClip(JSON.parse(readFileSync(fixture(`${OAI}.open_clip_config.json`), 'utf8')))!;
    const ck = await openCheckpoint(fixture(`${OAI}.safetensors`));
    const w = new Map<string, Float32Array>();
    for (const [k, s] of ck.tensors) if (!k.startsWith('visual.') && s.shape.length > 0) w.set(k, await ck.read(k));
    const ref = textRef(t, w, ids, 8);
    for (const k of ['block0', 'embedding'] as const)
      expect(compare(k, Float32Array.from(ref[k]), await exp.ckpt.read(`text_${k}`)).maxAbs).toBeLessThan(
        F32_PYTORCH_MAX_ABS,
      );
  });
});

describe('text tower', () => {
  it("the tokenizer gives the fixture's text_ids for its texts", async () => {
    const { ids, meta } = await fixtureData();
    expect(Array.from((await ClipsTokenizer.default()).encodeBatch(meta.texts))).toEqual(Array.from(ids));
  });

  it('matches PyTorch: text_block0 and text_embedding (.bin with both towers)', async () => {
    const { ids, block0, embedding } = await fixtureData();
    const device = await testDevice();
    const track = trackBuffers(device);
    try {
      const m = await TextTransformer.load(device, {
        weights: fixture(`${CASE}.bin`),
        config: fixture(`${CASE}.open_clip_config.json`),
      });
      expect(m.config).toMatchObject({
        width: 64,
        heads: 1,
        layers: 2,
        mlpWidth: 256,
        contextLength: 80,
        vocabSize: 32000,
        act: 'gelu_tanh',
        eps: 1e-6,
        embedDim: 64,
      });
      const out = await m.forward(ids, 8, { outputs: ['block0', 'embedding'], maxBatch: 3 });
      expect(out.chunks).toEqual([3, 3, 2]);
      for (const [k, want] of [
        ['block0', block0],
        ['embedding', embedding],
      ] as const) {
        const c = compare(k, out[k]!, want);
        expect(c.pass, `${k}: max abs ${c.maxAbs}, cosine ${c.cosine}`).toBe(true);
      }
      m.destroy();
      await new Promise((r) => setTimeout(r, 0));
      expect(track.live()).toBe(0);
    } finally {
      track.stop();
    }
  });

  it('the float64 reference matches PyTorch on the fixture', async () => {
    const { ids, block0, embedding } = await fixtureData();
    const t = textConfigFromOpenClip(cfgJson())!;
    const ck = await openCheckpoint(fixture(`${CASE}.bin`));
    const w = new Map<string, Float32Array>();
    for (const [k, s] of ck.tensors) if (!k.startsWith('visual.') && s.shape.length > 0) w.set(k, await ck.read(k));
    const ref = textRef(t, w, ids, 8);
    expect(compare('block0', Float32Array.from(ref.block0), block0).maxAbs).toBeLessThan(1e-5);
    expect(compare('embedding', Float32Array.from(ref.embedding), embedding).maxAbs).toBeLessThan(1e-5);
  });

  const configs: [string, TextConfig][] = [
    [
      'width 128, 2 heads × 64, tanh GELU, 2 blocks',
      {
        contextLength: 80,
        vocabSize: 1000,
        width: 128,
        heads: 2,
        layers: 2,
        mlpWidth: 512,
        eps: 1e-6,
        act: 'gelu_tanh',
        embedDim: 96,
      },
    ],
    [
      'width 144, 2 heads × 72, erf GELU',
      {
        contextLength: 80,
        vocabSize: 500,
        width: 144,
        heads: 2,
        layers: 1,
        mlpWidth: 538,
        eps: 1e-5,
        act: 'gelu',
        embedDim: 144,
      },
    ],
    [
      "OpenAI's layout: causal, <|endoftext|> (argmax) pooling, QuickGELU, width 128, 2 heads × 64, context 77",
      {
        contextLength: 77,
        vocabSize: 400,
        width: 128,
        heads: 2,
        layers: 2,
        mlpWidth: 512,
        eps: 1e-5,
        act: 'quick_gelu',
        embedDim: 64,
        causal: true,
        pool: 'argmax',
      },
    ],
    [
      'width 72, 1 head × 72, context 17',
      {
        contextLength: 17,
        vocabSize: 300,
        width: 72,
        heads: 1,
        layers: 1,
        mlpWidth: 288,
        eps: 1e-6,
        act: 'gelu_tanh',
        embedDim: 40,
      },
    ],
  ];
  it.each(configs)('random weights, %s, batch 3: matches the float64 reference', async (_, t) => {
    const tensors = randomTextTensors(t, t.width + t.layers);
    const B = 3;
    const ids = Int32Array.from({ length: B * t.contextLength }, (_, i) => (i * 7919 + 3) % t.vocabSize);
    // argmax pooling: each text's largest id at its own place (first, middle, last; once twice: the first wins)
    if (t.pool === 'argmax') {
      const T = t.contextLength;
      [0, 40, T - 1].forEach((p, b) => (ids[b * T + p] = t.vocabSize - 1));
      ids[1 * T + 60] = t.vocabSize - 1;
    }
    const m = await TextTransformer.load(await testDevice(), {
      weights: memoryCheckpoint(tensors, 'random-text'),
      config: t,
    });
    try {
      const out = await m.forward(ids, B, { outputs: ['block0', 'pooled', 'embedding'] });
      const ref = textRef(t, new Map([...tensors].map(([k, v]) => [k, v.data])), ids, B);
      for (const k of ['block0', 'pooled', 'embedding'] as const) {
        const c = compare(k, out[k]!, Float32Array.from(ref[k]));
        expect(c.pass, `${k}: max abs ${c.maxAbs}, cosine ${c.cosine}`).toBe(true);
      }
    } finally {
      m.destroy();
    }
  });

  it('refuses ids outside the vocabulary, the wrong array type and unknown outputs, naming them', async () => {
    const t = configs[3]![1];
    const m = await TextTransformer.load(await testDevice(), {
      weights: memoryCheckpoint(randomTextTensors(t, 1), 'random-text'),
      config: t,
    });
    try {
      const ids = new Int32Array(17);
      ids[5] = 300;
      await expect(m.forward(ids, 1)).rejects.toThrow(
        /argument 'ids': id 300 at \[0, 5\] is outside the vocabulary \[0, 300\)/,
      );
      ids[5] = -1;
      await expect(m.forward(ids, 1)).rejects.toThrow(/id -1 at \[0, 5\]/);
      await expect(m.forward(new Float32Array(17) as never, 1)).rejects.toThrow(
        /argument 'ids': must be an Int32Array or Uint32Array \[count, 17\]/,
      );
      await expect(m.forward(new Int32Array(17), 1, { outputs: ['tokens' as never] })).rejects.toThrow(
        /argument 'outputs': unknown output "tokens"/,
      );
    } finally {
      m.destroy();
    }
  });
});
