// JPEG decoding with libjpeg-turbo (WebAssembly, from @cwasm/jpeg-turbo), set up as Pillow
// decodes: islow IDCT, fancy (triangular) chroma upsampling, and for 4-channel files Pillow's
// "CMYK;I" reading (Adobe-inverted CMYK) followed by its CMYK → RGB conversion. On the reference
// set (tools/make-jpeg-fixtures.py: 4:2:0, 4:2:2, 4:4:4, progressive, grayscale, CMYK/YCCK, odd
// sizes) the RGB bytes equal Pillow 9.4's exactly.
//
// The WebAssembly module is compiled once; every decode gets its own instance. libjpeg reports a
// fatal error through longjmp, which this build turns into a JS exception that unwinds the module
// mid-call: a fresh instance per image means no state (or leaked WebAssembly heap) survives a
// corrupt file.
import { ImageError } from '../errors.js';
import { jpegTurboWasmBase64 } from './jpeg-turbo.generated.js';
import type { RgbImage } from './resize.js';

// TurboJPEG constants (turbojpeg.h).
const TJCS = ['RGB', 'YCbCr', 'GRAY', 'CMYK', 'YCCK'] as const;
const TJPF_RGB = 0,
  TJPF_GRAY = 6,
  TJPF_CMYK = 11;

interface TurboJpeg {
  memory: WebAssembly.Memory;
  malloc(n: number): number;
  free(p: number): void;
  tjInitDecompress(): number;
  tjDestroy(h: number): number;
  tjDecompressHeader3(
    h: number,
    src: number,
    len: number,
    w: number,
    hgt: number,
    subsamp: number,
    colorspace: number,
  ): number;
  tjDecompress2(
    h: number,
    src: number,
    len: number,
    dst: number,
    w: number,
    pitch: number,
    hgt: number,
    pf: number,
    flags: number,
  ): number;
}

class LibjpegError extends Error {}

const imports = {
  // libjpeg's error_exit longjmps back to TurboJPEG's setjmp; this build has no setjmp support, so
  // the jump becomes an exception and the instance is discarded.
  env: {
    setjmp: () => 0,
    longjmp: () => {
      throw new LibjpegError('corrupt or unsupported JPEG data');
    },
  },
  wasi_snapshot_preview1: {
    environ_sizes_get: () => 0,
    environ_get: () => 0,
    proc_exit: () => 0,
    fd_close: () => 0,
    fd_seek: () => 0,
    fd_write: () => 0, // libjpeg's default message output (warnings); warnings are not errors here
  },
};

let compiled: Promise<WebAssembly.Module> | null = null;
function wasmModule(): Promise<WebAssembly.Module> {
  compiled ??= WebAssembly.compile(Uint8Array.from(atob(jpegTurboWasmBase64), (c) => c.charCodeAt(0)));
  return compiled;
}

/** What a JPEG's header says, read without decoding the image. */
export interface JpegHeader {
  width: number;
  height: number;
  colorspace: (typeof TJCS)[number];
}

/**
 * Decodes a JPEG to 8-bit RGB exactly as Pillow's `Image.open(f).convert('RGB')` does. `maxPixels`
 * is checked against the header before any pixel is decoded. Errors name the image.
 */
