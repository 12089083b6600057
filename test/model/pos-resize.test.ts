// Learned position tables at another resolution: open_clip's resize_pos_embed (class row kept, the
// grid by torch's antialiased bicubic, align_corners=False) against PyTorch's own values
// (tools/make-pos-resize-fixture.py), then a model with a learned table run at other resolutions
// against the float64 reference forward with the resampled table.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { antialiasedBicubicWeights, resizeGridBicubicAA, resizePosEmbed } from '../../src/model/pos-resize.js';
import { VisionTransformer } from '../../src/model/vit.js';
import { compare } from '../../src/model/verify.js';
import { memoryCheckpoint } from '../../src/weights/checkpoint.js';
import { vitRef } from '../../reference/vit.js';
import { fixture } from '../helpers/fixtures.js';
import { rng, testDevice } from '../helpers/gpu.js';
import { randomWeights, TINY_VIT } from '../helpers/random-vit.js';

const { cases } = JSON.parse(readFileSync(fixture('pos-resize.expected.json'), 'utf8')) as {
  cases: { grid: number; newGrid: number; channels: number; table: number[]; expected: number[] }[];
};
/**
 * Float64 against PyTorch's float64: each output sums ≤ 2·(4·24/7 + 1) ≈ 30 products per axis of
 * values |x| ≤ 10, in another order than PyTorch's: rounding ≤ 2 · 30 · 10 · 2⁻⁵³ ≈ 7e-14; 1e-12 leaves room.
 */
const FLOAT64_TOL = 1e-12;
/** The float32 table resizePosEmbed returns: one rounding of values |x| ≤ 16, half an ulp ≤ 2⁻²⁰ ≈ 9.5e-7. */
const FLOAT32_TOL = 2 ** -20;

describe("open_clip's resize_pos_embed", () => {
  it.each(cases.map((c) => [c.grid, c.newGrid, c] as const))('%i² → %i² equals PyTorch (float64)', (g, h, c) => {
    const C = c.channels;
    const grid = resizeGridBicubicAA(c.table.slice(C), C, g, g, h, h);
    let worst = 0;
    for (let i = 0; i < grid.length; i++) worst = Math.max(worst, Math.abs(grid[i]! - c.expected[C + i]!));
    expect(worst).toBeLessThanOrEqual(FLOAT64_TOL);
    const table = resizePosEmbed(Float32Array.from(c.table), C, g, h);
    expect(Array.from(table.subarray(0, C))).toEqual(Array.from(Float32Array.from(c.table.slice(0, C)))); // class row kept
    let worst32 = 0;
    for (let i = 0; i < table.length; i++) worst32 = Math.max(worst32, Math.abs(table[i]! - c.expected[i]!));
    // the float32 input's rounding passes through weights summing to 1: the same bound again
    expect(worst32).toBeLessThanOrEqual(2 * FLOAT32_TOL);
  });

  it('weights: normalised, the Keys cubic with a = −0.5, wider when shrinking', () => {
    for (const [n, m] of [
      [4, 6],
      [24, 7],
      [7, 5],
    ] as const)
      for (const { weights } of antialiasedBicubicWeights(n, m))
        expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
    // upsampling 2× in the interior: the a = −0.5 kernel at distances 1.25, 0.25, 0.75, 1.75
    const w = antialiasedBicubicWeights(8, 16)[7]!;
    expect(w.start).toBe(2);
    expect(w.weights).toEqual([-0.0703125, 0.8671875, 0.2265625, -0.0234375]);
    expect(antialiasedBicubicWeights(24, 7)[3]!.weights.length).toBeGreaterThan(8); // support 2·24/7
  });

  it('refuses a table of the wrong size, naming the shapes', () => {
    expect(() => resizePosEmbed(new Float32Array(10), 3, 2, 3)).toThrow(
      /position table has 10 values; \[1 \+ 2², 3\] needs 15/,
    );
  });
});

describe('a learned position table at another resolution', () => {
  it('runs at 24 and 48 px (grid 4² → 3², 6²) as the float64 reference with the resampled table', async () => {
    // 32 px, patch 8: a 4×4 grid; OpenAI's vision layout (ln_pre, class-token pooling, ln_post on every token)
    const cfg = { ...TINY_VIT, lnPre: true, pool: 'tok' as const, finalLnAfterPool: false };
    const weights = randomWeights(cfg, 4321);
    const pos = weights.get('positional_embedding')!;
    weights.set('positional_embedding', { shape: pos.shape, data: rng(5).normals(pos.data.length, 0.5) });
    const model = await VisionTransformer.load(await testDevice(), {
      weights: memoryCheckpoint(weights, 'learned-pos'),
      config: cfg,
    });
    try {
      expect(model.positionTableError).toBeGreaterThan(0.1); // not the sin-cos formula: resampled, not recomputed
      for (const S of [24, 48]) {
        const B = 2,
          image = rng(S).normals(B * 3 * S * S);
        const out = await model.forward(image, B, { resolution: S, outputs: ['tokens', 'pooled', 'embedding'] });
        const w = new Map([...weights].map(([k, v]) => [k, v.data]));
        w.set('positional_embedding', resizePosEmbed(w.get('positional_embedding')!, cfg.width, 4, S / cfg.patchSize));
        const ref = vitRef(cfg, w, image, B, S);
        for (const k of ['tokens', 'pooled', 'embedding'] as const) {
          const c = compare(k, out[k]!, Float32Array.from(ref[k]));
          expect(c.pass, `${S} px ${k}: max abs ${c.maxAbs}, cosine ${c.cosine}`).toBe(true);
        }
      }
    } finally {
      model.destroy();
    }
  });
});
