// One model row of the benchmark on one device, in steps, so that rows on two WebGPU implementations
// can be timed in alternating rounds (bench/run.ts drives it in process; bench/row-server.ts runs the
// same steps in another runtime): open (load, first run, warm-up) → time (a Benchmark.js run of
// fenced forward calls; again per round) → finish (calls in flight, per-kernel GPU time, the check
// against the row's reference, memory) → closed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requestDevice, type DeviceInfo, type Runtime } from '../src/device.js';
import type { KernelChoices } from '../src/graph/graph.js';
import { flopsPerImage } from '../src/model/config.js';
import { forwardInFlight } from '../src/model/overlap.js';
import type { Comparison } from '../src/model/verify.js';
import { ROOT } from './env.js';
import { describeKernels, type Prepared } from './rows.js';
import { measure, type TimingOptions, type TimingStats } from './stats.js';

/** A WebGPU implementation as the report names it: runtime, implementation and versions. */
export interface Implementation {
  runtime: Runtime;
  /** e.g. "Dawn (npm webgpu 0.6.2) in Node.js v20.20.2", "wgpu in Deno 2.9.6". */
  name: string;
}

/** Names the implementation a device came from, with the versions that identify it. */
export function implementationOf(info: Pick<DeviceInfo, 'runtime'>): Implementation {
  const deno = (globalThis as { Deno?: { version?: { deno?: string } } }).Deno?.version?.deno;
  const host = deno
    ? `Deno ${deno}`
    : typeof process !== 'undefined' && process.versions.bun
      ? `Bun ${process.versions.bun}`
      : `Node.js ${process.version}`;
  if (info.runtime.endsWith('-dawn')) {
    let v = '?';
    try {
      v = (
        JSON.parse(readFileSync(join(ROOT, 'node_modules', 'webgpu', 'package.json'), 'utf8')) as { version: string }
      ).version;
    } catch {
      /* not installed beside the checkout: the version stays unknown */
    }
    return { runtime: info.runtime, name: `Dawn (npm webgpu ${v}) in ${host}` };
  }
  // Deno does not report its wgpu version; its own version pins it (deno's Cargo.lock).
  if (info.runtime === 'deno-wgpu') return { runtime: info.runtime, name: `wgpu (bundled) in ${host}` };
  return { runtime: info.runtime, name: `${info.runtime} in ${host}` };
}

/** What a finished row reports besides its timing (all plain data: it crosses processes as JSON). */
export interface RowFinish {
  msPerBatchInFlight: number;
  gpuMs: number | null;
  gpuTiming: string;
  perKernelMs: Record<string, number>;
  plannedActivationBytes: number;
  unplannedActivationBytes: number;
  weightBytes: number;
  gpuBytes: number;
  reference: string;
  comparisons: Comparison[];
  ok: boolean;
  kernels: string;
  flops: number;
  /** The batch's embedding (for the peers' agreement), as a plain array. */
  embedding: number[];
}

export interface RowSession {
  readonly implementation: Implementation;
  readonly timestamps: DeviceInfo['timestamps'];
  /** Pipeline creation + planning + the first forward, on a fresh device. */
  readonly firstRunMs: number;
  /** One Benchmark.js run of fenced forward calls (upload + forward + embedding read-back). */
  time(opts: TimingOptions): Promise<TimingStats>;
  /** The rest of the row (calls in flight over `inFlightCalls` batches, profile, check, memory); closes the session. */
  finish(inFlightCalls: number): Promise<RowFinish>;
  /** Frees the model and the device (finish() does it too). */
  close(): void;
}

export interface RowSessionOptions {
  flags: string[];
  warmup: number;
  /** Kernel choices forced on the model (the benchmark's --kernels portable), else the adapter's. */
  kernels?: KernelChoices;
}

export async function openRowSession(p: Prepared, o: RowSessionOptions): Promise<RowSession> {
  const info = await requestDevice({ dawnFlags: o.flags, preciseTimestamps: true });
  const { device } = info;
  let model: Awaited<ReturnType<Prepared['load']>> | null = null;
  const close = () => {
    model?.destroy();
    model = null;
    device.destroy();
  };
  try {
    model = await p.load(device, undefined, o.kernels);
    const m = model;
    const outputs = ['embedding'] as const;
    const run = () => m.forward(p.pixels, p.batch, { resolution: p.resolution, outputs });
    const t = performance.now();
    await run();
    const firstRunMs = performance.now() - t;
    for (let i = 0; i < o.warmup; i++) await run();
    return {
      implementation: implementationOf(info),
      timestamps: info.timestamps,
      firstRunMs,
      time: (opts) => measure(p.label, run, opts),
      async finish(inFlightCalls) {
        try {
          // The same batches with forward calls kept in flight (src/model/overlap.ts: batch n+1's
          // upload and batch n−1's read-back around batch n), as encodeImages and the pipeline run them.
          let t0 = performance.now();
          const same = Array.from({ length: inFlightCalls }, () => ({ pixels: p.pixels, count: p.batch, tag: null }));
          for await (const r of forwardInFlight(m, same, { resolution: p.resolution, outputs })) void r;
          const msPerBatchInFlight = (performance.now() - t0) / inFlightCalls;
          // Per-kernel GPU time: one profiled run (one pass per kernel, timestamp queries).
          const prof = await m.forward(p.pixels, p.batch, { resolution: p.resolution, outputs, profile: true });
          const perKernelMs: Record<string, number> = {};
          for (const tm of prof.timings ?? []) perKernelMs[tm.kernel] = (perKernelMs[tm.kernel] ?? 0) + tm.ms;
          const gpuMs = prof.timings ? Object.values(perKernelMs).reduce((a, b) => a + b, 0) : null;
          // Correctness on this row's own shapes: a run that also returns tokens and block 0.
          t0 = performance.now();
          const checked = await m.forward(p.pixels, p.batch, {
            resolution: p.resolution,
            outputs: ['tokens', 'pooled', 'embedding', 'block0'],
          });
          const { comparisons, reference } = p.check(checked);
          const chunk = Math.min(p.batch, m.maxChunk(p.resolution));
          const cg = await m.compiled(chunk, p.resolution, outputs);
          const weightBytes = m.weightBytes();
          return {
            msPerBatchInFlight,
            gpuMs,
            gpuTiming:
              gpuMs === null ? 'fenced wall time only (no timestamp-query)' : 'timestamp-query, one pass per kernel',
            perKernelMs,
            plannedActivationBytes: cg.plan.plannedBytes,
            unplannedActivationBytes: cg.plan.unplannedBytes,
            weightBytes,
            gpuBytes: weightBytes + cg.plan.plannedBytes + 4 * 3 * p.resolution * p.resolution * chunk,
            reference,
            comparisons,
            ok: comparisons.every((c) => c.pass),
            kernels: `${describeKernels(m.kernels)}, weights ${m.dtype} (${m.kernelsFrom})`,
            flops: flopsPerImage(p.config, p.resolution) * p.batch,
            embedding: Array.from(checked.embedding!),
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
