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
  kk: Int32Array;     // per output: ksize fixed-point weights
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
      kk[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
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

function horizontal(src: RgbImage, outW: number): RgbImage {
  const { ksize, bounds, kk } = precompute(src.width, outW);
  const out = new Uint8Array(outW * src.height * 3);
  for (let y = 0; y < src.height; y++) {
    const row = y * src.width * 3;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[2 * xx]!, n = bounds[2 * xx + 1]!;
      let r = 1 << (PRECISION_BITS - 1), g = r, b = r;
      for (let x = 0; x < n; x++) {
        const w = kk[xx * ksize + x]!, p = row + (x + xmin) * 3;
        r += src.data[p]! * w;
        g += src.data[p + 1]! * w;
        b += src.data[p + 2]! * w;
      }
      const o = (y * outW + xx) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return { width: outW, height: src.height, data: out };
}

function vertical(src: RgbImage, outH: number): RgbImage {
  const { ksize, bounds, kk } = precompute(src.height, outH);
  const W = src.width;
  const out = new Uint8Array(W * outH * 3);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[2 * yy]!, n = bounds[2 * yy + 1]!;
    for (let x = 0; x < W; x++) {
      let r = 1 << (PRECISION_BITS - 1), g = r, b = r;
      for (let y = 0; y < n; y++) {
        const w = kk[yy * ksize + y]!, p = ((y + ymin) * W + x) * 3;
        r += src.data[p]! * w;
        g += src.data[p + 1]! * w;
        b += src.data[p + 2]! * w;
      }
      const o = (yy * W + x) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return { width: W, height: outH, data: out };
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
