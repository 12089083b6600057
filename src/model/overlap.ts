// Forward passes kept in flight, so that the host never waits on the device between batches (issue 25's
// overlapped upload and read-back, issue 26's "no host stalls": one mechanism, used by encodeImages and
// by the collection pipeline, src/pipeline/run.ts).
//
// A VisionTransformer.forward call writes its input (queue.writeBuffer), records and submits its
// command buffer synchronously, then awaits the read-back of its outputs (mapAsync on a staging
// buffer of its own). Calling forward for batch n+1 before batch n has been read back therefore
// queues n+1's upload and passes behind n's on the device's one queue, while the host prepares
// n+2: the device goes from batch to batch without waiting for the host, and the host never waits
// for a read-back before submitting more work. The queue's order makes it safe: n+1's upload into
// the shared input buffer, and its writes to the shared activation buffers, execute after n's passes
// have used them; each call reads back into a staging buffer of its own, taken from the compiled
// graph's ring and given back once read (src/graph/executor.ts: no buffer created per call).
//
// `depth` bounds the forward calls submitted and not yet read back (default 2: one running, one
// queued behind it), so device memory for staging and host memory for results stay bounded; results
// come out in the order the batches went in.
import { ArgumentError } from '../errors.js';
import { normalizeItems, type PreprocessOptions, type RgbImage } from '../preprocess/index.js';
import type { ForwardOptions, ViTOutputs, VisionTransformer } from './vit.js';

/** One batch of preprocessed images ([count, 3, S, S] float32, NCHW) and what the caller attaches to it. */
export interface FlightBatch<T> {
  pixels: Float32Array;
  count: number;
  tag: T;
  /** Time spent making `pixels` on the host, in ms (batchImages sets it). */
  preprocessMs?: number;
}

/** The outputs of one batch, with its tag, and how long its forward call took (submit to read-back). */
export interface FlightResult<T> {
  tag: T;
  count: number;
  outputs: ViTOutputs;
  /** Wall time from this batch's forward call to its outputs being read back, in ms (overlaps others'). */
  ms: number;
  /** The batch's preprocessMs, passed on. */
  preprocessMs: number;
}

/**
 * A decoded item for batchImages: its resized image, or its pixels already normalised ([3, S, S], a
 * decode pool's decodePixels), or neither (a failure passed through in its place).
 */
export interface DecodedItem<M> {
  image?: RgbImage | Float32Array;
  meta: M;
}

/** An item of a batch's tag: its row in the batch's outputs, or -1 for a failure (no image). */
export interface BatchedItem<M> {
  meta: M;
  row: number;
}

/** The default number of forward calls in flight. */
export const DEFAULT_FLIGHT_DEPTH = 2;

/**
 * Runs `model.forward` on each batch with up to `depth` calls in flight and yields their outputs in
 * input order. A failing forward call rejects the iteration after the calls in flight have settled
 * (nothing is left running on the device). `opts` are forward's options, the same for every batch.
 */
export async function* forwardInFlight<T>(
  model: VisionTransformer,
  batches: Iterable<FlightBatch<T>> | AsyncIterable<FlightBatch<T>>,
  opts: Omit<ForwardOptions, 'profile'> = {},
  depth = DEFAULT_FLIGHT_DEPTH,
): AsyncGenerator<FlightResult<T>> {
  if (!Number.isInteger(depth) || depth < 1)
    throw new ArgumentError('forwardInFlight', 'depth', `must be a positive integer, got ${String(depth)}`);
  const window: Promise<FlightResult<T>>[] = [];
  const start = (b: FlightBatch<T>): Promise<FlightResult<T>> => {
    const preprocessMs = b.preprocessMs ?? 0;
    if (b.count === 0) return Promise.resolve({ tag: b.tag, count: 0, outputs: { chunks: [] }, ms: 0, preprocessMs });
    const t0 = performance.now();
    const p = model
      .forward(b.pixels, b.count, opts)
      .then((outputs) => ({ tag: b.tag, count: b.count, outputs, ms: performance.now() - t0, preprocessMs }));
    p.catch(() => {}); // awaited in turn below; this only keeps an early rejection from being "unhandled"
    return p;
  };
  try {
    for await (const b of batches) {
      window.push(start(b));
      if (window.length >= depth) yield await window.shift()!;
    }
    while (window.length) yield await window.shift()!;
  } finally {
    // Stopped early (an error, or the consumer returned): let what was submitted finish first.
    await Promise.allSettled(window.splice(0));
  }
}

/**
 * Maps `fn` over `items` with up to `window` calls pending, yielding the results in input order (a
 * decode stage: pending decodes run in worker threads while earlier results are consumed). A call
 * that rejects rejects the iteration in its turn, after the calls still pending have settled.
 */
export async function* inOrder<X, Y>(
  items: Iterable<X> | AsyncIterable<X>,
  fn: (x: X, index: number) => Promise<Y>,
  window: number,
): AsyncGenerator<Y> {
  if (!Number.isInteger(window) || window < 1)
    throw new ArgumentError('inOrder', 'window', `must be a positive integer, got ${String(window)}`);
  const pending: Promise<Y>[] = [];
  let i = 0;
  try {
    for await (const x of items) {
      const p = fn(x, i++);
      p.catch(() => {}); // awaited in its turn
      pending.push(p);
      if (pending.length >= window) yield await pending.shift()!;
    }
    while (pending.length) yield await pending.shift()!;
  } finally {
    await Promise.allSettled(pending.splice(0));
  }
}

/**
 * Groups decoded items into batches of `batchSize` images, normalised into one [B, 3, S, S] array
 * each (normalizeBatch); a batch's tag lists its items in input order, the failures among them too
 * (those without an image, which take no row). The last batch holds what is left; it can have no
 * image at all when only failures are left (count 0: forwardInFlight passes it through).
 */
export async function* batchImages<M>(
  items: Iterable<DecodedItem<M>> | AsyncIterable<DecodedItem<M>>,
  batchSize: number,
  pre: PreprocessOptions,
): AsyncGenerator<FlightBatch<BatchedItem<M>[]>> {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ArgumentError('batchImages', 'batchSize', `must be a positive integer, got ${String(batchSize)}`);
  let tag: BatchedItem<M>[] = [];
  let images: (RgbImage | Float32Array)[] = [];
  const flush = (): FlightBatch<BatchedItem<M>[]> => {
    const t0 = performance.now();
    const pixels = normalizeItems(images, pre);
    const b = { pixels, count: images.length, tag, preprocessMs: performance.now() - t0 };
    tag = [];
    images = [];
    return b;
  };
  for await (const item of items) {
    tag.push({ meta: item.meta, row: item.image ? images.length : -1 });
    if (item.image) images.push(item.image);
    if (images.length === batchSize) yield flush();
  }
  if (tag.length) yield flush();
}
