// A checkpoint file as a set of named float tensors, whatever its container (safetensors, torch zip).
import { CheckpointError } from '../errors.js';
import { elementCount } from '../shape.js';
import { f16BitsToF32 } from '../half.js';

/** Float storage types a checkpoint tensor can be read from (converted to float32). */
export type StoredDType = 'F32' | 'F16' | 'BF16';

export interface StoredTensor {
  readonly key: string;
  /**
   * Its storage type: a StoredDType, or another type the file declares (e.g. I64, torch.LongStorage)
   * that is listed but cannot be read as floats; such tensors (text-tower ids, masks) are skipped
   * unless the model needs them, in which case the layout check names them.
   */
  readonly dtype: string;
  readonly shape: readonly number[];
}

export const isFloatDType = (d: string): d is StoredDType => d === 'F32' || d === 'F16' || d === 'BF16';

/** The error for a tensor whose storage type is not one of the float types. */
export function notFloatError(file: string, t: StoredTensor): CheckpointError {
  return new CheckpointError(
    file,
    `stored as ${t.dtype}, which is not a float type; only float32, float16 and bfloat16 tensors can be read`,
    t.key,
  );
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
  /**
   * The stored little-endian bytes of one tensor, unconverted (F16 bits, I8 values…): how f16 and q8
   * weights load without a float32 copy. Absent where the container cannot give them.
   */
  readRaw?(key: string): Promise<Uint8Array>;
  /** Reads an integer tensor (safetensors I32, or I64 within int32 range), e.g. an expected file's token ids. */
  readInt32?(key: string): Promise<Int32Array>;
}

export const STORED_BYTES: Record<StoredDType, number> = { F32: 4, F16: 2, BF16: 2 };

/** Decodes little-endian F32 / F16 / BF16 bytes into a new Float32Array. */
export function decodeFloats(
  file: string,
  key: string,
  dtype: StoredDType,
  bytes: Uint8Array,
  count: number,
): Float32Array {
  if (bytes.byteLength !== count * STORED_BYTES[dtype]) {
    throw new CheckpointError(
      file,
      `expected ${count * STORED_BYTES[dtype]} bytes of ${dtype} data, found ${bytes.byteLength}`,
      key,
    );
  }
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  } else if (dtype === 'BF16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) u[i] = view.getUint16(2 * i, true) << 16;
  } else {
    for (let i = 0; i < count; i++) out[i] = f16BitsToF32(view.getUint16(2 * i, true));
  }
  return out;
}

/** A checkpoint held in memory (tensors already float32), e.g. weights made by a program. */
export function memoryCheckpoint(
  tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>,
  file = '<memory>',
): Checkpoint {
  const meta = new Map<string, StoredTensor>();
  for (const [key, t] of tensors) {
    if (t.data.length !== elementCount(t.shape))
      throw new CheckpointError(file, `has ${t.data.length} values for shape [${t.shape.join(', ')}]`, key);
    meta.set(key, { key, dtype: 'F32', shape: t.shape });
  }
  return {
    file,
    format: 'safetensors',
    tensors: meta,
    metadata: {},
    read(key) {
      const t = tensors.get(key);
      if (!t) return Promise.reject(new CheckpointError(file, 'no such tensor', key));
      return Promise.resolve(t.data.slice());
    },
  };
}
