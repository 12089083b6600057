// Seeded random OpenVision-layout weights (LayerNorm scales ~1±0.2, every bias non-zero), as the
// shared fixtures are made, for models of any config.
import { expectedKeys } from '../../src/model/weights.js';
import { posembSincos2d } from '../../src/kernels/posemb-sincos.js';
import type { ViTConfig } from '../../src/model/config.js';
import { rng } from './gpu.js';

export function randomWeights(c: ViTConfig, seed: number): Map<string, { shape: number[]; data: Float32Array }> {
  const r = rng(seed);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, shape] of expectedKeys(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (k === 'positional_embedding') data = posembSincos2d(c.imageSize / c.patchSize, c.width);
    else if (/ln_\d\.weight|ln_post\.weight/.test(k)) data = r.normals(n, 0.2, 1);
    else if (k.endsWith('bias') || k === 'class_embedding') data = r.normals(n, 0.05);
    else {
      const fanIn = k === 'proj' ? shape[0]! : shape.slice(1).reduce((a, b) => a * b, 1);
      data = r.normals(n, 1 / Math.sqrt(fanIn));
    }
    out.set(k, { shape, data });
  }
  return out;
}
