// The benchmark's dtype table: each row's model loaded as fp32, fp16 and q8 on one device, timed
// with Benchmark.js in alternating rounds (fp32, fp16, q8, fp32, … : an A/B in one run, so drift
// hits all alike; samples pooled per dtype, each ×N with Benchmark.js's verdict on it, bench/stats.ts),
// with its weight bytes on the GPU and its accuracy against the row's reference (the PyTorch fixture,
// or the float64 CPU reference of the same random weights); and the CLIP fixture's zero-shot per
// dtype (probabilities' max difference, ranking unchanged). A column may also name a precision
// (`fp32/f16`: fp32 weights, f16 arithmetic; the `precision` load option), judged by the smaller of
// its dtype's and its precision's cosine (DTYPE_MIN_COSINE, PRECISION_MIN_COSINE).
import { join } from 'node:path';
import { requestDevice } from '../src/device.js';
import { CLIPModel } from '../src/model/clip.js';
import type { ModelDType } from '../src/model/dtype.js';
import {
  DTYPE_MIN_COSINE,
  measureAccuracy,
  PRECISION_MIN_COSINE,
  readExpected,
  rowAgreement,
} from '../src/model/verify.js';
import { MODEL_DTYPES } from '../src/model/dtype.js';
import { PRECISIONS, type Precision } from '../src/kernels/program/precision.js';
import type { VisionTransformer } from '../src/model/vit.js';
import { ROOT } from './env.js';
import { compareSamples, measure, pooled, statsCell, summary, type TimingOptions, type TimingStats } from './stats.js';

/** Alternating rounds per dtype row (a Benchmark.js run of each dtype per round). */
export const DTYPE_ROUNDS = 3;

/** A column of the dtype table: the weights' dtype and the arithmetic (`fp32`, `fp16`, `q8`, `fp32/f16`, …). */
export interface DTypeForm {
  dtype: ModelDType;
  precision: Precision;
}

/** `fp32` (f32 arithmetic) or `fp32/f16`. */
export const formLabel = (f: DTypeForm): string => (f.precision === 'f32' ? f.dtype : `${f.dtype}/${f.precision}`);

/** The cosine a form must reach: the smaller of its dtype's and its precision's. */
export const formMinCosine = (f: DTypeForm): number =>
  Math.min(DTYPE_MIN_COSINE[f.dtype], PRECISION_MIN_COSINE[f.precision]);

/** --dtypes: a comma list of DTYPE or DTYPE/PRECISION (fp32, fp16, q8; f32, f16), or none. */
export function parseForms(flag: string, spec: string): DTypeForm[] {
  if (spec === 'none') return [];
  return spec.split(',').map((item) => {
    const [dtype, precision = 'f32', extra] = item.trim().split('/');
    if (extra !== undefined || !(MODEL_DTYPES as readonly string[]).includes(dtype!))
      throw new Error(`--${flag}: unknown dtype '${item}' (have: ${MODEL_DTYPES.join(', ')}, each optionally /f16)`);
    if (!(PRECISIONS as readonly string[]).includes(precision))
      throw new Error(`--${flag}: unknown precision '${precision}' in '${item}' (have: ${PRECISIONS.join(', ')})`);
    return { dtype: dtype as ModelDType, precision: precision as Precision };
  });
}

export interface DTypeCell {
  dtype: ModelDType;
  precision: Precision;
  /** formLabel of the two. */
  form: string;
  imagesPerSec: number;
  /** This dtype's img/s over the first dtype's, timed alternately in the same run. */
  speedup: number;
  /** Benchmark.js's statistics (pooled over the rounds), ms per call. */
  timing: TimingStats;
  /** Whether the difference from the first dtype is significant (Benchmark.js's comparison; the first: false). */
  significant: boolean;
  weightBytes: number;
  /** Against the row's reference: the embedding (or, for rows checked on block 0 only, block 0). */
  output: string;
  maxAbs: number;
  minCosine: number;
  ok: boolean;
}

export interface DTypeRow {
  label: string;
  batch: number;
  reference: string;
  cells: DTypeCell[];
  error?: string;
}

export interface DTypeClipRow {
  dtype: ModelDType;
  precision: Precision;
  form: string;
  weightBytes: number;
  imageCosine: number;
  textCosine: number;
  probsMaxAbs: number;
  sameRanking: boolean;
  ok: boolean;
}

