// Comparing outputs with a reference file (NAME.expected.safetensors: `input`, `tokens`, `pooled`,
// `embedding`, optionally `block0`; `__metadata__.meta` names weights, config and resolution).
import { CheckpointError } from '../errors.js';
import { openCheckpoint } from '../weights/index.js';
import type { Checkpoint } from '../weights/checkpoint.js';
import type { WeightsInput } from '../weights/source.js';
import type { ViTOutputName, VisionTransformer } from './vit.js';
import { softmaxRows, type CLIPModel } from './clip.js';
import type { ModelDType } from './dtype.js';
import type { Precision } from '../kernels/program/precision.js';

/**
 * float32 acceptance thresholds against a float64 reference. Per-kernel errors are bounded by
 * ~K·2^-24 relative (see reference/); through 12–40 residual blocks activations of magnitude
 * ~1–10 accumulate errors of order 1e-5–1e-4, so 2e-3 absolute on tokens leaves a wide margin while
 * any indexing or formula error (O(0.1–1)) fails. Cosine 0.99999 on pooled/embedding allows a
 * relative error of ~4e-3 in norm, again far above rounding and far below a wrong model.
 */
export const TOLERANCE = {
  maxAbs: { tokens: 2e-3, block0: 2e-3, pooled: 2e-3, embedding: 2e-3, hidden: 2e-3 } as Record<ViTOutputName, number>,
  minCosine: 0.99999,
} as const;

/**
 * CLIP rows of an expected file. Text-tower outputs and image embeddings take the vision bounds
 * above. logits_per_image = exp(logit_scale)·cos: a cosine off by ≤ 2e-5 (the float32 error
 * through both towers, measured ≤ 3e-6) moves a logit by ≤ 2e-5·exp(logit_scale). probs are in
 * [0, 1]; such logit errors move them by ≤ 1e-4. text_ids must be equal.
 */
export const CLIP_TOLERANCE = {
  embeddings: { maxAbs: 2e-3, minCosine: 0.99999 },
  logitsPerScale: 2e-5,
  probs: 1e-4,
} as const;

/**
 * What an fp16 or q8 model must reach against the float32 reference (PyTorch), per image or text row:
 * the cosine of its embedding-like outputs (max abs errors are reported, not judged: they scale with
 * the values). fp16 rounds each weight by ≤ 2^-11 relative (4.9e-4); the errors of a layer's K
 * products are of random sign, so outputs move by ~1e-4 relative and the cosine stays above 1 - 1e-7
 * on every fixture (measured 0.9999999): 0.99999 has two orders of margin and is the float32 bound.
 * q8 rounds by up to half a step of max|row|/127 (≤ 0.4 % of the row's largest weight): measured
 * 0.99991–0.99994 on the fixtures; 0.999 is the accuracy target of the format (issue 20), ten times
 * the measured loss. Zero-shot: the labels' ranking must not change; the probabilities' max difference
 * is reported.
 */
export const DTYPE_MIN_COSINE: Record<ModelDType, number> = { fp32: TOLERANCE.minCosine, fp16: 0.99999, q8: 0.999 };

/**
 * What a model computing in `precision` must reach against the float32 reference, per row (the
 * smaller of this and its dtype's DTYPE_MIN_COSINE applies). f16 rounds every GEMM and attention
 * operand — activations included, not only weights as fp16 does — by ≤ 2^-11 relative and sums 8
 * products in f16, so each layer's outputs move by ~1e-3 relative (errors of random sign), several
 * layers' worth of which reach the embedding: 0.9999 (issue 26's target) allows a relative error
 * of ~1.4e-2 in norm, ten times the ~1e-3 expected, and still fails any wrong kernel (O(0.1–1)).
 */
export const PRECISION_MIN_COSINE: Record<Precision, number> = { f32: TOLERANCE.minCosine, f16: 0.9999 };

/** The smallest cosine between corresponding rows of two [rows, n] arrays, and the largest |difference|. */
export function rowAgreement(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  rows: number,
): { minCosine: number; maxAbs: number } {
  const n = want.length / rows;
  let minCosine = 1,
    maxAbs = 0;
  for (let r = 0; r < rows; r++) {
    let d = 0,
      a = 0,
      b = 0;
    for (let i = r * n; i < (r + 1) * n; i++) {
      const g = got[i]!,
        w = want[i]!;
      d += g * w;
      a += g * g;
      b += w * w;
      maxAbs = Math.max(maxAbs, Number.isFinite(g) ? Math.abs(g - w) : Infinity);
    }
    const c = d / Math.sqrt(a * b);
    minCosine = Math.min(minCosine, Number.isNaN(c) ? -1 : c);
  }
  return { minCosine, maxAbs };
}

