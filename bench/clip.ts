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
import type { AltResult } from './report.js';
import { implementationOf, type Implementation } from './row-session.js';
import {
  alternate,
  asError,
  compareSamples,
  measure,
  ratioCell,
  statsCell,
  summary,
  type TimingOptions,
  type TimingStats,
} from './stats.js';

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
  /** The implementation it ran on (text rows). */
  implementation?: string;
  /** The same row on the other implementations (--runtime both; text rows). */
  alt?: AltResult[];
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

/** A text-tower row: the fixture's tower (checked against PyTorch) or OpenVision-B's shape (random weights, 2 blocks). */
export interface TextRowSpec {
  which: 'fixture' | 'b';
  batch: number;
}

/** The text rows of the default benchmark, in order. */
export const TEXT_ROWS: readonly TextRowSpec[] = [
  { which: 'fixture', batch: 1 },
  { which: 'fixture', batch: 32 },
  { which: 'b', batch: 1 },
  { which: 'b', batch: 32 },
];

export const textRowLabel = (spec: TextRowSpec): string =>
  spec.which === 'fixture' ? `${FIXTURE} text (fixture)` : 'b text tower (2 of 12 blocks)';

/** A text row on one device, in steps (as bench/row-session.ts for the model rows): open → time (per round) → finish. */
export interface TextSession {
  readonly implementation: Implementation;
  readonly firstRunMs: number;
  time(opts: TimingOptions): Promise<TimingStats>;
  /** The check against the row's reference; closes the session. */
  finish(): Promise<{ reference: string; comparison: Comparison }>;
  close(): void;
}

/** The fixture's text inputs and outputs (read once per process). */
let fixtureData: Promise<{ ids: Int32Array; embedding: Float32Array }> | null = null;
const fixtureText = () =>
  (fixtureData ??= (async () => {
    const exp = await readExpected(fixture(`${FIXTURE}.expected.safetensors`));
    return { ids: await exp.ckpt.readInt32!('text_ids'), embedding: await exp.ckpt.read('text_embedding') };
  })());

export async function openTextSession(spec: TextRowSpec, o: { flags: string[]; warmup: number }): Promise<TextSession> {
  const { ids: fixtureIds, embedding: fixtureEmb } = await fixtureText();
  const info = await requestDevice({ dawnFlags: o.flags });
  const { device } = info;
  let m: TextTransformer | null = null;
  const close = () => {
    m?.destroy();
    m = null;
    device.destroy();
  };
  try {
    const cfg = B_TEXT(2);
    const tensors = spec.which === 'b' ? randomTextTensors(cfg, 512) : null;
    const model = (m =
      spec.which === 'fixture'
        ? await TextTransformer.load(device, {
            weights: fixture(`${FIXTURE}.bin`),
            config: fixture(`${FIXTURE}.open_clip_config.json`),
          })
        : await TextTransformer.load(device, { weights: memoryCheckpoint(tensors!, 'random-b-text'), config: cfg }));
    const T = model.config.contextLength;
    const ids = Int32Array.from(
      { length: spec.batch * T },
      (_, i) => fixtureIds[i % fixtureIds.length]! % model.config.vocabSize,
    );
    const call = () => model.forward(ids, spec.batch);
    const t0 = performance.now();
    await call();
    const firstRunMs = performance.now() - t0;
    for (let i = 0; i < o.warmup; i++) await call();
    return {
      implementation: implementationOf(info),
      firstRunMs,
      time: (opts) => measure(textRowLabel(spec), call, opts),
      async finish() {
        try {
          if (spec.which === 'fixture')
            // The fixture's tower, checked against PyTorch's text_embedding of its 8 texts.
            return {
              reference: 'PyTorch fixture, 8 texts',
              comparison: compare('embedding', (await model.forward(fixtureIds, 8)).embedding!, fixtureEmb),
            };
          // OpenVision-B's shape against the float64 reference on text 0.
          const one = fixtureIds.subarray(0, 80);
          const ref = textRef(cfg, new Map([...tensors!].map(([k, v]) => [k, v.data])), one, 1);
          return {
            reference: 'CPU float64, text 0',
            comparison: compare(
              'embedding',
              (await model.forward(one, 1)).embedding!,
              Float32Array.from(ref.embedding),
            ),
          };
        } finally {
          close();
        }
      },
      close,
    };
  } catch (e) {
    close();
    throw e;
  }
}

/**
 * The text rows and the zero-shot row. `open` opens a text row on one implementation (the first is
 * this process's; bench/run.ts opens the others through their row servers): with more than one, the
 * rows are timed in alternating rounds and each implementation is checked on its own, as the model
 * rows are. The zero-shot row (image files, decoding) runs on this process's implementation only.
 */