/** What runDTypeRow needs of a benchmark row. */
export interface DTypeSubject {
  label: string;
  batch: number;
  resolution: number;
  pixels: Float32Array;
  load: (device: GPUDevice, dtype: ModelDType, kernels: undefined, precision: Precision) => Promise<VisionTransformer>;
  /** The reference of one output: its name, the number of rows compared, the values (or null). */
  reference: () => { name: 'embedding' | 'block0'; rows: number; want: Float32Array; what: string } | null;
}

export async function runDTypeRow(
  s: DTypeSubject,
  dtypes: readonly DTypeForm[],
  timing: TimingOptions,
  warmup: number,
  flags: string[],
): Promise<DTypeRow> {
  const { device } = await requestDevice({ dawnFlags: flags });
  const models: VisionTransformer[] = [];
  try {
    for (const d of dtypes) models.push(await s.load(device, d.dtype, undefined, d.precision));
    const opts = { resolution: s.resolution, outputs: ['embedding'] as const };
    for (const m of models) for (let i = 0; i <= warmup; i++) await m.forward(s.pixels, s.batch, opts);
    const parts: TimingStats[][] = dtypes.map(() => []);
    const perRound = {
      ...timing,
      minSamples: Math.ceil(timing.minSamples / DTYPE_ROUNDS),
      maxTime: timing.maxTime / DTYPE_ROUNDS,
    };
    for (let round = 0; round < DTYPE_ROUNDS; round++)
      for (const [j, m] of models.entries())
        parts[j]!.push(
          await measure(`${s.label} ${formLabel(dtypes[j]!)}`, () => m.forward(s.pixels, s.batch, opts), perRound),
        );
    const stats = parts.map(pooled);
    const ref = s.reference();
    const cells: DTypeCell[] = [];
    const base = (s.batch * 1000) / stats[0]!.mean;
    for (const [j, m] of models.entries()) {
      const ips = (s.batch * 1000) / stats[j]!.mean;
      let agreement = { minCosine: NaN, maxAbs: NaN };
      if (ref) {
        const out = await m.forward(s.pixels, s.batch, { resolution: s.resolution, outputs: [ref.name] });
        const got = out[ref.name]!.subarray(0, ref.want.length);
        agreement = rowAgreement(got, ref.want, ref.rows);
      }
      cells.push({
        ...dtypes[j]!,
        form: formLabel(dtypes[j]!),
        imagesPerSec: ips,
        speedup: ips / base,
        timing: summary(stats[j]!),
        significant: j > 0 && compareSamples(stats[j]!, stats[0]!) !== 0,
        weightBytes: m.weightBytes(),
        output: ref?.name ?? '—',
        ...agreement,
        ok: !ref || agreement.minCosine >= formMinCosine(dtypes[j]!),
      });
    }
    return { label: s.label, batch: s.batch, reference: ref?.what ?? 'none', cells };
  } finally {
    for (const m of models) m.destroy();
    device.destroy();
  }
}

/** The CLIP fixture in each dtype: image and text embeddings, zero-shot probabilities against PyTorch. */
export async function runDTypeClip(dtypes: readonly DTypeForm[], flags: string[]): Promise<DTypeClipRow[]> {
  const f = (n: string) => join(ROOT, 'test', 'fixtures', n);
  const name = 'ov1-clip-ti16-224-t2';
  const exp = await readExpected(f(`${name}.expected.safetensors`));
  const { device } = await requestDevice({ dawnFlags: flags });
  const rows: DTypeClipRow[] = [];
  try {
    for (const form of dtypes) {
      const { dtype, precision } = form;
      const clip = await CLIPModel.load(device, {
        weights: f(`${name}.bin`),
        config: f(`${name}.open_clip_config.json`),
        dtype,
        precision,
      });
      try {
        const a = await measureAccuracy(clip, exp);
        rows.push({
          dtype,
          precision,
          form: formLabel(form),
          weightBytes: a.weightBytes,
          imageCosine: a.embedding.minCosine,
          textCosine: a.text!.minCosine,
          probsMaxAbs: a.probs!.maxAbs,
          sameRanking: a.probs!.sameRanking,
          ok: a.pass,
        });
      } finally {
        clip.destroy();
      }
    }
  } finally {
    device.destroy();
  }
  return rows;
}

