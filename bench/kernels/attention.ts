// The attention rows: each shape × each asked variant of ATTENTION_FAMILY (choose/variants.ts;
// --variants all|a,b; default the adapter's choice) this adapter can run, a buffer variant through
// attention(), a texture-reading one with qkv as a matrix texture (as a model packs or writes it).
// Each checked on 64 sampled (batch, query, head) rows against the float64 reference.
import { attention, attentionVariantFor, flashKeyRanges } from '../../src/kernels/attention.js';
import { attentionTexture } from '../../src/kernels/attention-texture.js';
import {
  ATTENTION_FAMILY,
  ATTENTION_SPECS,
  variantNames,
  variantSpec,
  type AttentionVariant,
} from '../../src/kernels/choose/variants.js';
import { uploadMatrixTexture } from '../../src/kernels/program/texture-matrix.js';
import type { Dispatch } from '../../src/kernels/program/index.js';
import { attentionRefRow } from '../../reference/attention.js';
import { LACKS, precisionMark, precisionsAsked, type Bench } from './context.js';
import type { Precision } from '../../src/kernels/program/precision.js';

/**
 * [label, B, N, heads, D, causal, gpu]. Batch 1 at 448 px (b8 1×785, b8 1×3137, h 1×1025) is where
 * 'flash' splits its keys on a GPU (too few query tiles to fill it; the row's log line says how
 * many). `gpu` rows (marked "GPU size") are skipped on CPU adapters unless --big (30 GFLOP: minutes
 * there); on those, b8 1×785 is the long-sequence batch-1 row.
 */
export const ATTENTION_SHAPES: readonly (readonly [string, number, number, number, number, boolean, boolean?])[] = [
  ['ti 1×197 3×64', 1, 197, 3, 64, false],
  ['b8 1×785 12×64', 1, 785, 12, 64, false],
  ['b8 32×785 12×64', 32, 785, 12, 64, false],
  ['b8 1×3137 12×64 (GPU size)', 1, 3137, 12, 64, false, true],
  ['h 1×1025 16×80', 1, 1025, 16, 80, false],
  ['b 32×197 12×64', 32, 197, 12, 64, false],
  ['h 1×257 16×80', 1, 257, 16, 80, false],
  ['so400m 32×257 16×72', 32, 257, 16, 72, false],
  // OpenAI's text tower (B/16, L/14: width 512, 8 heads, context 77), causal: 64 prompts
  ['oai text 64×77 8×64 causal', 64, 77, 8, 64, true],
];

/**
 * Worst |got − want| / per(want, bound) over 64 sampled (batch, query, head) rows of attentionRefRow
 * in `precision` (its bound: the f32 one, or the f16 build's).
 */
function worstSampled(
  got: Float32Array,
  qkv: Float32Array,
  B: number,
  N: number,
  heads: number,
  D: number,
  causal: boolean,
  precision: Precision,
  per: (want: number, bound: number) => number,
): number {
  const W = heads * D;
  let worst = 0;
  for (let s = 0; s < 64; s++) {
    const b = s % B,
      q = (s * 7919) % N,
      h = (s * 31) % heads;
    const r = attentionRefRow(qkv, N, W, heads, b, h, q, undefined, causal, precision);
    for (let d = 0; d < D; d++)
      worst = Math.max(worst, Math.abs(got[(b * N + q) * W + h * D + d]! - r.out[d]!) / per(r.out[d]!, r.bound[d]!));
  }
  return worst;
}

/** Worst error over 64 sampled rows: |got − want| / (|want| + 1). */
const attentionSampleError = (...a: [Float32Array, Float32Array, number, number, number, number, boolean]): number =>
  worstSampled(...a, 'f32', (want) => Math.abs(want) + 1);

/** The f16 build's sampled rows against attentionRefRow's 'f16' bound: the worst |error| / bound. */
function f16PrecisionCheck(...a: [Float32Array, Float32Array, number, number, number, number, boolean]) {
  const worst = worstSampled(...a, 'f16', (_, bound) => bound);
  return { ok: worst <= 1, text: `${worst.toFixed(2)} of the f16 bound` };
}

