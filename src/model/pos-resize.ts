// A learned position table at another resolution, as open_clip's resize_pos_embed makes it: the
// class row kept, the g×g grid resized to the new grid by torch's
// F.interpolate(mode='bicubic', align_corners=False, antialias=True). Run once on the CPU in float64
// when a model is first used at a new resolution (open_clip does it in the table's dtype, float32).
//
// torch's antialiased bicubic (aten/src/ATen/native/cpu/UpSampleKernel.cpp, _upsample_bicubic2d_aa,
// the Pillow-compatible path) is separable: along each axis, output i of `out` from `in` samples,
// with scale = in / out, support = 2·max(scale, 1), center = scale·(i + 0.5), takes the inputs
// j ∈ [trunc(center − support + 0.5) clamped to 0, trunc(center + support + 0.5) clamped to in),
// weighted by the Keys cubic with a = −0.5 (not the −0.75 of torch's bicubic without antialias) at
// (j − center + 0.5) / max(scale, 1), the weights divided by their sum. Upsampling (scale < 1) is
// plain bicubic a = −0.5, renormalised where the kernel leaves the grid.

/** The cubic convolution kernel of torch's antialiased bicubic (a = −0.5, as Pillow). */
const AA_CUBIC_A = -0.5;
function cubic(x: number): number {
  const a = AA_CUBIC_A,
    t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

/** For each output index: the first input index and the normalised weights of its inputs. */
export function antialiasedBicubicWeights(inSize: number, outSize: number): { start: number; weights: number[] }[] {
  const scale = inSize / outSize;
  const support = scale >= 1 ? 2 * scale : 2;
  const invscale = scale >= 1 ? 1 / scale : 1;
  const out: { start: number; weights: number[] }[] = [];
  for (let i = 0; i < outSize; i++) {
    const center = scale * (i + 0.5);
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    const w: number[] = [];
    let total = 0;
    for (let j = xmin; j < xmax; j++) {
      const v = cubic((j - center + 0.5) * invscale);
      w.push(v);
      total += v;
    }
    out.push({ start: xmin, weights: total !== 0 ? w.map((v) => v / total) : w });
  }
  return out;
}

/**
 * A [inH·inW, C] grid (row-major, channels last) resized to [outH·outW, C] by torch's antialiased
 * bicubic (align_corners=False), in float64: along the width first, then the height.
 */
export function resizeGridBicubicAA(
  grid: ArrayLike<number>,
  channels: number,
  inH: number,
  inW: number,
  outH: number,
  outW: number,
): Float64Array {
  if (grid.length !== inH * inW * channels)
    throw new RangeError(`grid has ${grid.length} values; [${inH}·${inW}, ${channels}] needs ${inH * inW * channels}`);
  const wx = antialiasedBicubicWeights(inW, outW),
    wy = antialiasedBicubicWeights(inH, outH);
  const C = channels;
  const tmp = new Float64Array(inH * outW * C); // [inH, outW, C]
  for (let y = 0; y < inH; y++)
    for (let x = 0; x < outW; x++) {
      const { start, weights } = wx[x]!;
      const o = (y * outW + x) * C;
      for (let k = 0; k < weights.length; k++) {
        const w = weights[k]!,
          s = (y * inW + start + k) * C;
        for (let c = 0; c < C; c++) tmp[o + c]! += w * grid[s + c]!;
      }
    }
  const out = new Float64Array(outH * outW * C);
  for (let y = 0; y < outH; y++) {
    const { start, weights } = wy[y]!;
    for (let k = 0; k < weights.length; k++) {
      const w = weights[k]!;
      for (let x = 0; x < outW; x++) {
        const o = (y * outW + x) * C,
          s = ((start + k) * outW + x) * C;
        for (let c = 0; c < C; c++) out[o + c]! += w * tmp[s + c]!;
      }
    }
  }
  return out;
}

/**
 * open_clip's resize_pos_embed on one table: [1 + g², W] (class row first) → [1 + newGrid², W],
 * the class row as it is, the grid resampled (resizeGridBicubicAA). Float32 out, computed in float64.
 */
export function resizePosEmbed(table: Float32Array, width: number, grid: number, newGrid: number): Float32Array {
  if (table.length !== (1 + grid * grid) * width)
    throw new RangeError(
      `position table has ${table.length} values; [1 + ${grid}², ${width}] needs ${(1 + grid * grid) * width}`,
    );
  const out = new Float32Array((1 + newGrid * newGrid) * width);
  out.set(table.subarray(0, width));
  out.set(resizeGridBicubicAA(table.subarray(width), width, grid, grid, newGrid, newGrid), width);
  return out;
}
