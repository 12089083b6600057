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

// The sums: the bilinear (triangle) weights are all ≥ 0 and sum to 2^22 (rounded), so a sum of
// pixel × weight terms plus the rounding half stays within [0, 255 · 2^22 + 2^21] < 2^31, as in
// Pillow's INT32 accumulators: `>> PRECISION_BITS` is its shift, and the clamp is Pillow's clip8.
const clip8 = (v: number): number => {
  const s = v >> PRECISION_BITS;
  return s < 0 ? 0 : s > 255 ? 255 : s;
};

/** The horizontal pass: each row of `inW` RGB pixels becomes `outW` pixels (rows stay contiguous). */
function horizontal(src: RgbImage, outW: number): RgbImage {
  const { ksize, bounds, kk } = precompute(src.width, outW);
  const H = src.height,
    inStride = src.width * 3,
    outStride = outW * 3;
  const s = src.data;
  const data = new Uint8Array(outStride * H);
  for (let y = 0; y < H; y++) {
    const row = y * inStride,
      orow = y * outStride;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[2 * xx]!,
        n = bounds[2 * xx + 1]!,
        k0 = xx * ksize;
      let r = 1 << (PRECISION_BITS - 1),
        g = r,
        b = r;
      let p = row + xmin * 3;
      for (let x = 0; x < n; x++, p += 3) {
        const w = kk[k0 + x]!;
        r = (r + Math.imul(s[p]!, w)) | 0;
        g = (g + Math.imul(s[p + 1]!, w)) | 0;
        b = (b + Math.imul(s[p + 2]!, w)) | 0;
      }
      const o = orow + xx * 3;
      data[o] = clip8(r);
      data[o + 1] = clip8(g);
      data[o + 2] = clip8(b);
    }
  }
  return { width: outW, height: H, data };
}

/**
 * The vertical pass, as Pillow's ImagingResampleVertical: each output row is a weighted sum of
 * input rows, computed along the row (contiguous memory) rather than down each column.
 */
function vertical(src: RgbImage, outH: number): RgbImage {
  const { ksize, bounds, kk } = precompute(src.height, outH);
  const stride = src.width * 3;
  const s = src.data;
  const data = new Uint8Array(stride * outH);
  const acc = new Int32Array(stride);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[2 * yy]!,
      n = bounds[2 * yy + 1]!,
      k0 = yy * ksize;
    acc.fill(1 << (PRECISION_BITS - 1));
    for (let y = 0; y < n; y++) {
      const w = kk[k0 + y]!,
        row = (ymin + y) * stride;
      for (let i = 0; i < stride; i++) acc[i] = (acc[i]! + Math.imul(s[row + i]!, w)) | 0;
    }
    const o = yy * stride;
    for (let i = 0; i < stride; i++) data[o + i] = clip8(acc[i]!);
  }
  return { width: src.width, height: outH, data };
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