/** Whether every row of two [rows, P] score arrays orders its P labels the same way. */
export function sameRanking(got: ArrayLike<number>, want: ArrayLike<number>, P: number): boolean {
  for (let r = 0; r < want.length / P; r++) {
    const order = (a: ArrayLike<number>) =>
      Array.from({ length: P }, (_, j) => j)
        .sort((x, y) => a[r * P + y]! - a[r * P + x]!)
        .join();
    if (order(got) !== order(want)) return false;
  }
  return true;
}

export interface Comparison {
  name: string;
  maxAbs: number;
  maxRel: number;
  cosine: number;
  pass: boolean;
  /** Set when the two arrays differ in length (the shapes cannot agree). */
  lengthMismatch?: boolean;
}

/** Compares an output with its reference under the output's tolerance (or the one given). */
export function compare(
  name: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: { maxAbs: number; minCosine: number } = {
    maxAbs: TOLERANCE.maxAbs[name as ViTOutputName] ?? TOLERANCE.maxAbs.tokens,
    minCosine: TOLERANCE.minCosine,
  },
): Comparison {
  if (got.length !== want.length)
    return { name, maxAbs: Infinity, maxRel: Infinity, cosine: NaN, pass: false, lengthMismatch: true };
  let maxAbs = 0,
    maxRel = 0,
    dot = 0,
    ng = 0,
    nw = 0,
    bad = false;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!,
      w = want[i]!;
    if (!Number.isFinite(g)) bad = true;
    const e = Math.abs(g - w);
    maxAbs = Math.max(maxAbs, e);
    maxRel = Math.max(maxRel, e / Math.max(Math.abs(w), 1e-6));
    dot += g * w;
    ng += g * g;
    nw += w * w;
  }
  const cosine = dot / Math.sqrt(ng * nw);
  const pass = !bad && maxAbs <= tol.maxAbs && cosine >= tol.minCosine;
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
      meta = JSON.parse(ckpt.metadata.meta) as ExpectedFile['meta'];
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

/** The text entries an expected file may hold (OpenVision 1 CLIP fixtures). */
export const CLIP_ENTRIES = [
  'text_ids',
  'text_block0',
  'text_embedding',
  'image_embedding',
  'logits_per_image',
  'probs',
] as const;

export interface ClipRow extends Comparison {
  /** Shapes, ours and the file's, when they differ. */
  shapes?: [number[], number[]];
}

/**
 * Runs a CLIP model on an expected file's `input` and texts and compares every CLIP entry the file
 * has: text_ids (the tokenizer on `meta.texts`, exact), text_block0 / text_embedding (the text tower
 * on the file's ids), image_embedding, logits_per_image and probs (over the first `meta.prompts` texts).
 */
export async function compareClip(clip: CLIPModel, exp: ExpectedFile): Promise<ClipRow[]> {
  const { ckpt } = exp;
  const has = (k: string) => ckpt.tensors.has(k);
  const shape = (k: string) => [...ckpt.tensors.get(k)!.shape];
  const rows: ClipRow[] = [];
  const E = clip.embedDim,
    T = clip.text.config.contextLength;
  const row = (name: string, got: ArrayLike<number>, ours: number[], tol: { maxAbs: number; minCosine: number }) => {
    const want = shape(name);
    if (ours.join() !== want.join())
      return rows.push({
        name,
        maxAbs: Infinity,
        maxRel: Infinity,
        cosine: NaN,
        pass: false,
        lengthMismatch: true,
        shapes: [ours, want],
      });
    return wantData(name).then((w) => rows.push(compare(name, got, w, tol)));
  };
  const wantData = (k: string) => ckpt.read(k);
  const meta = exp.meta as { texts?: string[]; prompts?: number };
  let ids: Int32Array | null = null;
  if (has('text_ids')) {
    ids = await ckpt.readInt32!('text_ids');
    const n = shape('text_ids')[0]!;
    if (!Array.isArray(meta.texts) || meta.texts.length !== n)
      throw new CheckpointError(
        ckpt.file,
        `text_ids has ${n} rows but __metadata__.meta.texts lists ${meta.texts?.length ?? 'no'} texts`,
        'text_ids',
      );
    const mine = clip.tokenizer.encodeBatch(meta.texts);
    if (mine.length !== ids.length)
      rows.push({
        name: 'text_ids',
        maxAbs: Infinity,
        maxRel: Infinity,
        cosine: NaN,
        pass: false,
        lengthMismatch: true,
        shapes: [[n, T], shape('text_ids')],
      });
    else {
      let diff = 0;
      for (let i = 0; i < ids.length; i++) if (mine[i] !== ids[i]) diff++;
      rows.push({
        name: 'text_ids',
        maxAbs: diff,
        maxRel: diff / ids.length,
        cosine: diff ? NaN : 1,
        pass: diff === 0,
      });
    }
  }
  if (ids && (has('text_block0') || has('text_embedding'))) {
    const n = ids.length / T;
    if (Number.isInteger(n)) {
      const out = await clip.text.forward(ids, n, { outputs: ['block0', 'embedding'] });
      if (has('text_block0'))
        await row('text_block0', out.block0!, [n, T, clip.text.config.width], CLIP_TOLERANCE.embeddings);
      if (has('text_embedding')) await row('text_embedding', out.embedding!, [n, E], CLIP_TOLERANCE.embeddings);
    }
  }
  if (has('image_embedding') || has('logits_per_image') || has('probs')) {
    const B = exp.inputShape[0]!;
    const img = (await clip.vision.forward(exp.input, B, { resolution: exp.inputShape[2], outputs: ['embedding'] }))
      .embedding!;
    if (has('image_embedding')) await row('image_embedding', img, [B, E], CLIP_TOLERANCE.embeddings);
    if ((has('logits_per_image') || has('probs')) && Array.isArray(meta.texts)) {
      const P = meta.prompts ?? meta.texts.length;
      const logits = clip.logits(img, await clip.encodeTexts(meta.texts.slice(0, P)));
      const scale = Math.exp(clip.logitScale);
      if (has('logits_per_image'))
        await row('logits_per_image', logits, [B, P], {
          maxAbs: CLIP_TOLERANCE.logitsPerScale * scale,
          minCosine: TOLERANCE.minCosine,
        });
      if (has('probs'))
        await row('probs', softmaxRows(logits, P), [B, P], {
          maxAbs: CLIP_TOLERANCE.probs,
          minCosine: TOLERANCE.minCosine,
        });
    }
  }
  return rows;
}

