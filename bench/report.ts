// Formatting of benchmark rows: a terminal line per row while it runs, a Markdown table at the end.
import type { Comparison } from '../src/model/verify.js';

export interface RowResult {
  label: string;
  error?: string;
  patch: number;
  resolution: number;
  batch: number;
  layers: number;
  width: number;
  msPerBatch: number;
  msMin: number;
  msMax: number;
  iters: number;
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
  return `${'model'.padEnd(34)} ${'p'.padStart(2)} ${'res'.padStart(4)} ${'B'.padStart(3)} ${'img/s'.padStart(9)} ${'ms/img'.padStart(9)} ${'GFLOP/s'.padStart(8)} ${'first(ms)'.padStart(9)} ${'max err'.padStart(9)}  check  ${'peer img/s'.padStart(10)} ours/peer`;
}

export function terminalRow(r: RowResult): string {
  return `${r.label.padEnd(34)} ${String(r.patch).padStart(2)} ${String(r.resolution).padStart(4)} ${String(r.batch).padStart(3)} ${r.imagesPerSec.toFixed(2).padStart(9)} ${r.msPerImage.toFixed(1).padStart(9)} ${r.gflops.toFixed(1).padStart(8)} ${r.firstRunMs.toFixed(0).padStart(9)} ${worst(r).toExponential(1).padStart(9)}  ${(r.ok ? 'ok' : 'WRONG').padEnd(5)}  ${r.peer?.imagesPerSec ? r.peer.imagesPerSec.toFixed(2).padStart(10) + ' ' + (r.imagesPerSec / r.peer.imagesPerSec).toFixed(2).padStart(9) : r.peer?.error ? 'peer failed: ' + r.peer.error.slice(0, 60) : ''}`;
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
  },
  rows: RowResult[],
): string {
  const a = env.adapter;
  const withTorch = rows.some((r) => r.torch);
  const withNative = rows.some((r) => r.native);
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
    `Timing: median of ${env.iters} fenced forward passes after ${env.warmup} warm-up (input upload + forward + embedding readback); GPU ms from timestamp queries (one pass per kernel) where available; "in flight": the same batches with forward calls kept in flight (batch n+1's upload and n−1's read-back around batch n, as encodeImages and embed-dataset run them); host overhead = 1 − GPU ms / wall ms${env.timestamps === 'precise' ? ", Dawn's 65.536 µs quantization lifted" : env.timestamps === 'quantized' ? ', quantized to 65.536 µs (Dawn refused to lift it)' : ''}.`,
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
    `| model | patch | res | batch | img/s | ms/img | GFLOP/s | GPU ms/batch | in flight ms/batch | host overhead (fenced / in flight) | first run ms | act. MiB (planned / unplanned) | weights MiB | top kernels | reference | max abs err | emb. cosine | ok | peer (same adapter, same model) | peer vs ours, emb. max abs | kernels |${withNative ? ' native CPU (same cores) |' : ''}${withTorch ? ' PyTorch fp32 (same GPU) |' : ''}`,
    `|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|${withNative ? '---|' : ''}${withTorch ? '---|' : ''}`,
  ];
  for (const r of rows) {
    if (r.error) {
      lines.push(`| ${r.label} | | | | | | | | | | | | | | | | | ERROR: ${r.error} |`);
      continue;
    }
    lines.push(
      `| ${r.label} | ${r.patch} | ${r.resolution} | ${r.batch} | ${r.imagesPerSec.toFixed(2)} | ${r.msPerImage.toFixed(1)} | ${r.gflops.toFixed(1)} | ${r.gpuMs === null ? 'n/a' : r.gpuMs.toFixed(1)} | ${r.msPerBatchInFlight?.toFixed(1) ?? '—'} | ${pct(r.hostOverhead)} / ${pct(r.hostOverheadInFlight)} | ${r.firstRunMs.toFixed(0)} | ${mib(r.plannedActivationBytes)} / ${mib(r.unplannedActivationBytes)} | ${mib(r.weightBytes)} | ${topKernels(r)} | ${r.reference} | ${worst(r).toExponential(1)} | ${cos(r)} | ${r.ok ? 'yes' : '**WRONG**'} | ${peerCell(r)} | ${r.peer?.agreement ? r.peer.agreement.maxAbs.toExponential(1) : '—'} | ${r.kernels ?? 'defaults'} |${nativeCol(r)}${torchCell(r)}`,
    );
  }
  return lines.join('\n') + '\n';
}
