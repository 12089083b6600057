// A pool of Node worker threads that decode and resize images off the main thread (issue 25, item 2),
// exactly as decodeResized (src/preprocess/index.ts) does on it: the pixels are equal bit for bit.
// Node only (node:worker_threads); nothing of the package's entry point imports it yet.
//
// - One job per worker at a time; further jobs wait in a FIFO on the main thread. Each decode() call
//   has its own promise, so a caller that awaits them in the order it made them keeps input order.
// - Back-pressure: `maxInFlight` bounds the jobs submitted and not yet settled for a producer that
//   awaits `ready()` before each decode(), and decodeOrdered() (input order, bounded) does so itself;
//   host memory then stays at most maxInFlight inputs and outputs, whatever the collection's size.
// - The input bytes are copied to the worker once (a view into a larger buffer is sliced first, so
//   only its own bytes travel); the S×S×3 result's buffer is transferred back without a copy.
// - A bad image rejects its own promise with an ImageError naming its label; the worker goes on.
//   A worker that crashes (exits, throws outside a decode) fails its current job with an ImageError
//   saying so and is replaced. A worker that cannot start at all (missing script, import error)
//   breaks the pool: every pending and later call rejects with that reason, no restart loop.
// - Idle workers are unref'd, so a forgotten pool does not keep the process alive; close()
//   terminates them all (pending jobs reject).
//
// Where the worker script is: `new URL('./worker.js', import.meta.url)`, beside the compiled pool in
// dist/src/pipeline/decode/. Under vitest this module runs from its TypeScript source, and Node 20's
// worker_threads cannot run the .ts worker (vitest transforms the modules it imports, not a Worker's
// script; Node 20 strips no types), so the tests pass `workerUrl` to the built dist/ worker.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ArgumentError, ImageError } from '../../errors.js';
import { checkOptionKeys, isPositiveInt, type KeyList } from '../../options.js';
import { DEFAULT_MAX_PIXELS, type ImageDecoder, type RgbImage } from '../../preprocess/index.js';
import type { WorkerConfig, WorkerReply, WorkerRequest } from './protocol.js';

export interface DecodePoolOptions {
  /** Output side S: every image is squash-resized to S×S (the model's resolution). */
  size: number;
  /** Worker threads (default: the cores available − 1, at least 1). */
  threads?: number;
  /** Largest width × height decoded (default DEFAULT_MAX_PIXELS), checked from the header first. */
  maxPixels?: number;
  /** Jobs submitted and not yet settled before ready() waits, and decodeOrdered's window (default 4 × threads). */
  maxInFlight?: number;
  /** The worker script (default: worker.js beside this module; tests running the sources give the built one). */
  workerUrl?: URL;
  /**
   * The model's normalisation (its config's mean and std): lets decodePixels() normalise in the
   * workers too, taking that work off the main thread (~0.5 ms per 224 px image there).
   */
  normalize?: { mean: readonly [number, number, number]; std: readonly [number, number, number] };
}

export const DECODE_POOL_OPTION_KEYS = {
  size: true,
  threads: true,
  maxPixels: true,
  maxInFlight: true,
  workerUrl: true,
  normalize: true,
} as const satisfies KeyList<DecodePoolOptions>;

/** One image for decodeOrdered. */
export interface DecodeItem {
  bytes: Uint8Array;
  label: string;
}

/** decodeOrdered's answer for one image, in input order: its pixels or its ImageError. */
export type DecodeOutcome =
  | { index: number; label: string; image: RgbImage; error?: undefined }
  | { index: number; label: string; image?: undefined; error: ImageError };

export interface DecodePoolStats {
  /** Worker threads running now (0 after close()). */
  workers: number;
  /** Images decoded, and images that failed (bad data, a crashed worker, the pool closed). */
  decoded: number;
  failed: number;
  /** Workers that crashed and were replaced. */
  workersReplaced: number;
  /** Jobs in a worker now, and jobs waiting for one. */
  running: number;
  queued: number;
  /** Sum of the workers' decode + resize time, in milliseconds. */
  decodeMs: number;
}

