// Weight matrices in 16-bit and 8-bit form (WeightDType 'f16' and 'q8'): the layout the kernels read,
// the host-side conversions (float32 → half, symmetric int8 per row) and the packing into that layout.
//
// A [rows, K] weight is stored row by row. Row r takes weightRowWords(K, dtype, storage) u32 words:
//   'f32' in a buffer: K words, one value each (no padding: the plain row-major array);
//   'f32' in a matrix texture: 8·⌈K/8⌉ words (4 per texel, rows padded to whole 8-value steps);
//   'f16' (buffer or texture): 4·⌈K/8⌉ words; word j holds values 2j (low 16 bits) and 2j + 1 (high),
//     IEEE binary16 (WGSL's unpack2x16float order); a texel holds 8 values, one k-step of 8;
//   'q8' (buffer or texture): 4·⌈K/16⌉ words; word j holds values 4j .. 4j + 3 as two's-complement
//     bytes, lowest byte first; a texel holds 16 values. Each row has an f32 scale (TensorRef.scale):
//     value = scale[r] · q[r, k], q in [-127, 127].
// The padding holds zeros, so a kernel that steps 8 (or 16) values along a row never reads garbage.
// The kernels apply the q8 scale once per output (the epilogue), not per weight: Σ_k x·(s·q) = s·Σ_k x·q.
import { KernelArgumentError } from '../../errors.js';
import type { WeightDType } from './types.js';
import { bf16ToF16Bits, f16BitsToF32, f32ToF16Bits } from '../../half.js';
import { gemmWgsl } from '../../wgsl/sources.generated.js';
import { wgslConst } from './reflect.js';

export const WEIGHT_DTYPES: readonly WeightDType[] = ['f32', 'f16', 'q8'];

// src/wgsl/_weight_format.wgsl is a partial (not exported on its own): its constants are read from a
// kernel that includes it, gemm.wgsl.
const WEIGHT_FORMAT = { name: '_weight_format.wgsl (in gemm.wgsl)', wgsl: gemmWgsl };

/** The W_DTYPE override value of each weight dtype, read from src/wgsl/_weight_format.wgsl's W_F32, W_F16, W_Q8. */
export const W_DTYPE_CODE: Record<WeightDType, number> = {
  f32: wgslConst(WEIGHT_FORMAT, 'W_F32'),
  f16: wgslConst(WEIGHT_FORMAT, 'W_F16'),
  q8: wgslConst(WEIGHT_FORMAT, 'W_Q8'),
};

/** u32 words per row of a [rows, K] weight of `dtype` in a buffer or a matrix texture (see above). */
export function weightRowWords(K: number, dtype: WeightDType, storage: 'buffer' | 'texture' = 'buffer'): number {
  if (dtype === 'f16') return 4 * Math.ceil(K / 8);
  if (dtype === 'q8') return 4 * Math.ceil(K / 16);
  return storage === 'texture' ? 8 * Math.ceil(K / 8) : K;
}

/** Whether `d` is a weight dtype; a KernelArgumentError naming `kernel` and `arg` otherwise. */
export function expectWeightDType(kernel: string, arg: string, d: unknown): WeightDType {
  if (typeof d === 'string' && (WEIGHT_DTYPES as readonly string[]).includes(d)) return d as WeightDType;
  throw new KernelArgumentError(
    kernel,
    arg,
    `dtype ${JSON.stringify(d)} is not a weight dtype (${WEIGHT_DTYPES.join(', ')})`,
  );
}

export { f32ToF16Bits, f16BitsToF32, bf16ToF16Bits };

/** float32 values → binary16 bits, one per value. */
export function toF16(data: Float32Array): Uint16Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = f32ToF16Bits(data[i]!);
  return out;
}

/** A weight quantized to 'q8': q [rows, K] int8 in [-127, 127] and scale [rows] float32. */
export interface Q8Weight {
  readonly q: Int8Array;
  readonly scale: Float32Array;
}

/**
 * Symmetric per-row int8: scale[r] = max_k |w[r, k]| / 127 (as float32), q = round(w / scale) (half
 * away from zero), clamped to ±127; an all-zero row gets scale 0 and q 0. Deterministic: the converter
 * and a load with dtype 'q8' give the same bits.
 */
