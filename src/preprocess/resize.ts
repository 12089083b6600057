// Resizing exactly as Pillow's Image.resize(size, Image.BILINEAR) does for 8-bit RGB images
// (what OpenVision's released preprocessing, torchvision Resize on a PIL image, runs): a separable
// triangle filter whose support widens with the scale when shrinking (antialiasing), coefficients
// normalised then rounded to 22-bit fixed point, a horizontal pass rounded to uint8, then a
// vertical pass (Pillow's ImagingResample, libImaging/Resample.c).

/** An 8-bit RGB image, pixels interleaved row by row. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

const PRECISION_BITS = 32 - 8 - 2;

interface Coeffs {
  ksize: number;
  bounds: Int32Array; // per output: xmin, count
  kk: Int32Array; // per output: ksize fixed-point weights
}

function precompute(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 1.0 * filterscale; // bilinear filter support 1
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1.0 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      const w = t < 1 ? 1 - t : 0;
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const v = x < xmax && ww !== 0 ? k[x]! / ww : 0;
      kk[xx * ksize + x] =
        v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

const clip8 = (v: number): number => {
  const s = Math.floor(v / (1 << PRECISION_BITS)); // arithmetic shift of a value that fits int32
  return s < 0 ? 0 : s > 255 ? 255 : s;
};

/**
 * One separable pass over RGB data: every line (a row for the horizontal pass, a column for the
 * vertical one) of `inLen` pixels becomes `outLen` pixels. Strides are in bytes of the interleaved
 * RGB arrays; `lineStep`/`pixStep` address the input, `outLineStep`/`outPixStep` the output.
 */
function pass(
  src: Uint8Array,
  dst: Uint8Array,
  lines: number,
  inLen: number,
  outLen: number,
  lineStep: number,
  pixStep: number,
  outLineStep: number,
  outPixStep: number,
): void {
  const { ksize, bounds, kk } = precompute(inLen, outLen);
  for (let line = 0; line < lines; line++) {
    for (let xx = 0; xx < outLen; xx++) {
      const xmin = bounds[2 * xx]!,
        n = bounds[2 * xx + 1]!;
      let r = 1 << (PRECISION_BITS - 1),
        g = r,
        b = r;
      for (let x = 0; x < n; x++) {
        const w = kk[xx * ksize + x]!,
          p = line * lineStep + (x + xmin) * pixStep;
        r += src[p]! * w;
        g += src[p + 1]! * w;
        b += src[p + 2]! * w;
      }
      const o = line * outLineStep + xx * outPixStep;
      dst[o] = clip8(r);
      dst[o + 1] = clip8(g);
      dst[o + 2] = clip8(b);
    }
  }
}

function horizontal(src: RgbImage, outW: number): RgbImage {
  const data = new Uint8Array(outW * src.height * 3);
  pass(src.data, data, src.height, src.width, outW, src.width * 3, 3, outW * 3, 3);
  return { width: outW, height: src.height, data };
}

function vertical(src: RgbImage, outH: number): RgbImage {
  const W = src.width;
  const data = new Uint8Array(W * outH * 3);
  pass(src.data, data, W, src.height, outH, 3, W * 3, 3, W * 3);
  return { width: W, height: outH, data };
}

/** Pillow-identical bilinear resize (antialiased when shrinking) of an RGB image to width × height. */
export function resizeBilinear(img: RgbImage, width: number, height: number): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`resize: target size ${width}×${height} must be positive integers`);
  }
  let out = img;
  if (width !== img.width) out = horizontal(out, width);
  if (height !== img.height) out = vertical(out, height);
  return out;
}