/** How far a model in a reduced dtype is from an expected file's float32 reference (PyTorch). */
export interface DTypeAccuracy {
  dtype: ModelDType;
  /** The model's arithmetic (the `precision` load option). */
  precision: Precision;
  /** Bytes of weights on the GPU (both towers for CLIP). */
  weightBytes: number;
  /** Image embeddings: smallest per-image cosine and largest |difference|. */
  embedding: { minCosine: number; maxAbs: number };
  /** CLIP: text embeddings of the file's text ids. */
  text?: { minCosine: number; maxAbs: number };
  /** CLIP: zero-shot probabilities over the file's prompts: largest |difference|, ranking unchanged. */
  probs?: { maxAbs: number; sameRanking: boolean };
  /** Every cosine ≥ min(DTYPE_MIN_COSINE[dtype], PRECISION_MIN_COSINE[precision]) and the ranking unchanged. */
  pass: boolean;
}

/**
 * Runs `model` (a VisionTransformer or a CLIPModel, loaded in any dtype) on an expected file and
 * measures its distance to the file's float32 outputs: what `wgsl-vit verify --dtype`, the
 * benchmark's dtype table and the dtype tests report.
 */
export async function measureAccuracy(model: VisionTransformer | CLIPModel, exp: ExpectedFile): Promise<DTypeAccuracy> {
  const clip = 'vision' in model ? model : null;
  const vision = clip ? clip.vision : (model as VisionTransformer);
  const B = exp.inputShape[0]!;
  const dtype = vision.dtype;
  const img = (await vision.forward(exp.input, B, { resolution: exp.inputShape[2], outputs: ['embedding'] }))
    .embedding!;
  const wantImg = exp.outputs.embedding?.data ?? (await exp.ckpt.read('image_embedding'));
  const r: DTypeAccuracy = {
    dtype,
    precision: vision.precision,
    weightBytes: vision.weightBytes() + (clip ? clip.text.weightBytes() : 0),
    embedding: rowAgreement(img, wantImg, B),
    pass: true,
  };
  const min = Math.min(DTYPE_MIN_COSINE[dtype], PRECISION_MIN_COSINE[vision.precision]);
  r.pass = r.embedding.minCosine >= min;
  if (clip) {
    const { ckpt } = exp;
    const meta = exp.meta as { texts?: string[]; prompts?: number };
    if (ckpt.tensors.has('text_ids') && ckpt.tensors.has('text_embedding')) {
      const ids = await ckpt.readInt32!('text_ids');
      const n = ckpt.tensors.get('text_ids')!.shape[0]!;
      const txt = (await clip.text.forward(ids, n, { outputs: ['embedding'] })).embedding!;
      r.text = rowAgreement(txt, await ckpt.read('text_embedding'), n);
      r.pass &&= r.text.minCosine >= min;
    }
    if (ckpt.tensors.has('probs') && Array.isArray(meta.texts)) {
      const P = meta.prompts ?? meta.texts.length;
      const probs = softmaxRows(clip.logits(img, await clip.encodeTexts(meta.texts.slice(0, P))), P);
      const want = await ckpt.read('probs');
      r.probs = {
        maxAbs: probs.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]!)), 0),
        sameRanking: sameRanking(probs, want, P),
      };
      r.pass &&= r.probs.sameRanking;
    }
  }
  return r;
}
