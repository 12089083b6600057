// Formatting of benchmark rows: a terminal line per row while it runs, a Markdown table at the end.
import type { Comparison } from '../src/model/verify.js';
import { statsCell, type TimingStats } from './stats.js';

/** A row on another WebGPU implementation (--runtime both), timed in the same alternating rounds. */
export interface AltResult {
  runtime: string;
  implementation: string;
  /** Why this implementation has no figures for the row (it could not load or run it). */
  error?: string;
  imagesPerSec?: number;
  timing?: TimingStats;
  firstRunMs?: number;
  gpuMs?: number | null;
  perKernelMs?: Record<string, number>;
  /** Its worst error against the row's reference. */
  maxAbs?: number;
  ok?: boolean;
  kernels?: string;
  /** "×1.23 (significant)": the row's img/s over this implementation's, with Benchmark.js's verdict. */
  ratio?: string;
  significant?: boolean;
  /** Where the time goes apart: GPU ms of each and the kernel with the largest gap. */
  gap?: string;
  /** Its embedding against the row's. */
  agreement?: Comparison;
}

export interface RowResult {
  label: string;
  error?: string;
  /** The WebGPU implementation the row ran on (e.g. "Dawn (npm webgpu 0.6.2) in Node.js v20.20.2"). */
  implementation?: string;
  patch: number;
  resolution: number;
  batch: number;
  layers: number;
  width: number;
  msPerBatch: number;
  msMin: number;
  msMax: number;
  /** Samples Benchmark.js took. */
  iters: number;
  /** Benchmark.js's statistics of the fenced call (mean, ±95 % margin, samples), ms per batch. */
  timing?: TimingStats;
  imagesPerSec: number;
  msPerImage: number;
  gflops: number;
  gpuMs: number | null;
  /** Wall ms per batch with forward calls kept in flight (forwardInFlight, depth 2) over the same batches. */
  msPerBatchInFlight?: number;
  /** 1 − GPU ms / wall ms: the share of a fenced call's wall time that is not kernel time (null without timestamps). */
  hostOverhead?: number | null;
  /** The same for the calls in flight. */
  hostOverheadInFlight?: number | null;
  gpuTiming: string;
  perKernelMs: Record<string, number>;
  firstRunMs: number;
  plannedActivationBytes: number;
  unplannedActivationBytes: number;
  weightBytes: number;
  gpuBytes: number;
  reference: string;
  comparisons: Comparison[];
  ok: boolean;
  /** The same model in a peer runtime on the same adapter (null when not run). */
  peer: {
    name: string;
    msPerBatch?: number;
    imagesPerSec?: number;
    firstRunMs?: number;
    agreement?: Comparison;
    error?: string;
  } | null;
  /** The kernel choices the row ran with (the model's settled KernelChoices; absent: per-kernel defaults). */
  kernels?: string;
  /** The same model on onnxruntime-node's CPU EP, native code on the same cores (absent when not run). */
  native?: RowResult['peer'];
  embeddingForPeer?: Float32Array;
  /** PyTorch fp32 eager (TF32 off) on the same GPU, from bench/peers/pytorch_vit.py (absent when not run). */
  torch?: { device: string; imagesPerSec: number };
  /** The same row on the other implementations asked for (--runtime both). */
  alt?: AltResult[];
}

/** The native reference's img/s and ours over it (below 1: how far from native these cores are). */
const nativeCell = (r: RowResult) => {
  if (!r.native) return '—';
  if (r.native.error) return `failed: ${r.native.error.replace(/\|/g, '/')}`;
  return `${r.native.imagesPerSec!.toFixed(2)} img/s (ours ×${(r.imagesPerSec / r.native.imagesPerSec!).toFixed(2)})`;
};

const peerCell = (r: RowResult) => {
  if (!r.peer) return '—';
  if (r.peer.error) return `failed: ${r.peer.error.replace(/\|/g, '/')}`;
  return `${r.peer.imagesPerSec!.toFixed(2)} img/s (×${(r.imagesPerSec / r.peer.imagesPerSec!).toFixed(2)})`;
};

const mib = (b: number) => (b / 2 ** 20).toFixed(b < 2 ** 20 ? 2 : 1);
const worst = (r: RowResult) => Math.max(...r.comparisons.map((c) => c.maxAbs));
const cos = (r: RowResult) => {
  const e = r.comparisons.find((c) => c.name === 'embedding');
  return e ? e.cosine.toFixed(7) : '—';
};
const topKernels = (r: RowResult) => {
  const total = Object.values(r.perKernelMs).reduce((a, b) => a + b, 0);
  return Object.entries(r.perKernelMs)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([k, v]) => `${k} ${((100 * v) / total).toFixed(0)}%`)
    .join(', ');
};

