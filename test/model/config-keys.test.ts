// Every open_clip vision_cfg key that changes the forward pass is honoured (checked against the
// float64 reference with the same switches) or refused with a ConfigError naming it. Absent keys
// take open_clip's defaults (no_ln_pre false, pool_type 'tok', final_ln_after_pool false, LayerNorm
// eps 1e-5), never OpenVision's silently.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import {
  architecture,
  BASELINE_PRESETS,
  configFromOpenClip,
  OPEN_CLIP_KEYS,
  PRESETS,
  presetConfig,
  presetFamily,
  textConfigFromOpenClip,
  type ViTConfig,
} from '../../src/model/config.js';
import { SUITES } from '../../bench/suites.js';
import { VisionTransformer } from '../../src/model/vit.js';
import { compare, readExpected } from '../../src/model/verify.js';
import { memoryCheckpoint } from '../../src/weights/checkpoint.js';
import { openCheckpoint } from '../../src/weights/index.js';
import { vitRef } from '../../reference/vit.js';
import { fixture } from '../helpers/fixtures.js';
import { rng, testDevice } from '../helpers/gpu.js';

const CASE = 'ov1-ti16-224-d1';
const baseJson = () => JSON.parse(readFileSync(fixture(`${CASE}.open_clip_config.json`), 'utf8'));
const withVision = (edit: (v: Record<string, unknown>) => void, root?: (j: Record<string, any>) => void) => {
  const j = baseJson();
  edit(j.model_cfg.vision_cfg);
  root?.(j);
  return j;
};

/** The fixture's weights without prefix, plus ln_pre (LayerNorm-like values) when asked for. */
async function weights(lnPre: boolean): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const ck = await openCheckpoint(fixture(`${CASE}.safetensors`));
  const m = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, t] of ck.tensors) m.set(k.replace(/^visual\./, ''), { shape: [...t.shape], data: await ck.read(k) });
  if (lnPre) {
    const r = rng(7);
    m.set('ln_pre.weight', { shape: [192], data: r.normals(192, 0.2, 1) });
    m.set('ln_pre.bias', { shape: [192], data: r.normals(192, 0.05) });
  }
  return m;
}

async function checkAgainstReference(cfg: ViTConfig) {
  const exp = await readExpected(fixture(`${CASE}.expected.safetensors`));
  const w = await weights(!!cfg.lnPre);
  const B = exp.inputShape[0]!,
    S = exp.inputShape[2]!;
  const model = await VisionTransformer.load(await testDevice(), {
    weights: memoryCheckpoint(w, 'variant'),
    config: cfg,
  });
  try {
    const out = await model.forward(exp.input, B, { outputs: ['tokens', 'pooled', 'embedding'] });
    const ref = vitRef(cfg, new Map([...w].map(([k, v]) => [k, v.data])), exp.input, B, S);
    for (const k of ['tokens', 'pooled', 'embedding'] as const) {
      const c = compare(k, out[k]!, Float32Array.from(ref[k]));
      expect(c.pass, `${k}: max abs ${c.maxAbs}, cosine ${c.cosine}`).toBe(true);
    }
    return out;
  } finally {
    model.destroy();
  }
}