export interface DecodePool extends ImageDecoder {
  /** The output side S (the `size` option). */
  readonly size: number;
  /** The number of worker threads. */
  readonly threads: number;
  readonly maxInFlight: number;
  /** Decodes and resizes one image (PNG or JPEG bytes) in a worker; rejects with an ImageError naming `label`. */
  decode(bytes: Uint8Array, label: string): Promise<RgbImage>;
  /** The `normalize` option, if given. */
  readonly normalize?: { mean: readonly [number, number, number]; std: readonly [number, number, number] };
  /**
   * Decodes, resizes and normalises one image in a worker: [3, S, S] float32 (CHW), equal bit for bit
   * to normalizeBatch of decode()'s image. Needs the `normalize` option.
   */
  decodePixels(bytes: Uint8Array, label: string): Promise<Float32Array>;
  /** Resolves once fewer than maxInFlight jobs are submitted and not settled (back-pressure for one producer). */
  ready(): Promise<void>;
  /** Decodes a sequence with at most maxInFlight images in flight, yielding outcomes in input order. */
  decodeOrdered(items: Iterable<DecodeItem> | AsyncIterable<DecodeItem>): AsyncGenerator<DecodeOutcome>;
  /** A snapshot of the counters. */
  readonly stats: DecodePoolStats;
  /** Terminates every worker; jobs not yet settled reject. Idempotent. */
  close(): Promise<void>;
}

interface Job extends WorkerRequest {
  resolve(img: RgbImage | Float32Array): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
  ready: boolean;
  /** The uncaught error the worker reported before exiting, if any. */
  error?: Error;
}

/**
 * The parent's Node options for a worker, less `--input-type`, which a worker refuses ("can only be used
 * with string input") though `node --input-type=module -e …` passes it on by default.
 */
function workerExecArgv(): string[] {
  const out: string[] = [];
  for (let i = 0; i < process.execArgv.length; i++) {
    const a = process.execArgv[i]!;
    if (a === '--input-type') i++;
    else if (!a.startsWith('--input-type=')) out.push(a);
  }
  return out;
}

/** The default number of decode threads: the cores available to this process − 1, at least 1. */
export function defaultDecodeThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

