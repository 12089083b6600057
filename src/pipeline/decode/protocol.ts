// The messages between the decode pool (./pool.ts) and its worker threads (./worker.ts). Types only.

/** What each worker is started with (its `workerData`). */
export interface WorkerConfig {
  /** Output side S: every image is squash-resized to S×S. */
  size: number;
  /** Largest width × height decoded (checked from the header first). */
  maxPixels: number;
  /** The model's mean / std, for requests that ask for normalised pixels. */
  normalize?: { mean: readonly [number, number, number]; std: readonly [number, number, number] };
}

/** One image to decode: its bytes (copied or transferred to the worker) and the label errors name. */
export interface WorkerRequest {
  id: number;
  bytes: Uint8Array;
  label: string;
  /** Answer with the normalised [3, S, S] float32 pixels (normalizeBatch of one image) instead of RGB bytes. */
  pixels?: boolean;
}

export type WorkerReply =
  /** The worker has loaded its modules and listens (sent once, before any result). */
  | { kind: 'ready' }
  /** The resized RGB pixels; `data`'s buffer is transferred, not copied. `ms`: decode + resize time in the worker. */
  | { kind: 'done'; id: number; width: number; height: number; data: Uint8Array; ms: number }
  /** The normalised pixels, [3, S, S] float32 CHW (a `pixels` request); transferred, not copied. */
  | { kind: 'pixels'; id: number; pixels: Float32Array; ms: number }
  /** The image could not be decoded: `detail` is the ImageError's text without the image's name. */
  | { kind: 'failed'; id: number; detail: string; ms: number };