describe('honoured keys (against the float64 reference)', () => {
  it("OpenVision's own values are read as such", () => {
    const c = configFromOpenClip(baseJson());
    expect([c.lnPre, c.pool, c.finalLnAfterPool, c.eps]).toEqual([false, 'avg', true, 1e-6]);
  });

  it.each([
    [
      'no_ln_pre: false (an ln_pre LayerNorm)',
      (v: Record<string, unknown>) => {
        v.no_ln_pre = false;
      },
      { lnPre: true },
    ],
    [
      "pool_type: 'tok' (pooled from the class token)",
      (v: Record<string, unknown>) => {
        v.pool_type = 'tok';
      },
      { pool: 'tok' },
    ],
    [
      'final_ln_after_pool: false (ln_post on every token, then the mean)',
      (v: Record<string, unknown>) => {
        v.final_ln_after_pool = false;
      },
      { finalLnAfterPool: false },
    ],
    [
      "pool_type 'tok' with final_ln_after_pool false",
      (v: Record<string, unknown>) => {
        v.pool_type = 'tok';
        v.final_ln_after_pool = false;
      },
      { pool: 'tok', finalLnAfterPool: false },
    ],
    [
      'norm_kwargs.eps: 1e-3',
      (v: Record<string, unknown>) => {
        v.norm_kwargs = { eps: 1e-3 };
      },
      { eps: 1e-3 },
    ],
  ] as const)('%s', async (_, edit, expected) => {
    const cfg = configFromOpenClip(withVision(edit));
    expect(cfg).toMatchObject(expected);
    await checkAgainstReference(cfg);
  });

  it("absent keys take open_clip's defaults: ln_pre, class-token pooling, ln_post first, eps 1e-5", async () => {
    const cfg = configFromOpenClip(
      withVision((v) => {
        delete v.no_ln_pre;
        delete v.pool_type;
        delete v.final_ln_after_pool;
        delete v.norm_kwargs;
      }),
    );
    expect([cfg.lnPre, cfg.pool, cfg.finalLnAfterPool, cfg.eps]).toEqual([true, 'tok', false, 1e-5]);
    await checkAgainstReference(cfg);
    // and the OpenVision checkpoint, which has no ln_pre, is refused for such a config by key
    await expect(
      VisionTransformer.load(await testDevice(), { weights: fixture(`${CASE}.safetensors`), config: cfg }),
    ).rejects.toThrow(/key 'visual\.ln_pre\.weight': missing/);
  });

  it('list-valued square image_size / patch_size equal the scalar ones', () => {
    const c = configFromOpenClip(
      withVision((v) => {
        v.image_size = [224, 224];
        v.patch_size = [16, 16];
      }),
    );
    expect([c.imageSize, c.patchSize]).toEqual([224, 16]);
  });
});

