// Images in, embeddings out: decode → OpenVision preprocessing → batched forward passes, as a
// pipeline (src/model/overlap.ts): images are decoded ahead (in worker threads when a `decoder` such
// as the collection pipeline's decode pool is given), batched, and the forward passes kept in flight
// so that the device never waits for the host between batches. The results are the same, bit for
// bit, as decoding and running each batch one after another: the same batches, the same kernels.
import { checkHiddenBlockUse, concat, isList } from './arguments.js';
import { batchImages, forwardInFlight, inOrder, DEFAULT_FLIGHT_DEPTH } from './overlap.js';
import type { ViTOutputName, VisionTransformer } from './vit.js';
import { ArgumentError, ImageError } from '../errors.js';
import { checkOptionKeys, type KeyList } from '../options.js';
import {
  decodeResized,
  decoderNormalizes,
  readImageBytes,
  type ImageDecoder,
  type ImageInput,
  type RgbImage,
} from '../preprocess/index.js';

export interface EncodeOptions {
  /** Outputs to return (default: embedding only). */
  outputs?: readonly ViTOutputName[];
  /** Resolution to run at (default: the checkpoint's). */
  resolution?: number;
  /** With output 'hidden': the block whose output is returned (negative from the end; default -1). */
  hiddenBlock?: number;
  /** Images decoded and run per forward call (default 32); bounds host memory on long lists. */
  batchSize?: number;
  /** Called after each batch with the number of images done. */
  onProgress?: (done: number, total: number) => void;
  /** Largest width × height decoded (default DEFAULT_MAX_PIXELS, Pillow's limit); checked before decoding. */
  maxPixels?: number;
  /**
   * What an image that cannot be read or decoded does: 'throw' (default) rejects the whole call with
   * an ImageError naming it; 'skip' leaves it out, records it in `failed` and encodes the others.
   */
  onImageError?: 'throw' | 'skip';
  /**
   * Decodes encoded images (paths, URLs, bytes, Blobs: read here, decoded there) off the main thread,
   * e.g. a decode pool (`createDecodePool`, Node); its size must be the resolution run at, and its
   * own maxPixels applies. Default: decoding on this thread, one image ahead of the batch.
   */
  decoder?: ImageDecoder;
  /** Forward calls in flight (default DEFAULT_FLIGHT_DEPTH = 2; 1 runs batch after batch). */
  inFlight?: number;
}

/** The keys of EncodeOptions (an unknown one is refused, options.ts). */
export const ENCODE_OPTION_KEYS = {
  outputs: true,
  resolution: true,
  hiddenBlock: true,
  batchSize: true,
  onProgress: true,
  maxPixels: true,
  onImageError: true,
  decoder: true,
  inFlight: true,
} as const satisfies KeyList<EncodeOptions>;

export interface EncodeResult {
  /** [N, E] */
  embedding?: Float32Array;
  /** [N, W] */
  pooled?: Float32Array;
  /** [N, g², W] */
  tokens?: Float32Array;
  /** [N, 1 + g², W] after block 0 / after block `hiddenBlock` (when asked for in `outputs`). */
  block0?: Float32Array;
  hidden?: Float32Array;
  /** Rows in the outputs: the images encoded. */
  count: number;
  /** For each output row, the index of its image in the input list (differs only when images were skipped). */
  indices: number[];
  /** Images left out with onImageError: 'skip', with why. */
  failed: { index: number; image: string; message: string }[];
  /** Wall time in ms: decoding, preprocessing and the forward passes. */
  ms: number;
}

/** Decodes, preprocesses (squash resize, PIL bilinear, mean/std of the config) and encodes images. */
export async function encodeImages(
  model: VisionTransformer,
  images: readonly ImageInput[],
  opts: EncodeOptions = {},
): Promise<EncodeResult> {
  const t0 = performance.now();
  checkOptionKeys('encodeImages', opts, ENCODE_OPTION_KEYS);
  const size = opts.resolution ?? model.config.imageSize;
  const outputs = opts.outputs ?? ['embedding'];
  const batchSize = opts.batchSize ?? 32;
  if (!isList(images)) throw new ArgumentError('encodeImages', 'images', 'must be an array of images');
  if (!Number.isInteger(batchSize) || batchSize <= 0)
    throw new ArgumentError('encodeImages', 'batchSize', `must be a positive integer, got ${batchSize}`);
  if (opts.onImageError !== undefined && opts.onImageError !== 'throw' && opts.onImageError !== 'skip') {
    throw new ArgumentError(
      'encodeImages',
      'onImageError',
      `must be 'throw' or 'skip', got ${String(opts.onImageError)}`,
    );
  }
  const decoder = opts.decoder;
  if (decoder !== undefined && (typeof decoder?.decode !== 'function' || decoder.size !== size))
    throw new ArgumentError(
      'encodeImages',
      'decoder',
      typeof decoder?.decode !== 'function'
        ? 'must be an ImageDecoder (e.g. a decode pool)'
        : `resizes to ${decoder.size} px, but this call runs at ${size} px`,
    );
  const inFlight = opts.inFlight ?? DEFAULT_FLIGHT_DEPTH;
  if (!Number.isInteger(inFlight) || inFlight < 1)
    throw new ArgumentError('encodeImages', 'inFlight', `must be a positive integer, got ${String(inFlight)}`);
  checkHiddenBlockUse('encodeImages', opts.hiddenBlock, outputs); // before any image is decoded
  model.checkResolution('encodeImages', size); // before any image is decoded too
  const parts: Partial<Record<ViTOutputName, Float32Array[]>> = {};
  const indices: number[] = [];
  const failed: EncodeResult['failed'] = [];

  type Meta = { index: number; input: ImageInput; error?: ImageError };
  // A decoder that normalises as this model does also takes that off the main thread.
  const pixelsToo = !!decoder && decoderNormalizes(decoder, model.config);
  const decodeOne = async (
    input: ImageInput,
    index: number,
  ): Promise<{ image?: RgbImage | Float32Array; meta: Meta }> => {
    try {
      const read = decoder ? await readImageBytes(input) : null;
      const image = read
        ? pixelsToo
          ? await decoder.decodePixels!(read.bytes, read.name)
          : await decoder!.decode(read.bytes, read.name)
        : await decodeResized(input, size, { maxPixels: opts.maxPixels });
      return { image, meta: { index, input } };
    } catch (e) {
      if (opts.onImageError !== 'skip' || !(e instanceof ImageError)) throw e;
      return { meta: { index, input, error: e } };
    }
  };
  const decoded = inOrder(images, decodeOne, decoder?.maxInFlight ?? 1);
  const batches = batchImages(decoded, batchSize, { size, mean: model.config.mean, std: model.config.std });
  const forwardOpts = { resolution: size, outputs, hiddenBlock: opts.hiddenBlock };
  for await (const r of forwardInFlight(model, batches, forwardOpts, inFlight)) {
    for (const { meta, row } of r.tag) {
      if (row >= 0) indices.push(meta.index);
      else {
        const e = meta.error!;
        failed.push({
          index: meta.index,
          image: typeof meta.input === 'string' ? meta.input : e.image,
          message: e.message,
        });
      }
    }
    if (r.count > 0) for (const k of outputs) (parts[k] ??= []).push(r.outputs[k]!);
    opts.onProgress?.(r.tag.at(-1)!.meta.index + 1, images.length);
  }
  const result: EncodeResult = { count: indices.length, indices, failed, ms: 0 };
  for (const [k, list] of Object.entries(parts) as [ViTOutputName, Float32Array[]][]) {
    result[k] = concat(list);
  }
  result.ms = performance.now() - t0;
  return result;
}
