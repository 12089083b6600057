// Comparing outputs with a reference file (NAME.expected.safetensors: `input`, `tokens`, `pooled`,
// `embedding`, optionally `block0`; `__metadata__.meta` names weights, config and resolution).
import { CheckpointError } from '../errors.js';
import { openCheckpoint } from '../weights/index.js';
import type { Checkpoint } from '../weights/checkpoint.js';
import type { WeightsInput } from '../weights/source.js';
import type { ViTOutputName } from './vit.js';

/**
 * float32 acceptance thresholds against a float64 reference. Per-kernel errors are bounded by
 * ~K·2^-24 relative (see test/reference); through 12–40 residual blocks activations of magnitude
 * ~1–10 accumulate errors of order 1e-5–1e-4, so 2e-3 absolute on tokens leaves a wide margin while
 * any indexing or formula error (O(0.1–1)) fails. Cosine 0.99999 on pooled/embedding allows a
 * relative error of ~4e-3 in norm, again far above rounding and far below a wrong model.
 */
export const TOLERANCE = {
  maxAbs: { tokens: 2e-3, block0: 2e-3, pooled: 2e-3, embedding: 2e-3 } as Record<ViTOutputName, number>,
  minCosine: 0.99999,
} as const;

export interface Comparison {
  name: string;
  maxAbs: number;
  maxRel: number;
  cosine: number;
  pass: boolean;
}

export function compare(name: ViTOutputName, got: Float32Array, want: Float32Array): Comparison {
  if (got.length !== want.length) return { name, maxAbs: Infinity, maxRel: Infinity, cosine: NaN, pass: false };
  let maxAbs = 0, maxRel = 0, dot = 0, ng = 0, nw = 0, bad = false;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (!Number.isFinite(g)) bad = true;
    const e = Math.abs(g - w);
    maxAbs = Math.max(maxAbs, e);
    maxRel = Math.max(maxRel, e / Math.max(Math.abs(w), 1e-6));
    dot += g * w; ng += g * g; nw += w * w;
  }
  const cosine = dot / Math.sqrt(ng * nw);
  const pass = !bad && maxAbs <= TOLERANCE.maxAbs[name] && cosine >= TOLERANCE.minCosine;
  return { name, maxAbs: bad ? Infinity : maxAbs, maxRel, cosine, pass };
}

export interface ExpectedFile {
  ckpt: Checkpoint;
  meta: { weights?: string; config?: string; resolution?: number; [k: string]: unknown };
  input: Float32Array;
  /** [B, 3, S, S] of `input`. */
  inputShape: number[];
  outputs: Partial<Record<ViTOutputName, { data: Float32Array; shape: number[] }>>;
}

export async function readExpected(input: WeightsInput, name?: string): Promise<ExpectedFile> {
  const ckpt = await openCheckpoint(input, name);
  let meta: ExpectedFile['meta'] = {};
  if (ckpt.metadata.meta) {
    try {
      meta = JSON.parse(ckpt.metadata.meta);
    } catch (e) {
      throw new CheckpointError(ckpt.file, `__metadata__.meta is not JSON: ${(e as Error).message}`);
    }
  }
  const inp = ckpt.tensors.get('input');
  if (!inp) throw new CheckpointError(ckpt.file, 'no input tensor', 'input');
  if (inp.shape.length !== 4 || inp.shape[1] !== 3 || inp.shape[2] !== inp.shape[3]) {
    throw new CheckpointError(ckpt.file, `expected [B, 3, S, S], got [${inp.shape.join(', ')}]`, 'input');
  }
  const outputs: ExpectedFile['outputs'] = {};
  for (const k of ['tokens', 'pooled', 'embedding', 'block0'] as const) {
    const t = ckpt.tensors.get(k);
    if (t) outputs[k] = { data: await ckpt.read(k), shape: [...t.shape] };
  }
  if (meta.resolution === undefined) meta.resolution = inp.shape[2];
  return { ckpt, meta, input: await ckpt.read('input'), inputShape: [...inp.shape], outputs };
}