export function terminalHeader(): string {
  return `${'model'.padEnd(34)} ${'p'.padStart(2)} ${'res'.padStart(4)} ${'B'.padStart(3)} ${'img/s'.padStart(9)} ${'±95%'.padStart(6)} ${'ms/img'.padStart(9)} ${'GFLOP/s'.padStart(8)} ${'first(ms)'.padStart(9)} ${'max err'.padStart(9)}  check  ${'peer img/s'.padStart(10)} ours/peer`;
}

const rmeCell = (t: TimingStats | undefined) => (t ? `${t.rme.toFixed(1)}%${t.noisy ? '!' : ''}` : '—');

/** The row's terminal line; with other implementations, one more line each. */
export function terminalRow(r: RowResult): string {
  const alts = (r.alt ?? []).map((a) =>
    a.error
      ? `    on ${a.implementation}: cannot run: ${a.error}`
      : `    on ${a.implementation}: ${a.imagesPerSec!.toFixed(2)} img/s ±${rmeCell(a.timing)}, ${r.implementation?.split(' ')[0] ?? 'row'}/this ${a.ratio}, max err ${a.maxAbs!.toExponential(1)} ${a.ok ? 'ok' : 'WRONG'}; ${a.gap}`,
  );
  return [mainLine(r), ...alts].join('\n');
}

function mainLine(r: RowResult): string {
  return `${r.label.padEnd(34)} ${String(r.patch).padStart(2)} ${String(r.resolution).padStart(4)} ${String(r.batch).padStart(3)} ${r.imagesPerSec.toFixed(2).padStart(9)} ${rmeCell(r.timing).padStart(6)} ${r.msPerImage.toFixed(1).padStart(9)} ${r.gflops.toFixed(1).padStart(8)} ${r.firstRunMs.toFixed(0).padStart(9)} ${worst(r).toExponential(1).padStart(9)}  ${(r.ok ? 'ok' : 'WRONG').padEnd(5)}  ${r.peer?.imagesPerSec ? r.peer.imagesPerSec.toFixed(2).padStart(10) + ' ' + (r.imagesPerSec / r.peer.imagesPerSec).toFixed(2).padStart(9) : r.peer?.error ? 'peer failed: ' + r.peer.error.slice(0, 60) : ''}`;
}

/** A fraction as a percentage ('—' when unknown). */
const pct = (v: number | null | undefined): string =>
  v === null || v === undefined ? '—' : `${(100 * v).toFixed(0)} %`;

