// Reading the embedding matrices of an output folder (img_emb/img_emb_{N}.npy): NumPy's .npy format
// (versions 1.0, 2.0 and 3.0), parsed here rather than by a dependency, since only one shape of it is
// wanted: a 2-D [rows, dim] array of little-endian float16 ('<f2') or float32 ('<f4') in C order,
// what src/pipeline/writers/format.ts writes and what numpy writes for such an array. Anything else
// (another dtype, big-endian, Fortran order, another rank, a size that does not match the header) is
// refused with a SearchIndexError naming the file. Pure: bytes in, no file system, so it loads in browsers too.
import { SearchIndexError } from '../../errors.js';
import type { EmbeddingDtype } from '../writers/format.js';

/** What a .npy header says: the dtype, shape and where the values start. */
export interface NpyHeader {
  dtype: EmbeddingDtype;
  rows: number;
  dim: number;
  /** Byte offset of the first value (the header's length). */
  dataOffset: number;
  /** Bytes of the values: rows · dim · (2 or 4). */
  dataBytes: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const DESCR: Readonly<Record<string, EmbeddingDtype>> = { '<f2': 'float16', '<f4': 'float32' };
/** Bytes a header may take before its dict is read (a 2.0/3.0 length field is 4 bytes: a bound on it). */
const MAX_HEADER = 1 << 20;

/**
 * The header of a .npy held in `bytes` (at least its first `npyHeaderLength(bytes)` bytes; the whole
 * file when `fileBytes` is not given, so the size is checked against the shape). `file` names it in
 * errors.
 */
export function parseNpyHeader(bytes: Uint8Array, file: string, fileBytes = bytes.length): NpyHeader {
  const bad = (d: string): never => {
    throw new SearchIndexError(file, d);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b))
    bad('is not a NumPy .npy file (no \\x93NUMPY magic at its start)');
  const major = bytes[6]!;
  if (major < 1 || major > 3) bad(`.npy format version ${major}.${bytes[7]} is not one numpy writes (1.0, 2.0, 3.0)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // 1.0: a 2-byte header length at byte 8; 2.0 and 3.0: a 4-byte one.
  const start = major === 1 ? 10 : 12;
  if (bytes.length < start) bad('is truncated inside its header');
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  if (hlen > MAX_HEADER) bad(`declares a ${hlen}-byte header: not a .npy file written by numpy`);
  if (bytes.length < start + hlen) bad('is truncated inside its header');
  const dataOffset = start + hlen;
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, dataOffset));
  const field = (name: string, value: string) => new RegExp(`['"]${name}['"]\\s*:\\s*${value}`).exec(text);
  const descr = field('descr', `['"]([^'"]*)['"]`)?.[1];
  if (descr === undefined) bad(`its header has no 'descr' (${JSON.stringify(text.trim())})`);
  const dtype = DESCR[descr!];
  if (!dtype)
    bad(`holds dtype '${descr}', not float16 ('<f2') or float32 ('<f4'): an index reads only those (little-endian)`);
  const fortran = field('fortran_order', '(True|False)')?.[1];
  if (fortran === undefined) bad("its header has no 'fortran_order'");
  if (fortran === 'True') bad('is stored in Fortran (column-major) order; an index reads C (row-major) order only');
  const shapeText = field('shape', '\\(([^)]*)\\)')?.[1];
  if (shapeText === undefined) bad("its header has no 'shape'");
  const dims = shapeText!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (dims.length !== 2 || !dims.every((d) => /^\d+$/.test(d)))
    bad(`has shape (${shapeText}), not the 2-D (rows, dim) of an embedding matrix`);
  const [rows, dim] = dims.map(Number) as [number, number];
  if (dim === 0) bad(`has shape (${rows}, 0): rows of no values`);
  const size = dtype === 'float16' ? 2 : 4;
  const dataBytes = rows * dim * size;
  if (!Number.isSafeInteger(dataBytes)) bad(`has shape (${rows}, ${dim}), too large to be a file`);
  const want = dataOffset + dataBytes;
  if (fileBytes < want)
    bad(
      `is truncated: ${fileBytes} bytes, its header's shape (${rows}, ${dim}) of ${descr} needs ${want} (a damaged or partly copied file)`,
    );
  if (fileBytes > want)
    bad(`has ${fileBytes - want} bytes after its (${rows}, ${dim}) ${descr} values: not a file numpy wrote`);
  return { dtype: dtype!, rows, dim, dataOffset, dataBytes };
}

/** Bytes of a .npy file's start that hold its whole header (given its first 12 bytes), or 0 if those are not a .npy start. */
export function npyHeaderLength(first: Uint8Array): number {
  if (first.length < 12 || MAGIC.some((b, i) => first[i] !== b)) return 0;
  const dv = new DataView(first.buffer, first.byteOffset, first.byteLength);
  return first[6] === 1 ? 10 + dv.getUint16(8, true) : 12 + Math.min(dv.getUint32(8, true), MAX_HEADER);
}

/** The values of a parsed .npy: binary16 bits or float32 values, rows · dim of them (copied when misaligned). */
export function npyValues(bytes: Uint8Array, h: NpyHeader): Uint16Array | Float32Array {
  const size = h.dtype === 'float16' ? 2 : 4;
  let data = bytes.subarray(h.dataOffset, h.dataOffset + h.dataBytes);
  if (data.byteOffset % size !== 0) data = data.slice();
  return h.dtype === 'float16'
    ? new Uint16Array(data.buffer, data.byteOffset, h.rows * h.dim)
    : new Float32Array(data.buffer, data.byteOffset, h.rows * h.dim);
}