export async function decodeJpeg(bytes: Uint8Array, name: string, maxPixels: number): Promise<RgbImage> {
  const instance = await WebAssembly.instantiate(await wasmModule(), imports);
  const tj = instance.exports as unknown as TurboJpeg;
  try {
    const src = tj.malloc(bytes.length);
    new Uint8Array(tj.memory.buffer, src, bytes.length).set(bytes);
    const handle = tj.tjInitDecompress();
    if (!handle) throw new ImageError(name, 'JPEG decoder could not be initialised');
    const meta = tj.malloc(16);
    if (tj.tjDecompressHeader3(handle, src, bytes.length, meta, meta + 4, meta + 8, meta + 12) !== 0) {
      throw new ImageError(name, 'not a decodable JPEG (bad header)');
    }
    const [width, height, , cs] = new Int32Array(tj.memory.buffer, meta, 4) as unknown as [
      number,
      number,
      number,
      number,
    ];
    const colorspace = TJCS[cs];
    if (!colorspace) throw new ImageError(name, `JPEG colour space ${cs} is not supported`);
    checkPixels(name, 'JPEG', width, height, maxPixels);
    const four = colorspace === 'CMYK' || colorspace === 'YCCK';
    const format = colorspace === 'GRAY' ? TJPF_GRAY : four ? TJPF_CMYK : TJPF_RGB;
    const channels = format === TJPF_GRAY ? 1 : four ? 4 : 3;
    const dst = tj.malloc(width * height * channels);
    if (!dst) throw new ImageError(name, `JPEG of ${width}×${height} does not fit the decoder's memory`);
    // A non-zero return without an exception is a libjpeg warning; the image was decoded. Pillow
    // accepts warnings (e.g. "extraneous bytes before marker", common in camera files) but refuses
    // a file that ends before its last scan does ("image file is truncated"); so does this.
    if (
      tj.tjDecompress2(handle, src, bytes.length, dst, width, width * channels, height, format, 0) !== 0 &&
      !hasEndOfImage(bytes)
    ) {
      throw new ImageError(name, 'JPEG file is truncated (its last scan has no end-of-image marker)');
    }
    return toRgb(new Uint8Array(tj.memory.buffer, dst, width * height * channels), width, height, channels);
  } catch (e) {
    if (e instanceof LibjpegError) throw new ImageError(name, e.message);
    if (e instanceof WebAssembly.RuntimeError) throw new ImageError(name, `JPEG decoder failed: ${e.message}`);
    throw e;
  }
  // No free/tjDestroy: the instance and its memory are dropped here, whatever happened.
}

/** Whether an EOI marker (FF D9) follows the last start-of-scan (FF DA); neither occurs inside entropy-coded data. */
function hasEndOfImage(b: Uint8Array): boolean {
  let sos = -1;
  for (let i = b.length - 2; i >= 0; i--)
    if (b[i] === 0xff && b[i + 1] === 0xda) {
      sos = i;
      break;
    }
  if (sos < 0) return false;
  for (let i = sos + 2; i < b.length - 1; i++) if (b[i] === 0xff && b[i + 1] === 0xd9) return true;
  return false;
}

/** Pillow's MULDIV255: a·b/255 rounded, in integers. */
const muldiv255 = (a: number, b: number): number => {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
};

function toRgb(px: Uint8Array, width: number, height: number, channels: number): RgbImage {
  const n = width * height;
  const data = new Uint8Array(n * 3);
  if (channels === 3) {
    data.set(px);
  } else if (channels === 1) {
    for (let i = 0; i < n; i++) data[3 * i] = data[3 * i + 1] = data[3 * i + 2] = px[i]!;
  } else {
    // Pillow reads 4-channel JPEGs as "CMYK;I" (stored inverted, the Adobe convention), then
    // convert('RGB') computes (255 - k) - c·(255 - k)/255 per channel (Convert.c, cmyk2rgb).
    for (let i = 0; i < n; i++) {
      const nk = px[4 * i + 3]!; // 255 - k, with k = 255 - stored
      for (let c = 0; c < 3; c++) data[3 * i + c] = nk - muldiv255(255 - px[4 * i + c]!, nk);
    }
  }
  return { width, height, data };
}

/** Throws before decoding when an image claims more pixels than allowed. */
export function checkPixels(name: string, format: string, width: number, height: number, maxPixels: number): void {
  if (width <= 0 || height <= 0) throw new ImageError(name, `${format} claims an empty size ${width}×${height}`);
  if (width * height > maxPixels) {
    throw new ImageError(
      name,
      `${format} of ${width}×${height} = ${width * height} pixels exceeds the limit of ${maxPixels} pixels (option maxPixels)`,
    );
  }
}
