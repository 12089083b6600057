// The CLIP rows of the benchmark: the text tower (texts/s at the model's 80 tokens, batch 1 and
// 32) and zero-shot end to end (image files + labels → probabilities), each checked against the
// PyTorch fixture or the float64 CPU reference (reference/text.ts) of the same weights.
import { join } from 'node:path';
import { requestDevice } from '../src/device.js';
import { CLIPModel } from '../src/model/clip.js';
import type { TextConfig } from '../src/model/config.js';
import { randomTextTensors } from '../src/model/random.js';
import { TextTransformer } from '../src/model/text.js';
import { compare, readExpected, type Comparison } from '../src/model/verify.js';
import { memoryCheckpoint } from '../src/weights/checkpoint.js';
import { textRef } from '../reference/text.js';
import { ROOT } from './env.js';
import { measure, statsCell, summary, type TimingOptions, type TimingStats } from './stats.js';

export interface ClipRowResult {
  label: string;
  kind: 'text tower' | 'zero-shot';
  batch: number;
  /** texts/s (text tower) or images/s (zero-shot, labels' text embeddings included). */
  perSec: number;
  msPerCall: number;
  /** Benchmark.js's statistics of the call, ms. */
  timing: TimingStats;
  firstRunMs: number;
  reference: string;
  comparison: Comparison;
  ok: boolean;
  error?: string;
}

const FIXTURE = 'ov1-clip-ti16-224-t2';
const fixture = (f: string) => join(ROOT, 'test', 'fixtures', f);

/** The first call's latency, then `warmup` calls, then Benchmark.js's statistics of the call (bench/stats.ts). */
async function timed(
  label: string,
  timing: TimingOptions,
  warmup: number,
  call: () => Promise<unknown>,
): Promise<{ first: number; stats: TimingStats }> {
  const t = performance.now();
  await call();
  const first = performance.now() - t;
  for (let i = 0; i < warmup; i++) await call();
  return { first, stats: await measure(label, call, timing) };
}

/** OpenVision-B's text tower shape (width 512, 8 heads × 64, MLP 2048, 80 tokens), random weights, first `layers` blocks. */
const B_TEXT = (layers: number): TextConfig => ({
  contextLength: 80,
  vocabSize: 32000,
  width: 512,
  heads: 8,
  layers,
  mlpWidth: 2048,
  eps: 1e-6,
  act: 'gelu_tanh',
  embedDim: 512,
});

