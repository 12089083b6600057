// safetensors reader: an 8-byte little-endian header length, a JSON header
// {key: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {...}}, then the raw data.
// Every header field is validated against the file before any tensor is read, as the reference
// implementation (huggingface/safetensors, `Metadata::validate`) does: a JSON object starting with
// '{', no duplicate keys, string-to-string `__metadata__`, known dtypes, and tensor data that
// tiles the data section exactly (no gaps, no overlaps, no trailing bytes).
import { CheckpointError } from '../errors.js';
import { elementCount } from '../shape.js';
import { decodeFloats, isFloatDType, notFloatError, type Checkpoint, type StoredTensor } from './checkpoint.js';
import { readRange, toByteSource, type ByteSource } from './source.js';

const MAX_HEADER = 100 * 1024 * 1024;

/** Bytes per element of every dtype the safetensors format defines (F32/F16/BF16 can be read). */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** The first key that occurs twice at the top level of a JSON object text (JSON.parse keeps the last silently). */
function duplicateTopLevelKey(json: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const ch = json[i];
    if (ch === '"') {
      let j = i + 1;
      while (j < json.length && json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      if (depth === 1 && /^\s*:/.test(json.slice(j + 1, j + 16))) {
        const key = JSON.parse(json.slice(i, j + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
      }
      i = j;
    } else if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') depth--;
  }
  return null;
}

interface Entry extends StoredTensor {
  readonly begin: number;
  readonly end: number;
}

export async function openSafetensors(source: ByteSource | { name: string; blob: Blob }): Promise<Checkpoint> {
  const src = toByteSource(source);
  const file = src.name;
  const size = src.size;
  if (size < 8)
    throw new CheckpointError(file, `not a safetensors file: ${size} bytes, shorter than the 8-byte header length`);
  const lenBytes = await readRange(src, 0, 8);
  const headerLen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
  if (headerLen > MAX_HEADER || 8 + headerLen > size) {
    throw new CheckpointError(
      file,
      `header length ${headerLen} does not fit the file of ${size} bytes (truncated or not safetensors)`,
    );
  }
  let header: Record<string, unknown>;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await readRange(src, 8, 8 + headerLen));
    header = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new CheckpointError(file, `header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header) || !text.startsWith('{'))
    throw new CheckpointError(file, "header is not a JSON object starting with '{'");
  const dup = duplicateTopLevelKey(text);
  if (dup !== null) throw new CheckpointError(file, 'appears twice in the header', dup);
  const dataStart = 8 + headerLen;
  const dataSize = size - dataStart;
  const tensors = new Map<string, Entry>();
  let metadata: Record<string, string> = {};
  for (const [key, raw] of Object.entries(header)) {
    if (key === '__metadata__') {
      if (
        typeof raw !== 'object' ||
        raw === null ||
        Array.isArray(raw) ||
        !Object.values(raw).every((x) => typeof x === 'string')
      ) {
        throw new CheckpointError(
          file,
          `__metadata__ must map strings to strings, got ${JSON.stringify(raw).slice(0, 200)}`,
        );
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    const v = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof v !== 'object' || v === null) throw new CheckpointError(file, 'header entry is not an object', key);
    if (typeof v.dtype !== 'string' || !(v.dtype in DTYPE_BYTES)) {
      throw new CheckpointError(
        file,
        `dtype ${JSON.stringify(v.dtype)} is not a safetensors dtype (${Object.keys(DTYPE_BYTES).join(', ')})`,
        key,
      );
    }
    const dtype = v.dtype;
    if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new CheckpointError(file, `shape ${JSON.stringify(v.shape)} is not a list of non-negative integers`, key);
    }
    const shape = v.shape as number[];
    const off = v.data_offsets;
    if (
      !Array.isArray(off) ||
      off.length !== 2 ||
      !off.every((d) => Number.isInteger(d) && d >= 0) ||
      off[0] > off[1]
    ) {
      throw new CheckpointError(file, `data_offsets ${JSON.stringify(off)} is not [begin, end]`, key);
    }
    const [begin, end] = off as [number, number];
    const want = elementCount(shape) * DTYPE_BYTES[dtype]!;
    if (end - begin !== want) {
      throw new CheckpointError(
        file,
        `data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape [${shape.join(', ')}] of ${dtype} needs ${want}`,
        key,
      );
    }
    if (end > dataSize) {
      throw new CheckpointError(
        file,
        `data ends at byte ${dataStart + end} but the file has ${size} bytes (truncated?)`,
        key,
      );
    }
    tensors.set(key, { key, dtype, shape, begin, end });
  }
  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const [i, t] of sorted.entries()) {
    const prev = i > 0 ? `the end of '${sorted[i - 1]!.key}'` : 'the start of the data';
    if (t.begin < at)
      throw new CheckpointError(file, `data [${t.begin}, ${t.end}] overlaps ${prev} (byte ${at})`, t.key);
    if (t.begin > at)
      throw new CheckpointError(
        file,
        `data starts at byte ${t.begin} of the data section, leaving a gap after ${prev} (byte ${at})`,
        t.key,
      );
    at = t.end;
  }
  if (at !== dataSize)
    throw new CheckpointError(
      file,
      `${dataSize - at} bytes after the last tensor's data: the header does not describe the whole file`,
    );
  return {
    file,
    format: 'safetensors',
    tensors,
    metadata,
    async read(key) {
      const e = tensors.get(key);
      if (!e) throw new CheckpointError(file, 'no such tensor', key);
      if (!isFloatDType(e.dtype)) throw notFloatError(file, e);
      const bytes = await readRange(src, dataStart + e.begin, dataStart + e.end);
      return decodeFloats(file, key, e.dtype, bytes, elementCount(e.shape));
    },
    async readRaw(key) {
      const e = tensors.get(key);
      if (!e) throw new CheckpointError(file, 'no such tensor', key);
      return readRange(src, dataStart + e.begin, dataStart + e.end);
    },
    async readInt32(key) {
      const e = tensors.get(key);
      if (!e) throw new CheckpointError(file, 'no such tensor', key);
      if (e.dtype !== 'I32' && e.dtype !== 'I64')
        throw new CheckpointError(file, `stored as ${e.dtype}; expected I32 or I64 integers`, key);
      const bytes = await readRange(src, dataStart + e.begin, dataStart + e.end);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const n = elementCount(e.shape),
        out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        if (e.dtype === 'I32') out[i] = view.getInt32(4 * i, true);
        else {
          const v = view.getBigInt64(8 * i, true);
          if (v < -(2n ** 31n) || v >= 2n ** 31n)
            throw new CheckpointError(file, `value ${v} at flat index ${i} does not fit int32`, key);
          out[i] = Number(v);
        }
      }
      return out;
    },
  };
}