/** Starts a pool of decode worker threads (see the top of this file). */
export function createDecodePool(options: DecodePoolOptions): DecodePool {
  const where = 'createDecodePool';
  checkOptionKeys(where, options, DECODE_POOL_OPTION_KEYS);
  if (!options || !isPositiveInt(options.size))
    throw new ArgumentError(where, 'size', `must be a positive integer, got ${options?.size}`);
  const threads = options.threads ?? defaultDecodeThreads();
  if (!isPositiveInt(threads))
    throw new ArgumentError(where, 'threads', `must be a positive integer, got ${String(threads)}`);
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!(typeof maxPixels === 'number' && maxPixels > 0))
    throw new ArgumentError(where, 'maxPixels', `must be a positive number, got ${maxPixels}`);
  const maxInFlight = options.maxInFlight ?? 4 * threads;
  if (!isPositiveInt(maxInFlight))
    throw new ArgumentError(where, 'maxInFlight', `must be a positive integer, got ${String(maxInFlight)}`);
  const workerUrl = options.workerUrl ?? new URL('./worker.js', import.meta.url);
  const norm = options.normalize;
  const triple = (v: unknown) =>
    Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (norm !== undefined && !(triple(norm?.mean) && triple(norm?.std) && norm.std.every((x) => x !== 0)))
    throw new ArgumentError(
      where,
      'normalize',
      'must be { mean: [r, g, b], std: [r, g, b] } with finite numbers, std not 0',
    );
  const config: WorkerConfig = { size: options.size, maxPixels, ...(norm ? { normalize: norm } : {}) };

  const queue: Job[] = [];
  const slots: Slot[] = [];
  const readyWaiters: (() => void)[] = [];
  let nextId = 0,
    unsettled = 0,
    closed = false,
    broken: Error | null = null,
    closing: Promise<void> | null = null;
  const counts = { decoded: 0, failed: 0, workersReplaced: 0, decodeMs: 0 };

  const settled = () => {
    unsettled--;
    while (readyWaiters.length && unsettled < maxInFlight) readyWaiters.shift()!();
  };
  const fail = (job: Job, e: Error) => {
    counts.failed++;
    settled();
    job.reject(e);
  };

  function dispatch(): void {
    for (const slot of slots) {
      if (!queue.length) return;
      if (slot.job) continue;
      const job = queue.shift()!;
      slot.job = job;
      slot.worker.ref();
      const { id, bytes, label, pixels } = job;
      // A whole buffer is structured-cloned (one copy); a view is sliced and its copy transferred.
      if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength)
        slot.worker.postMessage({ id, bytes, label, pixels } satisfies WorkerRequest);
      else {
        const own = bytes.slice();
        slot.worker.postMessage({ id, bytes: own, label, pixels } satisfies WorkerRequest, [own.buffer]);
      }
    }
  }

  function spawn(): Slot {
    const worker = new Worker(workerUrl, { workerData: config, execArgv: workerExecArgv() });
    const slot: Slot = { worker, job: null, ready: false };
    worker.on('message', (r: WorkerReply) => {
      if (r.kind === 'ready') {
        slot.ready = true;
        return;
      }
      const job = slot.job;
      if (!job || job.id !== r.id) return; // a reply for a job already failed (cannot happen: one at a time)
      slot.job = null;
      worker.unref();
      counts.decodeMs += r.ms;
      if (r.kind === 'done' || r.kind === 'pixels') {
        counts.decoded++;
        settled();
        job.resolve(r.kind === 'pixels' ? r.pixels : { width: r.width, height: r.height, data: r.data });
      } else fail(job, new ImageError(job.label, r.detail));
      dispatch();
    });
    worker.on('error', (e) => (slot.error = e));
    worker.on('exit', (code) => onExit(slot, code));
    worker.unref(); // after the listeners (adding one refs the worker again)
    return slot;
  }

  function onExit(slot: Slot, code: number): void {
    const i = slots.indexOf(slot);
    if (i >= 0) slots.splice(i, 1);
    if (closed) return;
    const reason = slot.error ? `${slot.error.name}: ${slot.error.message}` : `exit code ${code}`;
    if (!slot.ready) {
      // It never started: the script or its imports are at fault, and a new one would fail alike.
      broken = new Error(`decode pool: a worker thread could not start (${workerUrl.href}): ${reason}`);
      const pending = [...(slot.job ? [slot.job] : []), ...queue.splice(0)];
      for (const job of pending) fail(job, broken);
      void close();
      return;
    }
    if (slot.job)
      fail(
        slot.job,
        new ImageError(
          slot.job.label,
          `the decode worker crashed while decoding this image (${reason}); it was replaced`,
        ),
      );
    counts.workersReplaced++;
    slots.push(spawn());
    dispatch();
  }

  function submit<T extends RgbImage | Float32Array>(bytes: Uint8Array, label: string, pixels: boolean): Promise<T> {
    const where = pixels ? 'decodePixels' : 'decode';
    if (!(bytes instanceof Uint8Array))
      return Promise.reject(new ArgumentError(where, 'bytes', 'must be a Uint8Array of PNG or JPEG bytes'));
    if (pixels && !norm)
      return Promise.reject(new ArgumentError(where, 'normalize', 'the pool was created without the normalize option'));
    if (broken) return Promise.reject(broken);
    if (closed) return Promise.reject(new ImageError(String(label), 'the decode pool is closed'));
    unsettled++;
    return new Promise<T>((resolve, reject) => {
      queue.push({ id: nextId++, bytes, label: String(label), pixels, resolve: resolve as Job['resolve'], reject });
      dispatch();
    });
  }
  const decode = (bytes: Uint8Array, label: string) => submit<RgbImage>(bytes, label, false);
  const decodePixels = (bytes: Uint8Array, label: string) => submit<Float32Array>(bytes, label, true);

  function ready(): Promise<void> {
    if (unsettled < maxInFlight || closed) return Promise.resolve();
    return new Promise((resolve) => readyWaiters.push(resolve));
  }

  async function* decodeOrdered(
    items: Iterable<DecodeItem> | AsyncIterable<DecodeItem>,
  ): AsyncGenerator<DecodeOutcome> {
    const window: Promise<DecodeOutcome>[] = [];
    let index = 0;
    const start = (item: DecodeItem): Promise<DecodeOutcome> => {
      const i = index++;
      const p = decode(item.bytes, item.label).then(
        (image): DecodeOutcome => ({ index: i, label: item.label, image }),
        (error: Error): DecodeOutcome => {
          if (error instanceof ImageError) return { index: i, label: item.label, error };
          throw error; // the pool itself failed (or an argument was wrong): not one image's fault
        },
      );
      p.catch(() => {}); // rejected ones are awaited in turn; this only keeps them from being "unhandled"
      return p;
    };
    for await (const item of items) {
      window.push(start(item));
      if (window.length >= maxInFlight) yield await window.shift()!;
    }
    while (window.length) yield await window.shift()!;
  }

  function close(): Promise<void> {
    closing ??= (async () => {
      closed = true;
      const pending = [...slots.flatMap((s) => (s.job ? [s.job] : [])), ...queue.splice(0)];
      for (const s of slots) s.job = null;
      for (const job of pending)
        fail(job, broken ?? new ImageError(job.label, 'the decode pool was closed before this image was decoded'));
      while (readyWaiters.length) readyWaiters.shift()!();
      await Promise.all(slots.splice(0).map((s) => s.worker.terminate()));
    })();
    return closing;
  }

  for (let i = 0; i < threads; i++) slots.push(spawn());

  return {
    size: options.size,
    threads,
    maxInFlight,
    decode,
    ...(norm ? { normalize: norm } : {}),
    decodePixels,
    ready,
    decodeOrdered,
    get stats(): DecodePoolStats {
      return {
        workers: slots.length,
        ...counts,
        running: slots.filter((s) => s.job).length,
        queued: queue.length,
      };
    },
    close,
  };
}
