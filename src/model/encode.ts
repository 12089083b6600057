// Images in, embeddings out: decode → OpenVision preprocessing → batched forward passes.
import { checkHiddenBlockUse, concat, isList } from './arguments.js';
import type { ViTOutputName, ViTOutputs, VisionTransformer } from './vit.js';
import { ArgumentError, ImageError } from '../errors.js';
import { checkOptionKeys, type KeyList } from '../options.js';
import { decodeResized, normalizeBatch, type ImageInput, type RgbImage } from '../preprocess/index.js';

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
  checkHiddenBlockUse('encodeImages', opts.hiddenBlock, outputs); // before any image is decoded
  model.checkResolution('encodeImages', size); // before any image is decoded too
  const parts: Partial<Record<ViTOutputName, Float32Array[]>> = {};
  const indices: number[] = [];
  const failed: EncodeResult['failed'] = [];
  for (let start = 0; start < images.length; start += batchSize) {
    const chunk = images.slice(start, start + batchSize);
    const resized: RgbImage[] = [];
    for (const [j, input] of chunk.entries()) {
      try {
        resized.push(await decodeResized(input, size, { maxPixels: opts.maxPixels }));
        indices.push(start + j);
      } catch (e) {
        if (opts.onImageError !== 'skip' || !(e instanceof ImageError)) throw e;
        failed.push({ index: start + j, image: typeof input === 'string' ? input : e.image, message: e.message });
      }
    }
    if (resized.length > 0) {
      const pixels = normalizeBatch(resized, { size, mean: model.config.mean, std: model.config.std });
      const out: ViTOutputs = await model.forward(pixels, resized.length, {
        resolution: size,
        outputs,
        hiddenBlock: opts.hiddenBlock,
      });
      for (const k of outputs) (parts[k] ??= []).push(out[k]!);
    }
    opts.onProgress?.(start + chunk.length, images.length);
  }
  const result: EncodeResult = { count: indices.length, indices, failed, ms: 0 };
  for (const [k, list] of Object.entries(parts) as [ViTOutputName, Float32Array[]][]) {
    result[k] = concat(list);
  }
  result.ms = performance.now() - t0;
  return result;
}
