// CPU reference (float64) for the sin-cos table: the formula of ../fixtures/README.md, nothing rounded.
export function posembRef(grid: number, dim: number): Float64Array {
  const q = dim / 4;
  const out = new Float64Array((1 + grid * grid) * dim);
  for (let r = 0; r < grid; r++)
    for (let c = 0; c < grid; c++) {
      const o = (1 + r * grid + c) * dim;
      for (let i = 0; i < q; i++) {
        const w = 1 / Math.pow(10000, i / (q - 1));
        out[o + i] = Math.sin(c * w);
        out[o + q + i] = Math.cos(c * w);
        out[o + 2 * q + i] = Math.sin(r * w);
        out[o + 3 * q + i] = Math.cos(r * w);
      }
    }
  return out;
}