export async function runClipRows(
  timing: TimingOptions,
  warmup: number,
  flags: string[],
  others: { name: string; open: (spec: TextRowSpec) => Promise<TextSession> }[] = [],
): Promise<ClipRowResult[]> {
  const out: ClipRowResult[] = [];
  const exp = await readExpected(fixture(`${FIXTURE}.expected.safetensors`));
  const meta = exp.meta as unknown as { texts: string[]; labels: string[]; template: string; images: string[] };
  const probs = await exp.ckpt.read('probs');
  const rounds = others.length ? 3 : 1;
  for (const spec of TEXT_ROWS) {
    const label = textRowLabel(spec);
    const opens = [() => openTextSession(spec, { flags, warmup }), ...others.map((x) => () => x.open(spec))];
    const sessions: (TextSession | Error)[] = [];
    for (const open of opens) sessions.push(await open().catch((e: unknown) => asError(e)));
    try {
      const stats = await alternate(sessions, timing, rounds);
      const checks: ({ reference: string; comparison: Comparison } | Error)[] = [];
      for (const [j, s] of sessions.entries()) {
        const st = stats[j]!;
        if (s instanceof Error) checks.push(s);
        else if (st instanceof Error) {
          s.close();
          checks.push(st);
        } else checks.push(await s.finish().catch((e: unknown) => asError(e)));
      }
      const [s0, st0, c0] = [sessions[0]!, stats[0]!, checks[0]!];
      if (s0 instanceof Error) throw s0;
      if (st0 instanceof Error) throw st0;
      if (c0 instanceof Error) throw c0;
      const row: ClipRowResult = {
        label,
        kind: 'text tower',
        batch: spec.batch,
        perSec: (spec.batch * 1000) / st0.mean,
        msPerCall: st0.mean,
        timing: summary(st0),
        firstRunMs: s0.firstRunMs,
        implementation: s0.implementation.name,
        ...c0,
        ok: c0.comparison.pass,
      };
      if (others.length)
        row.alt = others.map((x, k): AltResult => {
          const [s, st, c] = [sessions[k + 1]!, stats[k + 1]!, checks[k + 1]!];
          const name = s instanceof Error ? x.name : s.implementation.name;
          const err = [s, st, c].find((v): v is Error => v instanceof Error);
          if (err) return { runtime: x.name, implementation: name, error: err.message.split('\n')[0]!.slice(0, 300) };
          const sj = st as TimingStats,
            cj = c as { comparison: Comparison };
          return {
            runtime: x.name,
            implementation: name,
            imagesPerSec: (spec.batch * 1000) / sj.mean,
            timing: summary(sj),
            maxAbs: cj.comparison.maxAbs,
            ok: cj.comparison.pass,
            ratio: ratioCell(st0, sj),
            significant: compareSamples(st0, sj) !== 0,
          };
        });
      out.push(row);
    } catch (e) {
      for (const s of sessions) if (!(s instanceof Error)) s.close();
      out.push({ label, kind: 'text tower', batch: spec.batch, error: (e as Error).message } as ClipRowResult);
    }
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
  const alts = (r.alt ?? []).map((a) =>
    a.error
      ? `\n    on ${a.implementation}: cannot run: ${a.error}`
      : `\n    on ${a.implementation}: ${a.imagesPerSec!.toFixed(2)} texts/s ±${a.timing!.rme.toFixed(1)}%${a.timing!.noisy ? ' noisy' : ''}, ${r.implementation?.split(' ')[0] ?? 'row'}/this ${a.ratio}, max err ${a.maxAbs!.toExponential(1)} ${a.ok ? 'ok' : 'WRONG'}`,
  );
  const unit = r.kind === 'text tower' ? 'texts/s' : 'img/s';
  return `${`${r.label} x${r.batch}`.padEnd(48)} ${r.perSec.toFixed(2).padStart(9)} ${unit.padEnd(7)} ${r.msPerCall.toFixed(1).padStart(9)} ms/call ±${r.timing.rme.toFixed(1).padStart(4)}%${r.timing.noisy ? ' noisy' : ''}  first ${r.firstRunMs.toFixed(0).padStart(6)} ms  max err ${r.comparison.maxAbs.toExponential(1)}  ${r.ok ? 'ok' : 'WRONG'}${alts.join('')}`;
}

export function clipMarkdown(rows: ClipRowResult[]): string {
  if (!rows.length) return '';
  const altNames = [...new Set(rows.flatMap((r) => (r.alt ?? []).map((a) => a.implementation)))];
  const altCols = (r: ClipRowResult) =>
    altNames
      .map((n) => {
        const a = r.alt?.find((x) => x.implementation === n);
        if (!a) return ' — | — | — |';
        if (a.error) return ` cannot run: ${a.error.replace(/\|/g, '/')} | — | — |`;
        return ` ${a.imagesPerSec!.toFixed(2)}, ${statsCell(a.timing!)} | ${a.ratio} | ${a.maxAbs!.toExponential(1)} ${a.ok ? 'ok' : '**WRONG**'} |`;
      })
      .join('');
  const lines = [
    '',
    "Text tower and zero-shot (OpenVision 1 as CLIP): texts/s at 80 tokens; zero-shot = image files + labels → probabilities, decoding, both towers and the labels' text embeddings included.",
    '',
    `| row | batch | throughput | ms/call (±95 %, n) | first run ms | reference | max abs err | cosine | ok |${altNames.map((n) => ` ${n}: texts/s, ms/call (±95 %, n) | ×N over it | its max abs err, check |`).join('')}`,
    `|---|---|---|---|---|---|---|---|---|${altNames.map(() => '---|---|---|').join('')}`,
  ];
  for (const r of rows) {
    if (r.error) {
      lines.push(`| ${r.label} | ${r.batch} | | | | | | | ERROR: ${r.error} |`);
      continue;
    }
    lines.push(
      `| ${r.label} | ${r.batch} | ${r.perSec.toFixed(2)} ${r.kind === 'text tower' ? 'texts/s' : 'img/s'} | ${statsCell(r.timing)} | ${r.firstRunMs.toFixed(0)} | ${r.reference} | ${r.comparison.maxAbs.toExponential(1)} | ${r.comparison.cosine.toFixed(7)} | ${r.ok ? 'yes' : '**WRONG**'} |${altCols(r)}`,
    );
  }
  return lines.join('\n') + '\n';
}