export function quantizeQ8(data: Float32Array | Uint16Array, rows: number, K: number): Q8Weight {
  const value = data instanceof Uint16Array ? (i: number) => f16BitsToF32(data[i]!) : (i: number) => data[i]!;
  const q = new Int8Array(rows * K);
  const scale = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let max = 0;
    for (let k = 0; k < K; k++) max = Math.max(max, Math.abs(value(r * K + k)));
    const s = Math.fround(max / 127);
    scale[r] = s;
    if (s === 0) continue;
    for (let k = 0; k < K; k++) {
      const v = value(r * K + k) / s;
      q[r * K + k] = Math.max(-127, Math.min(127, Math.sign(v) * Math.round(Math.abs(v))));
    }
  }
  return { q, scale };
}

/** The float32 values a weight of `dtype` stands for (f16 bits widened, q8 times its row scale). */
export function dequantize(w: Float32Array | Uint16Array | Q8Weight, rows: number, K: number): Float32Array {
  if (w instanceof Float32Array) return w;
  const out = new Float32Array(rows * K);
  if (w instanceof Uint16Array) {
    for (let i = 0; i < out.length; i++) out[i] = f16BitsToF32(w[i]!);
    return out;
  }
  for (let r = 0; r < rows; r++) for (let k = 0; k < K; k++) out[r * K + k] = w.scale[r]! * w.q[r * K + k]!;
  return out;
}

/** Rows of `rowBytes` bytes copied into rows of `words` u32 words (zero padding), or viewed as is where they fit exactly. */
function padRows(bytes: Uint8Array, rows: number, rowBytes: number, words: number): Uint32Array {
  if (rowBytes === 4 * words && bytes.byteOffset % 4 === 0)
    return new Uint32Array(bytes.buffer, bytes.byteOffset, rows * words);
  const out = new Uint32Array(rows * words);
  const o8 = new Uint8Array(out.buffer);
  for (let r = 0; r < rows; r++) o8.set(bytes.subarray(r * rowBytes, (r + 1) * rowBytes), r * 4 * words);
  return out;
}

/**
 * The u32 words of a [rows, K] weight in the layout the kernels read (see above): f32 values (padded
 * for a texture), f16 bits, or q8 bytes (the scales are a separate f32 tensor).
 */
export function packWeight(
  w: Float32Array | Uint16Array | Q8Weight,
  rows: number,
  K: number,
  storage: 'buffer' | 'texture' = 'buffer',
): Uint32Array {
  const dtype: WeightDType = w instanceof Float32Array ? 'f32' : w instanceof Uint16Array ? 'f16' : 'q8';
  const data = w instanceof Float32Array || w instanceof Uint16Array ? w : w.q;
  if (data.length !== rows * K) throw new Error(`packWeight: ${data.length} values for a [${rows}, ${K}] weight`);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return padRows(bytes, rows, K * data.BYTES_PER_ELEMENT, weightRowWords(K, dtype, storage));
}

/**
 * How a buffer kernel reads f16 weights: 'native' — its native_f16 build, the halves as WGSL `f16`
 * (needs the device's shader-f16 feature); 'packed' — u32 words unpacked with unpack2x16float (every
 * device). Same bytes either way; float32 arithmetic either way.
 */
export type F16Loads = 'native' | 'packed';

/** What is wrong with asking for `asked` f16 loads on `device`, or null (the kernels' and the models' check). */
export function f16LoadsProblem(device: GPUDevice, asked: unknown): string | null {
  if (asked !== 'native' && asked !== 'packed') return `must be 'native' or 'packed', got ${JSON.stringify(asked)}`;
  if (asked === 'native' && !device.features.has('shader-f16'))
    return "'native' needs the shader-f16 feature, which this device lacks";
  return null;
}

/** The F16Loads a kernel uses on `device`: `asked`, else 'native' where the device has shader-f16. */
export function f16LoadsFor(device: GPUDevice, kernel: string, asked?: F16Loads): F16Loads {
  if (asked === undefined) return device.features.has('shader-f16') ? 'native' : 'packed';
  const problem = f16LoadsProblem(device, asked);
  if (problem) throw new KernelArgumentError(kernel, 'f16Loads', problem);
  return asked;
}

/**
 * The source a weight kernel runs: its native_f16 build for an f16 weight where f16LoadsFor says
 * 'native', else its packed build (every dtype).
 */
export function weightSource<T extends { name: string; wgsl: string }>(
  device: GPUDevice,
  dtype: WeightDType,
  packed: T,
  native: T,
  asked?: F16Loads,
): T {
  // An `asked` value is checked whatever the dtype (a typo must not pass unnoticed).
  const loads = asked !== undefined || dtype === 'f16' ? f16LoadsFor(device, packed.name, asked) : 'packed';
  return dtype === 'f16' && loads === 'native' ? native : packed;
}
