// Image decoding to 8-bit RGB: PNG (pngjs) and JPEG (jpeg-js) from paths or bytes in Node; in a
// browser also ImageData, ImageBitmap and Blob/File (decoded by the browser). Alpha is dropped and
// grey is replicated, as PIL's convert('RGB') does.
import type { RgbImage } from './resize.js';

export type ImageInput = string | Uint8Array | ArrayBuffer | ImageData | ImageBitmap | Blob | RgbImage;

function rgbaToRgb(width: number, height: number, rgba: Uint8Array | Uint8ClampedArray): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height * 4; i += 4, j += 3) {
    data[j] = rgba[i]!;
    data[j + 1] = rgba[i + 1]!;
    data[j + 2] = rgba[i + 2]!;
  }
  return { width, height, data };
}

const isPng = (b: Uint8Array) => b.length > 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
const isJpeg = (b: Uint8Array) => b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;

async function decodeBytes(bytes: Uint8Array, name: string): Promise<RgbImage> {
  if (isPng(bytes)) {
    const { PNG } = await import('pngjs');
    let png;
    try {
      png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (e) {
      throw new Error(`${name}: cannot decode PNG: ${(e as Error).message}`);
    }
    return rgbaToRgb(png.width, png.height, png.data);
  }
  if (isJpeg(bytes)) {
    const jpeg = (await import('jpeg-js')).default;
    let img;
    try {
      img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 2048 });
    } catch (e) {
      throw new Error(`${name}: cannot decode JPEG: ${(e as Error).message}`);
    }
    return rgbaToRgb(img.width, img.height, img.data);
  }
  if (typeof createImageBitmap === 'function') return decodeBitmap(await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>])));
  throw new Error(`${name}: not a PNG or JPEG file`);
}

function decodeBitmap(bmp: ImageBitmap): RgbImage {
  const canvas = new OffscreenCanvas(bmp.width, bmp.height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2d canvas context to read the image');
  ctx.drawImage(bmp, 0, 0);
  const d = ctx.getImageData(0, 0, bmp.width, bmp.height);
  return rgbaToRgb(d.width, d.height, d.data);
}

/** Decodes one image to RGB. Strings are file paths (Node). */
export async function decodeImage(input: ImageInput): Promise<RgbImage> {
  if (typeof input === 'string') {
    const { readFile } = await import('node:fs/promises');
    let bytes: Uint8Array;
    try {
      bytes = await readFile(input);
    } catch (e) {
      throw new Error(`${input}: cannot read: ${(e as Error).message}`);
    }
    return decodeBytes(bytes, input);
  }
  if (input instanceof Uint8Array) return decodeBytes(input, '<bytes>');
  if (input instanceof ArrayBuffer) return decodeBytes(new Uint8Array(input), '<bytes>');
  if (typeof ImageData !== 'undefined' && input instanceof ImageData) return rgbaToRgb(input.width, input.height, input.data);
  if (typeof ImageBitmap !== 'undefined' && input instanceof ImageBitmap) return decodeBitmap(input);
  if (typeof Blob !== 'undefined' && input instanceof Blob) {
    if (typeof createImageBitmap === 'function') return decodeBitmap(await createImageBitmap(input));
    return decodeBytes(new Uint8Array(await input.arrayBuffer()), (input as File).name ?? '<blob>');
  }
  const rgb = input as RgbImage;
  if (rgb.data instanceof Uint8Array && rgb.data.length === rgb.width * rgb.height * 3) return rgb;
  throw new Error('decodeImage: unsupported input (a path, PNG/JPEG bytes, ImageData, ImageBitmap, Blob or {width, height, data: RGB bytes})');
}