export async function runClipRows(timing: TimingOptions, warmup: number, flags: string[]): Promise<ClipRowResult[]> {
  const out: ClipRowResult[] = [];
  const exp = await readExpected(fixture(`${FIXTURE}.expected.safetensors`));
  const meta = exp.meta as unknown as { texts: string[]; labels: string[]; template: string; images: string[] };
  const fixtureIds = await exp.ckpt.readInt32!('text_ids');
  const fixtureEmb = await exp.ckpt.read('text_embedding');
  const probs = await exp.ckpt.read('probs');

  const textRow = async (
    label: string,
    load: (d: GPUDevice) => Promise<TextTransformer>,
    batch: number,
    check: (m: TextTransformer) => Promise<[string, Comparison]>,
  ) => {
    const { device } = await requestDevice({ dawnFlags: flags });
    try {
      const m = await load(device);
      const T = m.config.contextLength;
      const ids = Int32Array.from(
        { length: batch * T },
        (_, i) => fixtureIds[i % fixtureIds.length]! % m.config.vocabSize,
      );
      const t = await timed(label, timing, warmup, () => m.forward(ids, batch));
      const [reference, comparison] = await check(m);
      m.destroy();
      out.push({
        label,
        kind: 'text tower',
        batch,
        perSec: (batch * 1000) / t.stats.mean,
        msPerCall: t.stats.mean,
        timing: summary(t.stats),
        firstRunMs: t.first,
        reference,
        comparison,
        ok: comparison.pass,
      });
    } catch (e) {
      out.push({ label, kind: 'text tower', batch, error: (e as Error).message } as ClipRowResult);
    } finally {
      device.destroy();
    }
  };
  // The fixture's text tower, checked against PyTorch's text_embedding of its 8 texts.
  for (const batch of [1, 32]) {
    await textRow(
      `${FIXTURE} text (fixture)`,
      (d) =>
        TextTransformer.load(d, {
          weights: fixture(`${FIXTURE}.bin`),
          config: fixture(`${FIXTURE}.open_clip_config.json`),
        }),
      batch,
      async (m) => [
        'PyTorch fixture, 8 texts',
        compare('embedding', (await m.forward(fixtureIds, 8)).embedding!, fixtureEmb),
      ],
    );
  }
  // OpenVision-B's text tower shape, 2 of 12 blocks (a CPU adapter's minutes), against the float64 reference on text 0.
  for (const batch of [1, 32]) {
    const cfg = B_TEXT(2);
    const tensors = randomTextTensors(cfg, 512);
    await textRow(
      'b text tower (2 of 12 blocks)',
      (d) => TextTransformer.load(d, { weights: memoryCheckpoint(tensors, 'random-b-text'), config: cfg }),
      batch,
      async (m) => {
        const ids = fixtureIds.subarray(0, 80);
        const ref = textRef(cfg, new Map([...tensors].map(([k, v]) => [k, v.data])), ids, 1);
        return [
          'CPU float64, text 0',
          compare('embedding', (await m.forward(ids, 1)).embedding!, Float32Array.from(ref.embedding)),
        ];
      },
    );
  }
  // Zero-shot end to end: 4 image files + 5 labels → probabilities (both towers, decoding included).
  {
    const label = `${FIXTURE} zero-shot, 4 images × 5 labels`;
    const { device } = await requestDevice({ dawnFlags: flags });
    try {
      const clip = await CLIPModel.load(device, {
        weights: fixture(`${FIXTURE}.bin`),
        config: fixture(`${FIXTURE}.open_clip_config.json`),
      });
      const images = meta.images.map((i) => fixture(`${i}.png`));
      const call = () => clip.zeroShot(images, meta.labels, { template: meta.template });
      const t = await timed(label, timing, warmup, call);
      const ranked = await call();
      const got = ranked.flatMap((r) => meta.labels.map((l) => r.find((x) => x.label === l)!.score));
      const comparison = compare('probs', Float32Array.from(got), probs, { maxAbs: 1e-4, minCosine: 0.99999 });
      clip.destroy();
      out.push({
        label,
        kind: 'zero-shot',
        batch: 4,
        perSec: (4 * 1000) / t.stats.mean,
        msPerCall: t.stats.mean,
        timing: summary(t.stats),
        firstRunMs: t.first,
        reference: 'PyTorch fixture probs',
        comparison,
        ok: comparison.pass,
      });
    } catch (e) {
      out.push({ label, kind: 'zero-shot', batch: 4, error: (e as Error).message } as ClipRowResult);
    } finally {
      device.destroy();
    }
  }
  return out;
}

export function clipTerminalRow(r: ClipRowResult): string {
  if (r.error) return `  ${r.label} x${r.batch}: ERROR ${r.error}`;
  const unit = r.kind === 'text tower' ? 'texts/s' : 'img/s';
  return `${`${r.label} x${r.batch}`.padEnd(48)} ${r.perSec.toFixed(2).padStart(9)} ${unit.padEnd(7)} ${r.msPerCall.toFixed(1).padStart(9)} ms/call ±${r.timing.rme.toFixed(1).padStart(4)}%${r.timing.noisy ? ' noisy' : ''}  first ${r.firstRunMs.toFixed(0).padStart(6)} ms  max err ${r.comparison.maxAbs.toExponential(1)}  ${r.ok ? 'ok' : 'WRONG'}`;
}

export function clipMarkdown(rows: ClipRowResult[]): string {
  if (!rows.length) return '';
  const lines = [
    '',
    "Text tower and zero-shot (OpenVision 1 as CLIP): texts/s at 80 tokens; zero-shot = image files + labels → probabilities, decoding, both towers and the labels' text embeddings included.",
    '',
    '| row | batch | throughput | ms/call (±95 %, n) | first run ms | reference | max abs err | cosine | ok |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    if (r.error) {
      lines.push(`| ${r.label} | ${r.batch} | | | | | | | ERROR: ${r.error} |`);
      continue;
    }
    lines.push(
      `| ${r.label} | ${r.batch} | ${r.perSec.toFixed(2)} ${r.kind === 'text tower' ? 'texts/s' : 'img/s'} | ${statsCell(r.timing)} | ${r.firstRunMs.toFixed(0)} | ${r.reference} | ${r.comparison.maxAbs.toExponential(1)} | ${r.comparison.cosine.toFixed(7)} | ${r.ok ? 'yes' : '**WRONG**'} |`,
    );
  }
  return lines.join('\n') + '\n';
}