/** The asked variants (--variants), each known; those the adapter cannot run are skipped, and named. */
function variantsAsked(b: Bench, defaultVariant: AttentionVariant): AttentionVariant[] {
  const asked: AttentionVariant[] =
    b.flags.variants === 'all'
      ? variantNames(ATTENTION_FAMILY)
      : b.flags.variants
        ? (b.flags.variants.split(',') as AttentionVariant[])
        : [defaultVariant];
  return asked.filter((v) => {
    const spec = variantSpec(ATTENTION_FAMILY, v);
    if (!spec)
      throw new Error(`--variants: unknown variant '${v}' (have: ${variantNames(ATTENTION_FAMILY).join(', ')})`);
    const need = spec.needs.find((n) => !b.traits[n]);
    if (need) console.log(`attention ${v}: skipped, ${LACKS[need]}`);
    return !need;
  });
}

export async function attentionRows(b: Bench): Promise<void> {
  const { device } = b;
  const defaultVariant = attentionVariantFor(device);
  const variants = variantsAsked(b, defaultVariant);
  const precisions = precisionsAsked(b);
  for (const [name, B, N, heads, D, causal, gpuSize] of ATTENTION_SHAPES) {
    if (!b.want(`attention ${name}`)) continue;
    const W = heads * D;
    const pairs = causal ? (N * (N + 1)) / 2 : N * N;
    if (gpuSize && b.traits.cpu && !b.flags.big) {
      console.log(`attention ${name}: skipped on a CPU adapter (--big runs it)`);
      continue;
    }
    if (4 * B * N * 3 * W > device.limits.maxStorageBufferBindingSize) {
      console.log(`attention ${name}: skipped, over maxStorageBufferBindingSize`);
      continue;
    }
    const qv = b.data(B * N * 3 * W);
    const qkv = b.tensor([B, N, 3 * W], qv),
      out = b.tensor([B, N, W]);
    const checked = async (variant: AttentionVariant, d: Dispatch, precision: Precision = 'f32') => {
      await b.runOnce(d);
      const got = await b.read(out);
      const err = attentionSampleError(got, qv, B, N, heads, D, causal);
      const check = precision === 'f16' ? f16PrecisionCheck(got, qv, B, N, heads, D, causal) : undefined;
      const label = precisionMark(precision) + variant + (variant === defaultVariant ? '*' : '');
      if (variant === 'flash') {
        const { splits } = flashKeyRanges(device, { batch: B, tokens: N, heads, headDim: D });
        if (splits > 1) console.log(`attention ${name} flash: ${splits} key splits + attention_flash_combine`);
      }
      // FLOPs of the scores and values actually needed: N² pairs, or N(N+1)/2 with the causal mask
      await b.record(ATTENTION_SPECS[variant].row, name, label, d, err, 4 * B * heads * pairs * D, undefined, check);
    };
    for (const variant of variants) {
      const spec = ATTENTION_SPECS[variant];
      if (spec.reads === 'buffer') {
        for (const precision of variant === 'flash' ? precisions : (['f32'] as const))
          await checked(variant, attention(device, { qkv, out, heads, variant, causal, precision }), precision);
        continue;
      }
      // Reads qkv as a [B·N, 3W] matrix texture (as a model packs or writes it).
      if (B * N > device.limits.maxTextureDimension2D) {
        console.log(`${spec.row} ${name}: skipped, ${B * N} rows > maxTextureDimension2D (a model runs it in chunks)`);
        continue;
      }
      const qt = uploadMatrixTexture(device, qv, B * N, 3 * W);
      await checked(variant, attentionTexture(device, { qkv: qt, tokens: N, out, heads, causal }));
      qt.texture.destroy();
    }
    qkv.buffer.destroy();
    out.buffer.destroy();
  }
}
