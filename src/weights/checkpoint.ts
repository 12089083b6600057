// A checkpoint file as a set of named float tensors, whatever its container (safetensors, torch zip).
import { CheckpointError } from '../errors.js';

export type StoredDType = 'F32' | 'F16' | 'BF16';

export interface StoredTensor {
  readonly key: string;
  readonly dtype: StoredDType;
  readonly shape: readonly number[];
}

export interface Checkpoint {
  /** File name, for error messages. */
  readonly file: string;
  readonly format: 'safetensors' | 'torch-zip';
  readonly tensors: ReadonlyMap<string, StoredTensor>;
  /** The safetensors `__metadata__` strings (empty for other formats). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Reads one tensor, converted to float32. */
  read(key: string): Promise<Float32Array>;
}

export const STORED_BYTES: Record<StoredDType, number> = { F32: 4, F16: 2, BF16: 2 };

/** Decodes little-endian F32 / F16 / BF16 bytes into a new Float32Array. */
export function decodeFloats(file: string, key: string, dtype: StoredDType, bytes: Uint8Array, count: number): Float32Array {
  if (bytes.byteLength !== count * STORED_BYTES[dtype]) {
    throw new CheckpointError(file, `expected ${count * STORED_BYTES[dtype]} bytes of ${dtype} data, found ${bytes.byteLength}`, key);
  }
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  } else if (dtype === 'BF16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) u[i] = view.getUint16(2 * i, true) << 16;
  } else {
    for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
  }
  return out;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** A checkpoint held in memory (tensors already float32), e.g. weights made by a program. */
export function memoryCheckpoint(tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>, file = '<memory>'): Checkpoint {
  const meta = new Map<string, StoredTensor>();
  for (const [key, t] of tensors) {
    if (t.data.length !== numel(t.shape)) throw new CheckpointError(file, `has ${t.data.length} values for shape [${t.shape.join(', ')}]`, key);
    meta.set(key, { key, dtype: 'F32', shape: t.shape });
  }
  return {
    file,
    format: 'safetensors',
    tensors: meta,
    metadata: {},
    async read(key) {
      const t = tensors.get(key);
      if (!t) throw new CheckpointError(file, 'no such tensor', key);
      return t.data.slice();
    },
  };
}
