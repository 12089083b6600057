// texture_pack's reference: rows row0 .. row0 + rows - 1 of a [M, K] matrix (a copy; the texture's
// zero padding is checked by its own test).
export function texturePackRef(x: Float32Array, K: number, row0: number, rows: number): Float32Array {
  return x.slice(row0 * K, (row0 + rows) * K);
}
