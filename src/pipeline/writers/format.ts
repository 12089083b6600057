// The bytes of one part of a collection run, in clip-retrieval's formats: embeddings as NumPy .npy
// (float16 or float32, optionally L2-normalised) and the metadata / failure tables as Parquet. Pure
// functions of their input (no file system, no clock), so the same part always gives the same bytes
// and this module loads in browsers too; the folder around them is src/pipeline/writers/output.ts.
//
// Parquet is written with hyparquet-writer (MIT): pure JavaScript with one dependency (hyparquet, its
// reader), ~1 MB unpacked, ES modules that run unchanged in Node and browsers, snappy built in, and
// actively maintained (hyparam). The alternatives weighed: parquet-wasm is a Rust build shipped as a
// multi-megabyte WebAssembly binary that needs an async init in browsers and takes Arrow tables, so it
// also pulls in apache-arrow; apache-arrow alone has no Parquet writer (Arrow IPC only).
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { ColumnSource } from 'hyparquet-writer';
import { f32ToF16Bits } from '../../half.js';

/** How embeddings are stored: clip-retrieval's default is float16. */
export type EmbeddingDtype = 'float16' | 'float32';

/** One input sample of a part: its row of metadata/metadata_{N}.parquet. */
export interface PartRow {
  /** The sample's identity: a webdataset `__key__`, or a path relative to the source folder. */
  key: string;
  /** Where the image came from (for a webdataset, its `__key__`, as clip-retrieval writes). */
  image_path: string;
  /** The caption (a `.txt` beside the image), or null when there is none. */
  caption?: string | null;
  /** The JSON beside the image (a `.json`), flattened into columns (see flattenJson). */
  meta?: Record<string, unknown> | null;
}

/** A sample that could not be embedded: its row of failed/failed_{N}.parquet. */
export interface FailedRow {
  key: string;
  reason: string;
}

/**
 * `rows × dim` embeddings (row-major), L2-normalised per row when `normalize` (in float64; a zero row
 * stays zero), as the bytes of a .npy file (format 1.0, C order, '<f2' or '<f4'). float16 is rounded
 * to nearest even by src/half.ts (through the float32 value).
 */
export function embeddingsNpy(
  data: Float32Array,
  rows: number,
  dim: number,
  dtype: EmbeddingDtype,
  normalize: boolean,
): Uint8Array {
  if (data.length !== rows * dim) throw new RangeError(`embeddings: ${data.length} values for ${rows} rows × ${dim}`);
  const size = dtype === 'float16' ? 2 : 4;
  const header = npyHeader(dtype === 'float16' ? '<f2' : '<f4', [rows, dim]);
  const out = new Uint8Array(header.length + rows * dim * size);
  out.set(header, 0);
  const view = new DataView(out.buffer, header.length);
  for (let r = 0; r < rows; r++) {
    const row = data.subarray(r * dim, (r + 1) * dim);
    let scale = 1;
    if (normalize) {
      let ss = 0;
      for (let i = 0; i < dim; i++) ss += row[i]! * row[i]!;
      scale = ss > 0 ? 1 / Math.sqrt(ss) : 1;
    }
    for (let i = 0; i < dim; i++) {
      const v = row[i]! * scale;
      const at = (r * dim + i) * size;
      if (size === 2) view.setUint16(at, f32ToF16Bits(v), true);
      else view.setFloat32(at, v, true);
    }
  }
  return out;
}

/** The magic, version, length and padded dict of a .npy (1.0) header, data aligned to 64 bytes. */
function npyHeader(descr: string, shape: number[]): Uint8Array {
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  dict += ' '.repeat((64 - ((10 + dict.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + dict.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0); // \x93NUMPY v1.0
  new DataView(out.buffer).setUint16(8, dict.length, true);
  out.set(new TextEncoder().encode(dict), 10);
  return out;
}

/** The fixed columns of metadata/metadata_{N}.parquet, first and in this order. */
export const METADATA_COLUMNS = ['key', 'image_path', 'caption'] as const;

/**
 * A sample's JSON as flat columns. Nested objects are flattened with '.' between the keys
 * (`{"exif": {"w": 3}}` → column `exif.w`); arrays, and objects that are empty, are kept whole as
 * their JSON text; null stays null. A field named like a fixed column (`key`, `image_path`,
 * `caption`, e.g. img2dataset's own `key` and `caption`) is kept as `json.<name>`, so the fixed
 * columns always hold what the pipeline read.
 */
export function flattenJson(meta: Record<string, unknown>): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (obj: Record<string, unknown>, prefix: string): void => {
    for (const [k, v] of Object.entries(obj)) {
      const name = prefix + k;
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0)
        walk(v as Record<string, unknown>, `${name}.`);
      else out.set(!prefix && (METADATA_COLUMNS as readonly string[]).includes(name) ? `json.${name}` : name, v);
    }
  };
  walk(meta, '');
  return out;
}

/**
 * metadata/metadata_{N}.parquet: one row per embedding row, in the same order. Columns: key,
 * image_path, caption (strings, caption nullable), then the flattened JSON fields sorted by name
 * (so the column order does not depend on the row order), each typed from its values in this part:
 * all booleans → BOOLEAN, all finite numbers → DOUBLE (JSON has one number type), otherwise STRING
 * (non-strings as their JSON text); a row without the field holds null.
 */
export function metadataParquet(rows: readonly PartRow[]): Uint8Array {
  const flat = rows.map((r) => (r.meta ? flattenJson(r.meta) : new Map<string, unknown>()));
  const names = [...new Set(flat.flatMap((m) => [...m.keys()]))].sort();
  const columns: ColumnSource[] = [
    { name: 'key', data: rows.map((r) => r.key), type: 'STRING', nullable: false },
    { name: 'image_path', data: rows.map((r) => r.image_path), type: 'STRING', nullable: false },
    { name: 'caption', data: rows.map((r) => r.caption ?? null), type: 'STRING' },
  ];
  for (const name of names) {
    const values = flat.map((m) => m.get(name) ?? null);
    const present = values.filter((v) => v !== null);
    if (present.every((v) => typeof v === 'boolean')) columns.push({ name, data: values, type: 'BOOLEAN' });
    else if (present.every((v) => typeof v === 'number' && Number.isFinite(v)))
      columns.push({ name, data: values, type: 'DOUBLE' });
    else
      columns.push({
        name,
        data: values.map((v) => (v === null || typeof v === 'string' ? v : JSON.stringify(v))),
        type: 'STRING',
      });
  }
  return parquet(columns);
}

/** failed/failed_{N}.parquet: the samples left out of the part, with why. */
export function failedParquet(failed: readonly FailedRow[]): Uint8Array {
  return parquet([
    { name: 'key', data: failed.map((f) => f.key), type: 'STRING', nullable: false },
    { name: 'reason', data: failed.map((f) => f.reason), type: 'STRING', nullable: false },
  ]);
}

function parquet(columnData: ColumnSource[]): Uint8Array {
  // createdBy fixed (no library version in the file), so the bytes depend on the rows alone.
  return new Uint8Array(parquetWriteBuffer({ columnData, createdBy: 'wgsl-vit' }));
}
