// OpenVision's released preprocessing: RGB, squash-resize to S×S with PIL bilinear (antialiased),
// ToTensor (/255), Normalize(mean, std) — into one [B, 3, S, S] float32 batch.
import {
  decodeImage,
  readImageBytes,
  DECODE_OPTION_KEYS,
  DEFAULT_MAX_PIXELS,
  type DecodeOptions,
  type ImageInput,
} from './decode.js';
import { checkOptionKeys, type KeyList } from '../options.js';
import { resizeBilinear, type RgbImage } from './resize.js';

export {
  decodeImage,
  readImageBytes,
  resizeBilinear,
  DEFAULT_MAX_PIXELS,
  type DecodeOptions,
  type ImageInput,
  type RgbImage,
};

/**
 * Something that decodes and squash-resizes encoded images (PNG, JPEG bytes) to `size` × `size`
 * exactly as decodeResized does, possibly off the main thread: the collection pipeline's decode pool
 * (src/pipeline/decode/pool.ts, Node worker threads) is one. Errors are ImageErrors naming `label`.
 */
export interface ImageDecoder {
  /** The output side S. */
  readonly size: number;
  /** How many decode() calls are worth having pending at once (the pool's maxInFlight). */
  readonly maxInFlight: number;
  decode(bytes: Uint8Array, label: string): Promise<RgbImage>;
  /** The mean / std decodePixels normalises with, where it can. */
  readonly normalize?: { mean: readonly [number, number, number]; std: readonly [number, number, number] };
  /** Decoded, resized and normalised ([3, S, S] float32, as normalizeBatch of one image), where it can. */
  decodePixels?(bytes: Uint8Array, label: string): Promise<Float32Array>;
}

/** Whether a decoder normalises as `o` asks (the same mean and std), so that its decodePixels can serve. */
export function decoderNormalizes(d: ImageDecoder, o: Pick<PreprocessOptions, 'mean' | 'std'>): boolean {
  const n = d.normalize;
  return !!n && !!d.decodePixels && [0, 1, 2].every((c) => n.mean[c] === o.mean[c] && n.std[c] === o.std[c]);
}

export interface PreprocessOptions extends DecodeOptions {
  /** Output side S (the model's resolution). */
  size: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/** The keys of PreprocessOptions (an unknown one is refused, options.ts). */
export const PREPROCESS_OPTION_KEYS = {
  ...DECODE_OPTION_KEYS,
  size: true,
  mean: true,
  std: true,
} as const satisfies KeyList<PreprocessOptions>;

/** Writes one resized image, normalised, into `out` at image index `b` (CHW planes, float32 math). */
function normalizeInto(img: RgbImage, out: Float32Array, b: number, o: PreprocessOptions): void {
  const S = o.size,
    plane = S * S;
  for (let c = 0; c < 3; c++) {
    const mean = Math.fround(o.mean[c]!),
      std = Math.fround(o.std[c]!);
    const base = (b * 3 + c) * plane;
    for (let i = 0; i < plane; i++) {
      // torchvision: x / 255 in float32, then (x - mean) / std in float32.
      const x = Math.fround(img.data[i * 3 + c]! / 255);
      out[base + i] = Math.fround(x - mean) / std;
    }
  }
}

/** One image decoded and squash-resized to S×S (Pillow bilinear): the first two preprocessing steps. */
export async function decodeResized(input: ImageInput, size: number, opts: DecodeOptions = {}): Promise<RgbImage> {
  checkOptionKeys('decodeResized', opts, DECODE_OPTION_KEYS);
  return resizeBilinear(await decodeImage(input, opts), size, size);
}

/** Copies each item into a [B, 3, S, S] batch: a resized image is normalised, a [3, S, S] array taken as it is. */
export function normalizeItems(items: readonly (RgbImage | Float32Array)[], o: PreprocessOptions): Float32Array {
  const per = 3 * o.size * o.size;
  const out = new Float32Array(items.length * per);
  items.forEach((it, b) => {
    if (it instanceof Float32Array) {
      if (it.length !== per) throw new RangeError(`normalizeItems: item ${b} has ${it.length} values, ${per} expected`);
      out.set(it, b * per);
    } else normalizeInto(it, out, b, o);
  });
  return out;
}

/** Normalises resized images into a [B, 3, S, S] batch. */
export function normalizeBatch(images: readonly RgbImage[], o: PreprocessOptions): Float32Array {
  checkOptionKeys('normalizeBatch', o, PREPROCESS_OPTION_KEYS);
  const out = new Float32Array(images.length * 3 * o.size * o.size);
  images.forEach((img, b) => normalizeInto(img, out, b, o));
  return out;
}

/** Decodes, resizes and normalises images into a [B, 3, S, S] batch. */
export async function preprocessImages(images: readonly ImageInput[], o: PreprocessOptions): Promise<Float32Array> {
  checkOptionKeys('preprocessImages', o, PREPROCESS_OPTION_KEYS);
  const resized: RgbImage[] = [];
  for (const input of images) resized.push(await decodeResized(input, o.size, { maxPixels: o.maxPixels }));
  return normalizeBatch(resized, o);
}