const mib = (b: number) => (b / 2 ** 20).toFixed(2);

export function dtypeTerminalRow(r: DTypeRow): string {
  if (r.error) return `  ${r.label}: dtype table ERROR ${r.error}`;
  return `  ${r.label.padEnd(34)} ${r.cells
    .map(
      (c) =>
        `${c.form} ${c.imagesPerSec.toFixed(2)} img/s ±${c.timing.rme.toFixed(1)}% ×${c.speedup.toFixed(2)}${c === r.cells[0] || c.significant ? '' : ' (not significant)'}${c.timing.noisy ? ' noisy' : ''} ${mib(c.weightBytes)} MiB cos ${c.minCosine.toFixed(6)}${c.ok ? '' : ' OUT OF TOLERANCE'}`,
    )
    .join(' | ')}`;
}

export function dtypeMarkdown(rows: DTypeRow[], clip: DTypeClipRow[], timing: TimingOptions): string {
  if (!rows.length && !clip.length) return '';
  const forms = rows.find((r) => !r.error)?.cells ?? [];
  const dtypes = forms.map((c) => c.form);
  const lines = [
    '',
    '## Weight dtypes',
    '',
    `Each row's model loaded as ${dtypes.join(', ')} on one device and timed with Benchmark.js in ${DTYPE_ROUNDS} alternating rounds (≥ ${timing.minSamples} samples and ~${timing.maxTime} s per dtype in all, pooled): mean ms per call ± the relative margin of error at 95 %, n samples, "noisy" past ±10 %; ×N: img/s over ${dtypes[0] ?? 'fp32'}'s in the same run, "significant" or not by Benchmark.js's comparison (Mann-Whitney U, 95 %). ` +
      `Weights: bytes on the GPU (÷N: fp32's over this). Accuracy: the smallest per-image cosine and the largest |difference| of the output against the row's reference, ` +
      `within tolerance when the cosine is ≥ ${forms.map((c) => `${formMinCosine(c)} (${c.form})`).join(', ')}` +
      ` (a /f16 column: fp32 or fp16 weights with f16 arithmetic, the \`precision\` load option; docs/precision.md).`,
    '',
    `| model | batch | reference (output) | ${dtypes.map((d) => `${d} img/s (×${dtypes[0]}) | ${d} ms/call (±95 %, n) | ${d} weights MiB (÷) | ${d} cosine / max abs`).join(' | ')} | within tolerance |`,
    `|---|---|---|${dtypes.map(() => '---|---|---|---|').join('')}---|`,
  ];
  for (const r of rows) {
    if (r.error) {
      lines.push(`| ${r.label} | ${r.batch} | ERROR: ${r.error} |`);
      continue;
    }
    const w0 = r.cells[0]!.weightBytes;
    lines.push(
      `| ${r.label} | ${r.batch} | ${r.reference} (${r.cells[0]!.output}) | ${r.cells
        .map(
          (c) =>
            `${c.imagesPerSec.toFixed(2)} (×${c.speedup.toFixed(2)}${c === r.cells[0] ? '' : c.significant ? ', significant' : ', not significant'}) | ${statsCell(c.timing)} | ${mib(c.weightBytes)} (÷${(w0 / c.weightBytes).toFixed(2)}) | ${c.minCosine.toFixed(7)} / ${c.maxAbs.toExponential(1)}`,
        )
        .join(' | ')} | ${r.cells.every((c) => c.ok) ? 'yes' : '**NO**'} |`,
    );
  }
  if (clip.length) {
    lines.push(
      '',
      'CLIP fixture (ov1-clip-ti16-224-t2, both towers) against PyTorch: smallest per-row cosine of the image and text embeddings; zero-shot probabilities over its prompts.',
      '',
      '| dtype | weights MiB | image cosine | text cosine | probs max abs diff | ranking unchanged | within tolerance |',
      '|---|---|---|---|---|---|---|',
      ...clip.map(
        (c) =>
          `| ${c.form} | ${mib(c.weightBytes)} | ${c.imageCosine.toFixed(8)} | ${c.textCosine.toFixed(8)} | ${c.probsMaxAbs.toExponential(2)} | ${c.sameRanking ? 'yes' : '**no**'} | ${c.ok ? 'yes' : '**NO**'} |`,
      ),
    );
  }
  return lines.join('\n') + '\n';
}
