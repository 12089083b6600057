// Running one kernel outside a model: upload, read back, run, time. What the tests and the kernel
// benchmark share (llm.c dev/cuda's common.h idea), exported for kernel users trying a kernel.
import { ArgumentError, WebGPUError } from '../../errors.js';
import { elementCount } from '../../shape.js';
import type { Dispatch, TensorRef } from './index.js';
import { packWeight, type Q8Weight } from './weight-format.js';
import { uploadScales } from './texture-matrix.js';

const USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** A new storage buffer holding `data` (f32, or u32 for a Uint32Array), as a TensorRef of `shape`. */
export function uploadTensor(device: GPUDevice, data: Float32Array | Uint32Array, shape: readonly number[]): TensorRef {
  if (data.length !== elementCount(shape))
    throw new Error(`uploadTensor: ${data.length} values for shape [${shape.join(', ')}]`);
  const buffer = device.createBuffer({ size: Math.max(16, Math.ceil(data.byteLength / 4) * 4), usage: USAGE() });
  device.queue.writeBuffer(buffer, 0, data as Float32Array<ArrayBuffer>);
  return { buffer, shape, dtype: data instanceof Uint32Array ? 'u32' : 'f32' };
}

/**
 * A [rows, K] weight in a new storage buffer, in the layout of its dtype (weight-format.ts): float32
 * values, binary16 bits (a Uint16Array, e.g. from toF16) or a Q8Weight (quantizeQ8), whose scales go
 * to a buffer of their own (`scale`).
 */
export function uploadWeight(
  device: GPUDevice,
  w: Float32Array | Uint16Array | Q8Weight,
  rows: number,
  K: number,
): TensorRef {
  if (w instanceof Float32Array) return uploadTensor(device, w, [rows, K]);
  const words = packWeight(w, rows, K);
  const buffer = device.createBuffer({ size: Math.max(16, words.byteLength), usage: USAGE() });
  device.queue.writeBuffer(buffer, 0, words as Uint32Array<ArrayBuffer>);
  if (w instanceof Uint16Array) return { buffer, shape: [rows, K], dtype: 'f16' };
  return { buffer, shape: [rows, K], dtype: 'q8', scale: uploadScales(device, w.scale, 'scale') };
}

/** An f32 output tensor filled with NaN, so that any element a kernel fails to write shows up. */
export function poisonedTensor(device: GPUDevice, shape: readonly number[]): TensorRef {
  return uploadTensor(device, new Float32Array(elementCount(shape)).fill(NaN), shape);
}

/** The values of an f32 tensor, read back. */
export async function readTensor(device: GPUDevice, t: TensorRef): Promise<Float32Array> {
  const bytes = elementCount(t.shape) * 4;
  const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(t.buffer, t.offset ?? 0, staging, 0, bytes);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return out;
}

/** Encodes the dispatches into one compute pass, submits and waits; a WebGPU validation error throws. */
export async function runDispatches(device: GPUDevice, ...dispatches: Dispatch[]): Promise<void> {
  device.pushErrorScope('validation');
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  for (const d of dispatches) d.encode(pass);
  pass.end();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  const err = await device.popErrorScope();
  if (err) throw new WebGPUError(`WebGPU validation error: ${err.message}`);
}

/** Below this, one dispatch is timed as several in one pass (a clock step is 65.536 µs where Dawn quantizes). */
export const MIN_TIMED_MS = 0.5;
/** Most dispatches timed between one pair of queries. */
export const MAX_REPEATS = 64;

/**
 * How many back-to-back dispatches time one that took `firstMs` alone: 1 at or above `minMs`, else
 * enough to fill `minMs`, at most MAX_REPEATS.
 */
export function timingRepeats(firstMs: number, minMs: number = MIN_TIMED_MS): number {
  if (!(minMs >= 0)) throw new ArgumentError('timeDispatch', 'minMs', `must be a number >= 0, got ${minMs}`);
  if (firstMs >= minMs) return 1;
  return Math.min(MAX_REPEATS, Math.ceil(minMs / Math.max(firstMs, minMs / MAX_REPEATS)));
}

/**
 * Median time of one dispatch over `iters` runs (one pass each) after one warm-up: GPU time from
 * timestamp queries where the device has them, else fenced wall time. A dispatch shorter than
 * MIN_TIMED_MS is re-timed as `repeats` back-to-back dispatches in one pass between one pair of
 * queries (the result divided by `repeats`), so that a clock step (65.536 µs where Dawn quantizes
 * timestamps) or the submit overhead does not dominate. The dispatch runs more than once: its
 * outputs are not meant to be read after timing (a residual epilogue accumulates). `minMs`
 * replaces MIN_TIMED_MS (tests use it to choose the branch without depending on the machine's speed).
 */
export async function timeDispatch(
  device: GPUDevice,
  d: Dispatch,
  iters: number,
  options: { minMs?: number } = {},
): Promise<{ ms: number; timing: 'timestamp-query' | 'wall'; repeats: number }> {
  const minMs = options.minMs ?? MIN_TIMED_MS;
  timingRepeats(0, minMs); // checks minMs before anything runs
  const first = await timeRepeated(device, d, iters, 1);
  const repeats = timingRepeats(first.ms, minMs);
  if (repeats === 1) return { ...first, repeats: 1 };
  const again = await timeRepeated(device, d, iters, repeats);
  return { ms: again.ms / repeats, timing: again.timing, repeats };
}

async function timeRepeated(
  device: GPUDevice,
  d: Dispatch,
  iters: number,
  repeats: number,
): Promise<{ ms: number; timing: 'timestamp-query' | 'wall' }> {
  const stamps = device.features.has('timestamp-query');
  const qs = stamps ? device.createQuerySet({ type: 'timestamp', count: 2 }) : null;
  const res = stamps
    ? device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC })
    : null;
  const times: number[] = [];
  try {
    for (let i = 0; i < iters + 1; i++) {
      const enc = device.createCommandEncoder();
      const readBuf = stamps
        ? device.createBuffer({ size: 16, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ })
        : null;
      const t0 = performance.now();
      const pass = enc.beginComputePass(
        qs ? { timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {},
      );
      for (let r = 0; r < repeats; r++) d.encode(pass);
      pass.end();
      if (qs && res && readBuf) {
        enc.resolveQuerySet(qs, 0, 2, res, 0);
        enc.copyBufferToBuffer(res, 0, readBuf, 0, 16);
      }
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
      let ms = performance.now() - t0;
      if (readBuf) {
        await readBuf.mapAsync(GPUMapMode.READ);
        const ts = new BigUint64Array(readBuf.getMappedRange());
        ms = Number(ts[1]! - ts[0]!) / 1e6;
        readBuf.unmap();
        readBuf.destroy();
      }
      if (i > 0) times.push(ms);
    }
  } finally {
    qs?.destroy();
    res?.destroy();
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)]!, timing: stamps ? 'timestamp-query' : 'wall' };
}
