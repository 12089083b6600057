// Seeded random weights in the OpenVision checkpoint layout, for benchmarks and tests that need a
// model of a given shape without a download: LayerNorm scales ~1±0.2, every bias non-zero, linear
// weights ~N(0, 1/fan_in), the fixed sin-cos position table.
import { elementCount } from '../shape.js';
import { posembSincos2d } from '../kernels/posemb-sincos.js';
import { memoryCheckpoint, type Checkpoint } from '../weights/checkpoint.js';
import type { TextConfig, ViTConfig } from './config.js';
import { expectedKeys, expectedTextKeys } from './parameters.js';

/** mulberry32: a seeded uniform generator on [0, 1), reproducible across runs and machines. */
export function seededUniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples by Box–Muller over `seededUniform`. */
export function seededNormal(seed: number): () => number {
  const uniform = seededUniform(seed);
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** Seeded random text-tower weights (top-level OpenVision 1 keys): the same statistics as the vision ones. */
export function randomTextTensors(t: TextConfig, seed: number): Map<string, { shape: number[]; data: Float32Array }> {
  return randomFor(expectedTextKeys(t), seed, (k) =>
    k === 'positional_embedding' ? 0.1 : k === 'token_embedding.weight' ? 0.5 : null,
  );
}

export function randomTensors(c: ViTConfig, seed: number): Map<string, { shape: number[]; data: Float32Array }> {
  return randomFor(expectedKeys(c), seed, (k) =>
    k === 'positional_embedding' ? posembSincos2d(c.imageSize / c.patchSize, c.width) : null,
  );
}

/** LayerNorm scales ~1±0.2, biases ~N(0, 0.05), linear weights ~N(0, 1/fan_in); `special` gives a key's data or a std. */
function randomFor(
  keys: Map<string, number[]>,
  seed: number,
  special: (key: string) => Float32Array | number | null,
): Map<string, { shape: number[]; data: Float32Array }> {
  const normal = seededNormal(seed);
  const normals = (n: number, std: number, mean = 0) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = mean + std * normal();
    return a;
  };
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, shape] of keys) {
    const n = elementCount(shape);
    const sp = special(k);
    let data: Float32Array;
    if (sp instanceof Float32Array) data = sp;
    else if (typeof sp === 'number') data = normals(n, sp);
    else if (/ln_(\d|pre|post|final)\.weight/.test(k)) data = normals(n, 0.2, 1);
    else if (k.endsWith('bias') || k === 'class_embedding') data = normals(n, 0.05);
    else
      data = normals(
        n,
        1 / Math.sqrt(k === 'proj' || k === 'text_projection' ? shape[0]! : elementCount(shape.slice(1))),
      );
    out.set(k, { shape, data });
  }
  return out;
}

export function randomCheckpoint(c: ViTConfig, seed: number, name = 'random'): Checkpoint {
  return memoryCheckpoint(randomTensors(c, seed), name);
}
