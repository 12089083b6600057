// safetensors reader: an 8-byte little-endian header length, a JSON header
// {key: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {...}}, then the raw data.
// Every header field is validated against the file before any tensor is read.
import { CheckpointError } from '../errors.js';
import { decodeFloats, numel, STORED_BYTES, type Checkpoint, type StoredDType, type StoredTensor } from './checkpoint.js';
import { readRange, type ByteSource } from './source.js';

const MAX_HEADER = 100 * 1024 * 1024;

interface Entry extends StoredTensor {
  readonly begin: number;
  readonly end: number;
}

export async function openSafetensors(src: ByteSource): Promise<Checkpoint> {
  const file = src.name;
  const size = src.blob.size;
  if (size < 8) throw new CheckpointError(file, `not a safetensors file: ${size} bytes, shorter than the 8-byte header length`);
  const lenBytes = await readRange(src, 0, 8);
  const headerLen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
  if (headerLen > MAX_HEADER || 8 + headerLen > size) {
    throw new CheckpointError(file, `header length ${headerLen} does not fit the file of ${size} bytes (truncated or not safetensors)`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await readRange(src, 8, 8 + headerLen)));
  } catch (e) {
    throw new CheckpointError(file, `header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new CheckpointError(file, 'header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataSize = size - dataStart;
  const tensors = new Map<string, Entry>();
  let metadata: Record<string, string> = {};
  for (const [key, raw] of Object.entries(header)) {
    if (key === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const v = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof v !== 'object' || v === null) throw new CheckpointError(file, 'header entry is not an object', key);
    if (typeof v.dtype !== 'string' || !(v.dtype in STORED_BYTES)) {
      throw new CheckpointError(file, `dtype ${JSON.stringify(v.dtype)} is not supported (F32, F16, BF16)`, key);
    }
    const dtype = v.dtype as StoredDType;
    if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new CheckpointError(file, `shape ${JSON.stringify(v.shape)} is not a list of non-negative integers`, key);
    }
    const shape = v.shape as number[];
    const off = v.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[0] > off[1]) {
      throw new CheckpointError(file, `data_offsets ${JSON.stringify(off)} is not [begin, end]`, key);
    }
    const [begin, end] = off as [number, number];
    const want = numel(shape) * STORED_BYTES[dtype];
    if (end - begin !== want) {
      throw new CheckpointError(file, `data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape [${shape.join(', ')}] of ${dtype} needs ${want}`, key);
    }
    if (end > dataSize) {
      throw new CheckpointError(file, `data ends at byte ${dataStart + end} but the file has ${size} bytes (truncated?)`, key);
    }
    tensors.set(key, { key, dtype, shape, begin, end });
  }
  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.begin < sorted[i - 1]!.end) {
      throw new CheckpointError(file, `data overlaps that of '${sorted[i - 1]!.key}'`, sorted[i]!.key);
    }
  }
  return {
    file,
    format: 'safetensors',
    tensors,
    metadata,
    async read(key) {
      const e = tensors.get(key);
      if (!e) throw new CheckpointError(file, 'no such tensor', key);
      const bytes = await readRange(src, dataStart + e.begin, dataStart + e.end);
      return decodeFloats(file, key, e.dtype, bytes, numel(e.shape));
    },
  };
}