describe('refused keys (named in the error)', () => {
  it.each([
    [
      'act_kwargs (tanh GELU)',
      (v: Record<string, unknown>) => {
        v.act_kwargs = { approximate: 'tanh' };
      },
      /model_cfg\.vision_cfg\.act_kwargs = \{"approximate":"tanh"\}: only the default exact-erf GELU/,
    ],
    [
      'non-square image_size',
      (v: Record<string, unknown>) => {
        v.image_size = [224, 192];
      },
      /model_cfg\.vision_cfg\.image_size = \[224,192\]: non-square sizes are not supported/,
    ],
    [
      'non-square patch_size',
      (v: Record<string, unknown>) => {
        v.patch_size = [16, 8];
      },
      /model_cfg\.vision_cfg\.patch_size = \[16,8\]: non-square/,
    ],
    [
      "pool_type 'none'",
      (v: Record<string, unknown>) => {
        v.pool_type = 'none';
      },
      /model_cfg\.vision_cfg\.pool_type = "none": only 'avg' and 'tok'/,
    ],
    [
      'ls_init_value',
      (v: Record<string, unknown>) => {
        v.ls_init_value = 1e-5;
      },
      /model_cfg\.vision_cfg\.ls_init_value = 0\.00001: layer scale is not implemented/,
    ],
    [
      'attentional_pool',
      (v: Record<string, unknown>) => {
        v.attentional_pool = true;
      },
      /model_cfg\.vision_cfg\.attentional_pool = true/,
    ],
    [
      'qk_norm',
      (v: Record<string, unknown>) => {
        v.qk_norm = true;
      },
      /model_cfg\.vision_cfg\.qk_norm = true/,
    ],
    [
      'pos_embed_type rope',
      (v: Record<string, unknown>) => {
        v.pos_embed_type = 'rope';
      },
      /model_cfg\.vision_cfg\.pos_embed_type = "rope"/,
    ],
    [
      'norm_kwargs other than eps',
      (v: Record<string, unknown>) => {
        v.norm_kwargs = { eps: 1e-6, elementwise_affine: false };
      },
      /model_cfg\.vision_cfg\.norm_kwargs = .*only eps can be set \(LayerNorm option 'elementwise_affine'/,
    ],
    [
      'no_ln_pre not a boolean',
      (v: Record<string, unknown>) => {
        v.no_ln_pre = 'yes';
      },
      /model_cfg\.vision_cfg\.no_ln_pre must be true or false/,
    ],
  ] as const)('%s', (_, edit, pattern) => {
    const j = withVision(edit);
    expect(() => configFromOpenClip(j, 'cfg.json')).toThrow(ConfigError);
    expect(() => configFromOpenClip(j, 'cfg.json')).toThrow(pattern);
  });

  it('model_cfg.quick_gelu: QuickGELU in the vision MLPs; not a boolean is refused, naming the key', () => {
    const quick = (v: unknown) =>
      withVision(
        () => {},
        (j) => {
          j.model_cfg.quick_gelu = v;
        },
      );
    expect(configFromOpenClip(quick(true), 'cfg.json').act).toBe('quick_gelu');
    expect(configFromOpenClip(quick(false), 'cfg.json').act).toBeUndefined();
    expect(() => configFromOpenClip(quick('yes'), 'cfg.json')).toThrow(
      /cfg\.json: model_cfg\.quick_gelu must be true or false, got "yes"/,
    );
  });
});

// The text tower reads the same table (OPEN_CLIP_KEYS): the same refusals, named the same way.
const CLIP_CASE = 'ov1-clip-ti16-224-t2';
const withText = (edit: (t: Record<string, unknown>) => void, root?: (j: Record<string, any>) => void) => {
  const j = JSON.parse(readFileSync(fixture(`${CLIP_CASE}.open_clip_config.json`), 'utf8'));
  edit(j.model_cfg.text_cfg);
  root?.(j);
  return j;
};

describe('text tower keys (the same table)', () => {
  it("OpenVision's text tower is read as such; absent keys take open_clip's defaults", () => {
    expect(textConfigFromOpenClip(withText(() => {}))).toMatchObject({
      act: 'gelu_tanh',
      eps: 1e-6,
      contextLength: 80,
    });
    const d = textConfigFromOpenClip(
      withText((t) => {
        for (const k of ['act_kwargs', 'norm_kwargs', 'context_length', 'vocab_size', 'mlp_ratio']) delete t[k];
      }),
    )!;
    expect([d.act, d.eps, d.contextLength, d.vocabSize, d.mlpWidth]).toEqual(['gelu', 1e-5, 77, 49408, 4 * d.width]);
    const none = textConfigFromOpenClip(withText((t) => (t.act_kwargs = { approximate: 'none' })))!;
    expect(none.act).toBe('gelu');
  });

  it("OpenAI's layout: open_clip's defaults give a causal mask and <|endoftext|> (argmax) pooling", () => {
    const oai = textConfigFromOpenClip(
      withText((t) => {
        for (const k of ['no_causal_mask', 'pool_type', 'act_kwargs', 'norm_kwargs']) delete t[k];
      }),
    )!;
    expect([oai.causal, oai.pool, oai.act, oai.eps]).toEqual([true, 'argmax', 'gelu', 1e-5]);
    expect(textConfigFromOpenClip(withText(() => {}))).toMatchObject({ causal: false, pool: 'last' });
    expect(textConfigFromOpenClip(withText((t) => (t.no_causal_mask = false)))!.causal).toBe(true);
  });

  it.each([
    [
      'no_causal_mask not a boolean',
      (t: Record<string, unknown>) => {
        t.no_causal_mask = 'yes';
      },
      /cfg\.json: model_cfg\.text_cfg\.no_causal_mask must be true or false, got "yes"/,
    ],
    [
      "pool_type 'first'",
      (t: Record<string, unknown>) => {
        t.pool_type = 'first';
      },
      /model_cfg\.text_cfg\.pool_type = "first": only 'argmax' \(the <\|endoftext\|> token, OpenAI's\) and 'last' \(OpenVision's\) pooling are implemented/,
    ],
    [
      'proj_bias',
      (t: Record<string, unknown>) => {
        t.proj_bias = true;
      },
      /model_cfg\.text_cfg\.proj_bias = true: a text projection bias is not implemented/,
    ],
    [
      "proj_type 'mlp'",
      (t: Record<string, unknown>) => {
        t.proj_type = 'mlp';
      },
      /model_cfg\.text_cfg\.proj_type = "mlp": only the 'linear' text projection/,
    ],
    [
      'embed_cls',
      (t: Record<string, unknown>) => {
        t.embed_cls = true;
      },
      /model_cfg\.text_cfg\.embed_cls = true: a text class token is not implemented/,
    ],
    [
      'hf_model_name',
      (t: Record<string, unknown>) => {
        t.hf_model_name = 'bert-base-uncased';
      },
      /model_cfg\.text_cfg\.hf_model_name = "bert-base-uncased": Hugging Face text towers are not supported/,
    ],
    [
      'ls_init_value (as in the vision tower)',
      (t: Record<string, unknown>) => {
        t.ls_init_value = 1e-5;
      },
      /model_cfg\.text_cfg\.ls_init_value = 0\.00001: layer scale is not implemented/,
    ],
    [
      'an unknown GELU approximation',
      (t: Record<string, unknown>) => {
        t.act_kwargs = { approximate: 'sigmoid' };
      },
      /model_cfg\.text_cfg\.act_kwargs\.approximate = "sigmoid": must be 'tanh' or 'none'/,
    ],
    [
      'a GELU option other than approximate',
      (t: Record<string, unknown>) => {
        t.act_kwargs = { approximate: 'tanh', inplace: true };
      },
      /model_cfg\.text_cfg\.act_kwargs = \{"approximate":"tanh","inplace":true\}: GELU option 'inplace' is not implemented/,
    ],
    [
      'norm_kwargs other than eps (as in the vision tower)',
      (t: Record<string, unknown>) => {
        t.norm_kwargs = { eps: 1e-6, bias: false };
      },
      /model_cfg\.text_cfg\.norm_kwargs = .*only eps can be set \(LayerNorm option 'bias'/,
    ],
    [
      'a width that is not a number',
      (t: Record<string, unknown>) => {
        t.width = '64';
      },
      /model_cfg\.text_cfg\.width is missing or not a number/,
    ],
  ] as const)('refused: %s', (_, edit, pattern) => {
    const j = withText(edit);
    expect(() => textConfigFromOpenClip(j, 'cfg.json')).toThrow(ConfigError);
    expect(() => textConfigFromOpenClip(j, 'cfg.json')).toThrow(pattern);
  });

  it('model_cfg.quick_gelu sets both towers, by the one row; with text act_kwargs it is refused by name', () => {
    const j = withText(
      (t) => {
        delete t.act_kwargs;
      },
      (r) => {
        r.model_cfg.quick_gelu = true;
      },
    );
    expect(configFromOpenClip(j, 'cfg.json').act).toBe('quick_gelu');
    expect(textConfigFromOpenClip(j, 'cfg.json')!.act).toBe('quick_gelu');
    const both = withText(
      () => {},
      (r) => {
        r.model_cfg.quick_gelu = true;
      },
    );
    expect(() => textConfigFromOpenClip(both, 'cfg.json')).toThrow(
      /cfg\.json: model_cfg\.quick_gelu = true with model_cfg\.text_cfg\.act_kwargs = \{"approximate":"tanh"\}: QuickGELU takes no options/,
    );
  });

  it('the table: one row per key and tower, each honoured, defaulted or refused', () => {
    for (const tower of ['vision', 'text'] as const) {
      const keys = OPEN_CLIP_KEYS.filter((r) => r.tower === tower || r.tower === 'both').map((r) => r.key);
      expect(new Set(keys).size, tower).toBe(keys.length);
    }
    for (const r of OPEN_CLIP_KEYS) expect(r.read || r.refuse || 'default' in r, r.key).toBeTruthy();
  });
});

describe('position table at another resolution', () => {
  it('a stored table that is not the sin-cos formula runs at its own grid and is resampled for another (test/model/pos-resize.test.ts checks the values)', async () => {
    const w = await weights(false);
    w.get('positional_embedding')!.data[5 * 192 + 3]! += 0.01;
    const model = await VisionTransformer.load(await testDevice(), {
      weights: memoryCheckpoint(w, 'learned-pos'),
      config: configFromOpenClip(baseJson()),
    });
    try {
      expect(model.positionTableError).toBeCloseTo(0.01, 5);
      await model.forward(new Float32Array(3 * 224 * 224), 1, { outputs: ['pooled'] });
      const hi = await model.forward(new Float32Array(3 * 336 * 336), 1, { resolution: 336, outputs: ['pooled'] });
      expect(hi.pooled!.length).toBe(192);
      expect(hi.pooled!.every(Number.isFinite)).toBe(true);
    } finally {
      model.destroy();
    }
  });

  it("the fixtures' tables are the formula (so they are recomputed, as ov1-ti16-336-d1 checks)", async () => {
    const model = await VisionTransformer.load(await testDevice(), {
      weights: fixture(`${CASE}.safetensors`),
      config: fixture(`${CASE}.open_clip_config.json`),
    });
    expect(model.positionTableError).toBeLessThan(1e-6);
    model.destroy();
  });
});

describe('presets', () => {
  it('embed_dim matches the released OpenVision configs', () => {
    const want: Record<string, number> = {
      'ti-16': 192,
      'ti-8': 192,
      's-16': 384,
      's-8': 384,
      'b-16': 512,
      'b-8': 512,
      'l-14': 768,
      'so400m-14': 1152,
      'h-14': 1024,
    };
    for (const [k, e] of Object.entries(want)) expect(PRESETS[k]!.embedDim, k).toBe(e);
  });

  it("the CLIP baselines' shapes are OpenAI's layout (QuickGELU, ln_pre, class token, eps 1e-5), named by family", () => {
    const want: Record<string, [number, number, number, number, number, number]> = {
      // width, layers, heads, patch, resolution, embed_dim (open_clip's ViT-*-quickgelu configs)
      'openai-b-32': [768, 12, 12, 32, 224, 512],
      'openai-b-16': [768, 12, 12, 16, 224, 512],
      'openai-l-14': [1024, 24, 16, 14, 224, 768],
      'openai-l-14-336': [1024, 24, 16, 14, 336, 768],
      'dfn-h-14': [1280, 32, 16, 14, 224, 1024],
    };
    expect(Object.keys(BASELINE_PRESETS).sort()).toEqual(Object.keys(want).sort());
    for (const [k, [W, L, H, p, S, E]] of Object.entries(want)) {
      const c = presetConfig(k);
      expect([c.width, c.layers, c.heads, c.patchSize, c.imageSize, c.embedDim], k).toEqual([W, L, H, p, S, E]);
      expect(c.mlpWidth, k).toBe(4 * W);
      expect(architecture(c), k).toEqual({ lnPre: true, pool: 'tok', finalLnAfterPool: false, act: 'quick_gelu' });
      expect(c.eps, k).toBe(1e-5);
    }
    expect(presetFamily('openai-b-16')).toBe('OpenAI CLIP');
    expect(presetFamily('dfn-h-14')).toBe('DFN (OpenAI layout)');
    expect(presetFamily('b-16')).toBe('OpenVision');
    // every preset row of the benchmark's suites exists
    for (const rows of Object.values(SUITES))
      for (const r of rows)
        if (!r.model.startsWith('fixture:')) expect(() => presetConfig(r.model), r.model).not.toThrow();
  });
});
