// Image decoding to 8-bit RGB, as Pillow's `Image.open(f).convert('RGB')` gives it (what
// OpenVision's preprocessing starts from): JPEG with libjpeg-turbo (WebAssembly, ./jpeg.ts) in Node
// and browsers alike; PNG with pngjs in Node and the browser's decoder (no colour management) in
// a browser. Alpha is dropped and grey is replicated, as convert('RGB') does. EXIF orientation is
// not applied (neither does OpenVision's pipeline). Every image is size-checked from its header
// against `maxPixels` before it is decoded.
import { ImageError } from '../errors.js';
import { checkOptionKeys, type KeyList } from '../options.js';
import { checkPixels, decodeJpeg } from './jpeg.js';
import type { RgbImage } from './resize.js';

export type ImageInput = string | Uint8Array | ArrayBuffer | ImageData | ImageBitmap | Blob | RgbImage;

/**
 * Default upper bound on width × height of an image to decode: Pillow's own
 * `Image.MAX_IMAGE_PIXELS` (89,478,485; ~256 MiB of RGB), above which it warns of a decompression bomb.
 */
export const DEFAULT_MAX_PIXELS = 89_478_485;

export interface DecodeOptions {
  /** Largest width × height accepted (default DEFAULT_MAX_PIXELS); checked before decoding. */
  maxPixels?: number;
}

/** The keys of DecodeOptions (an unknown one is refused, options.ts). */
export const DECODE_OPTION_KEYS = { maxPixels: true } as const satisfies KeyList<DecodeOptions>;

function rgbaToRgb(width: number, height: number, rgba: Uint8Array | Uint8ClampedArray): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height * 4; i += 4, j += 3) {
    data[j] = rgba[i]!;
    data[j + 1] = rgba[i + 1]!;
    data[j + 2] = rgba[i + 2]!;
  }
  return { width, height, data };
}

/**
 * A 16-bit PNG (RGBA of 16-bit values from pngjs) to 8-bit RGB as Pillow's `convert('RGB')` makes
 * it: 16-bit grayscale opens as mode 'I' and converts by clipping to 0..255 (a value of 1000 gives
 * 255, not 3); the colour and alpha types open as 'RGB' / 'RGBA' from their high bytes.
 * test/fixtures/png16 (tools/make-png16-fixtures.py, Pillow 9.4) is the reference.
 */
function pillow16ToRgb(width: number, height: number, rgba: Uint16Array, grayscale: boolean): RgbImage {
  const data = new Uint8Array(width * height * 3);
  const to8 = grayscale ? (v: number) => Math.min(v, 255) : (v: number) => v >> 8;
  for (let i = 0, j = 0; i < width * height * 4; i += 4, j += 3) {
    data[j] = to8(rgba[i]!);
    data[j + 1] = to8(rgba[i + 1]!);
    data[j + 2] = to8(rgba[i + 2]!);
  }
  return { width, height, data };
}

const isPng = (b: Uint8Array) => b.length > 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
const isJpeg = (b: Uint8Array) => b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** Width and height from a PNG's IHDR chunk (bytes 16..24), before decoding. */
function pngSize(b: Uint8Array, name: string): [number, number] {
  if (b.length < 24 || String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!) !== 'IHDR')
    throw new ImageError(name, 'PNG has no IHDR chunk (truncated?)');
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return [v.getUint32(16), v.getUint32(20)];
}

async function decodeBytes(bytes: Uint8Array, name: string, maxPixels: number): Promise<RgbImage> {
  if (isJpeg(bytes)) return decodeJpeg(bytes, name, maxPixels);
  if (isPng(bytes)) {
    const [w, h] = pngSize(bytes, name);
    checkPixels(name, 'PNG', w, h, maxPixels);
    if (!isNode) return decodeInBrowser(new Blob([bytes as Uint8Array<ArrayBuffer>]), name);
    const { PNG } = await import('pngjs');
    const sixteen = bytes[24] === 16; // IHDR bit depth
    let png;
    try {
      png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { skipRescale: sixteen });
    } catch (e) {
      throw new ImageError(name, `cannot decode PNG: ${(e as Error).message}`);
    }
    if (sixteen) return pillow16ToRgb(png.width, png.height, png.data as unknown as Uint16Array, bytes[25] === 0);
    return rgbaToRgb(png.width, png.height, png.data);
  }
  // Other formats (WebP, GIF, …) only where a browser decodes them; Pillow parity is not claimed.
  if (!isNode && typeof createImageBitmap === 'function')
    return decodeInBrowser(new Blob([bytes as Uint8Array<ArrayBuffer>]), name, maxPixels);
  throw new ImageError(name, 'not a PNG or JPEG file');
}