export function markdownTable(
  env: {
    date: string;
    commit: string;
    adapter: Record<string, string>;
    machine: Record<string, unknown>;
    iters: number;
    warmup: number;
    timestamps?: string;
    timing?: { minSamples: number; maxTime: number; minTime: number; rounds: number };
    implementations?: string[];
  },
  rows: RowResult[],
): string {
  const a = env.adapter;
  const withTorch = rows.some((r) => r.torch);
  const withNative = rows.some((r) => r.native);
  // The other implementations (--runtime both): their names, in the order the rows list them.
  const altNames = [...new Set(rows.flatMap((r) => (r.alt ?? []).map((a) => a.implementation)))];
  const altOf = (r: RowResult, name: string) => r.alt?.find((a) => a.implementation === name);
  const altCols = (r: RowResult) =>
    altNames
      .map((n) => {
        const a = altOf(r, n);
        if (!a) return ' — | — | — | — |';
        if (a.error) return ` cannot run: ${a.error.replace(/\|/g, '/')} | — | — | — |`;
        return ` ${a.imagesPerSec!.toFixed(2)} img/s, ${statsCell(a.timing!)} | ${a.ratio} | ${a.maxAbs!.toExponential(1)} ${a.ok ? 'ok' : '**WRONG**'} (${a.kernels}) | ${a.gap} |`;
      })
      .join('');
  const t = env.timing;
  const nativeCol = (r: RowResult) => (withNative ? ` ${nativeCell(r)} |` : '');
  const torchCell = (r: RowResult) =>
    withTorch
      ? r.torch
        ? ` ${r.torch.imagesPerSec.toFixed(1)} img/s (×${(r.imagesPerSec / r.torch.imagesPerSec).toFixed(2)}) |`
        : ' — |'
      : '';
  const lines = [
    `Adapter: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' ')} · machine: ${String(env.machine.cpu)} ×${String(env.machine.cores)} · commit ${env.commit} · ${env.date}`,
    `Peer: ${rows.find((r) => r.peer)?.peer?.name ?? 'none'} running the same weights exported to ONNX (src/onnx/export.ts), timed the same way (session.run with outputs on the CPU); ×N = our img/s over the peer's.`,
    `Implementation: ${rows.find((r) => r.implementation)?.implementation ?? '?'}${altNames.length ? `; beside it ${altNames.join(', ')}, on the same adapter, timed in the same ${t?.rounds ?? 1} alternating rounds (×N = the row's img/s over that implementation's, "significant" by Benchmark.js's comparison: Mann-Whitney U, 95 %; each checked against the same reference)` : ''}.`,
    `Timing: Benchmark.js (deferred benchmarks) of fenced forward passes (input upload + forward + embedding readback) after the first run and ${env.warmup} warm-up: mean ms/batch ± the relative margin of error at 95 % (Student's t), n samples (≥ ${t?.minSamples ?? env.iters}, sampling for ~${t?.maxTime ?? '?'} s per row${t && t.rounds > 1 ? ` over ${t.rounds} rounds, pooled` : ''}), "noisy" past ±10 %; GPU ms from timestamp queries (one pass per kernel) where available; "in flight": the same batches with forward calls kept in flight (batch n+1's upload and n−1's read-back around batch n, as encodeImages and embed-dataset run them); host overhead = 1 − GPU ms / wall ms${env.timestamps === 'precise' ? ", Dawn's 65.536 µs quantization lifted" : env.timestamps === 'quantized' ? ', quantized to 65.536 µs (Dawn refused to lift it)' : ''}.`,
    ...(withNative
      ? [
          `Native: ${rows.find((r) => r.native?.name)?.native?.name ?? 'onnxruntime-node CPU EP'} on the same cores, the same ONNX file; ours ×N = our img/s over native (below 1: the distance to what these cores do natively).`,
        ]
      : []),
    ...(withTorch
      ? [
          `PyTorch: fp32 eager, TF32 off, on ${rows.find((r) => r.torch)!.torch!.device} (bench/peers/pytorch_vit.py, same session); ×N = our img/s over PyTorch's.`,
        ]
      : []),
    '',
    `| model | patch | res | batch | img/s | ms/batch (±95 %, n) | ms/img | GFLOP/s | GPU ms/batch | in flight ms/batch | host overhead (fenced / in flight) | first run ms | act. MiB (planned / unplanned) | weights MiB | top kernels | reference | max abs err | emb. cosine | ok | peer (same adapter, same model) | peer vs ours, emb. max abs | kernels |${withNative ? ' native CPU (same cores) |' : ''}${withTorch ? ' PyTorch fp32 (same GPU) |' : ''}${altNames.map((n) => ` ${n}: img/s, ms/batch (±95 %, n) | ×N over it | its max abs err, check (kernels) | where the time differs |`).join('')}`,
    `|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|${withNative ? '---|' : ''}${withTorch ? '---|' : ''}${altNames.map(() => '---|---|---|---|').join('')}`,
  ];
  for (const r of rows) {
    if (r.error) {
      lines.push(`| ${r.label} | | | | | | | | | | | | | | | | | ERROR: ${r.error} |`);
      continue;
    }
    lines.push(
      `| ${r.label} | ${r.patch} | ${r.resolution} | ${r.batch} | ${r.imagesPerSec.toFixed(2)} | ${r.timing ? statsCell(r.timing) : '—'} | ${r.msPerImage.toFixed(1)} | ${r.gflops.toFixed(1)} | ${r.gpuMs === null ? 'n/a' : r.gpuMs.toFixed(1)} | ${r.msPerBatchInFlight?.toFixed(1) ?? '—'} | ${pct(r.hostOverhead)} / ${pct(r.hostOverheadInFlight)} | ${r.firstRunMs.toFixed(0)} | ${mib(r.plannedActivationBytes)} / ${mib(r.unplannedActivationBytes)} | ${mib(r.weightBytes)} | ${topKernels(r)} | ${r.reference} | ${worst(r).toExponential(1)} | ${cos(r)} | ${r.ok ? 'yes' : '**WRONG**'} | ${peerCell(r)} | ${r.peer?.agreement ? r.peer.agreement.maxAbs.toExponential(1) : '—'} | ${r.kernels ?? 'defaults'} |${nativeCol(r)}${torchCell(r)}${altCols(r)}`,
    );
  }
  return lines.join('\n') + '\n';
}
