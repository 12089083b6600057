// Texture placement (src/graph/placement.ts): decided once from the kernel choices and one table of
// parameter roles.
import { describe, expect, it } from 'vitest';
import { attentionReads, gemmReads, paramRole, paramStorage, settleLayouts } from '../../src/graph/placement.js';
import { isInOutKey, isMatrixKey } from '../../src/model/dtype.js';
import { expectedKeys, expectedTextKeys } from '../../src/model/parameters.js';
import type { TextConfig, ViTConfig } from '../../src/model/config.js';

const vision = { width: 8, patchSize: 2, imageSize: 4, layers: 2, mlpWidth: 16, embedDim: 4, lnPre: true } as ViTConfig;
const text = { vocabSize: 10, width: 8, contextLength: 5, layers: 2, mlpWidth: 16, embedDim: 4 } as TextConfig;
const keys = [...expectedKeys(vision).keys(), ...expectedTextKeys(text).keys()];

describe('parameter roles and placement', () => {
  it('the matrices of both towers, as the key patterns named them before the role table', () => {
    // The two regexes this table replaced (model/dtype.ts and model/parameters.ts).
    const MATRIX =
      /(^|\.)(in_proj_weight|out_proj\.weight|c_fc\.weight|c_proj\.weight)$|^(proj|text_projection|conv1\.weight|token_embedding\.weight)$/;
    const LINEAR_WEIGHT =
      /(^|\.)(in_proj_weight|out_proj\.weight|c_fc\.weight|c_proj\.weight)$|^(proj|text_projection|conv1\.weight)$/;
    for (const k of [...keys, 'ln_post.weight', 'visual.proj', 'x.proj']) {
      expect(isMatrixKey(k), k).toBe(MATRIX.test(k));
      expect(paramStorage({ gemmVariant: 'texture' }, k), k).toBe(LINEAR_WEIGHT.test(k) ? 'texture' : 'buffer');
      expect(isInOutKey(k), k).toBe(/^(proj|text_projection)$/.test(k));
    }
    expect(paramRole('transformer.resblocks.1.attn.in_proj_weight')).toBe('linear');
    expect(paramRole('conv1.weight')).toBe('patch');
    expect(paramRole('token_embedding.weight')).toBe('embedding');
    expect(paramRole('transformer.resblocks.1.attn.in_proj_bias')).toBeNull();
  });

  it('only a texture-reading variant places tensors in textures', () => {
    for (const v of ['tiled', 'subgroup', undefined] as const) {
      expect(gemmReads({ gemmVariant: v })).toBe('buffer');
      expect(keys.every((k) => paramStorage({ gemmVariant: v }, k) === 'buffer')).toBe(true);
    }
    expect(gemmReads({ gemmVariant: 'texture' })).toBe('texture');
    expect(attentionReads({ attentionVariant: 'texture' })).toBe('texture');
    expect(attentionReads({ attentionVariant: 'subgroup' })).toBe('buffer');
  });

  it('settles the adapter’s texture variants where nothing was asked for that family', () => {
    const lavapipe = { gemmVariant: 'texture', attentionVariant: 'texture' } as const;
    expect(settleLayouts({}, lavapipe)).toEqual(lavapipe);
    expect(settleLayouts({ gemmTile: { wgX: 8, wgY: 8, bk: 32 } }, lavapipe)).toEqual({
      gemmTile: { wgX: 8, wgY: 8, bk: 32 },
      attentionVariant: 'texture',
    });
    expect(settleLayouts({ gemmVariant: 'subgroup', attentionVariant: 'tiled' }, lavapipe)).toEqual({
      gemmVariant: 'subgroup',
      attentionVariant: 'tiled',
    });
    expect(settleLayouts({}, { gemmVariant: 'tiled', attentionVariant: 'broadcast' })).toEqual({});
  });
});