/** The browser's own decoder, without colour-space conversion or alpha premultiplication. */
async function decodeInBrowser(blob: Blob, name: string, maxPixels?: number): Promise<RgbImage> {
  let bmp: ImageBitmap;
  try {
    bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (e) {
    throw new ImageError(name, `the browser cannot decode this image: ${(e as Error).message}`);
  }
  try {
    if (maxPixels !== undefined) checkPixels(name, 'image', bmp.width, bmp.height, maxPixels);
    return bitmapToRgb(bmp, name);
  } finally {
    bmp.close();
  }
}

function bitmapToRgb(bmp: ImageBitmap, name: string): RgbImage {
  const canvas = new OffscreenCanvas(bmp.width, bmp.height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new ImageError(name, 'no 2d canvas context to read the image');
  ctx.drawImage(bmp, 0, 0);
  const d = ctx.getImageData(0, 0, bmp.width, bmp.height);
  return rgbaToRgb(d.width, d.height, d.data);
}

/**
 * The undecoded bytes of an input and the name its errors use: a path is read (Node), an http(s) URL
 * fetched, bytes and Blobs taken as they are; `null` for an input that is already decoded (ImageData,
 * ImageBitmap, RgbImage). A failure to read is an ImageError naming the path or URL.
 */
export async function readImageBytes(input: ImageInput): Promise<{ bytes: Uint8Array; name: string } | null> {
  if (typeof input === 'string' && /^https?:\/\//i.test(input)) {
    // An http(s) URL: fetched (in Node and in browsers); every failure names the URL.
    try {
      const r = await fetch(input);
      if (!r.ok) throw new ImageError(input, `HTTP ${r.status} ${r.statusText}`);
      return { bytes: new Uint8Array(await r.arrayBuffer()), name: input };
    } catch (e) {
      if (e instanceof ImageError) throw e;
      throw new ImageError(input, `cannot be fetched: ${(e as Error).message}`);
    }
  }
  if (typeof input === 'string') {
    if (!isNode)
      throw new ImageError(input, 'a path can be read only in Node; pass a File, Blob or bytes in a browser');
    const { readFile } = await import('node:fs/promises');
    try {
      return { bytes: await readFile(input), name: input };
    } catch (e) {
      throw new ImageError(input, `cannot read: ${(e as Error).message}`);
    }
  }
  if (input instanceof Uint8Array) return { bytes: input, name: '<bytes>' };
  if (input instanceof ArrayBuffer) return { bytes: new Uint8Array(input), name: '<bytes>' };
  if (typeof Blob !== 'undefined' && input instanceof Blob)
    return { bytes: new Uint8Array(await input.arrayBuffer()), name: (input as File).name || '<blob>' };
  return null;
}

/**
 * Decodes one image to RGB. Strings are http(s) URLs (fetched) or file paths (Node); bytes and Blobs/Files are sniffed
 * (PNG, JPEG). ImageData / ImageBitmap are already decoded by the browser and taken as they are.
 */
export async function decodeImage(input: ImageInput, opts: DecodeOptions = {}): Promise<RgbImage> {
  checkOptionKeys('decodeImage', opts, DECODE_OPTION_KEYS);
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!(maxPixels > 0)) throw new ImageError('decodeImage', `maxPixels must be a positive number, got ${maxPixels}`);
  const read = await readImageBytes(input);
  if (read) return decodeBytes(read.bytes, read.name, maxPixels);
  if (typeof ImageData !== 'undefined' && input instanceof ImageData)
    return rgbaToRgb(input.width, input.height, input.data);
  if (typeof ImageBitmap !== 'undefined' && input instanceof ImageBitmap) return bitmapToRgb(input, '<ImageBitmap>');
  const rgb = input as RgbImage;
  if (
    rgb &&
    typeof rgb === 'object' &&
    rgb.data instanceof Uint8Array &&
    Number.isInteger(rgb.width) &&
    Number.isInteger(rgb.height) &&
    rgb.width > 0 &&
    rgb.height > 0 &&
    rgb.data.length === rgb.width * rgb.height * 3
  )
    return rgb;
  throw new ImageError(
    'decodeImage',
    `unsupported input ${describe(input)} (a path, PNG/JPEG bytes, a Blob/File, ImageData, ImageBitmap or {width, height, data: RGB bytes})`,
  );
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x !== 'object') return typeof x;
  return x.constructor?.name ?? 'object';
}
