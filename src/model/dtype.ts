// The `dtype` of a loaded model: how its matrices (linear layers, patch embedding, token embedding,
// projections) are held on the GPU — 'fp32', 'fp16' (half the bytes) or 'q8' (symmetric int8 per
// output channel with a float32 scale each, about a quarter). Biases, LayerNorms, positions, the class
// token and the logit scale stay float32, and all arithmetic is float32 (kernels/program/weight-format.ts).
// Also the q8 checkpoint layout that `wgsl-vit convert --dtype q8` writes and `load` reads.
import { ArgumentError, CheckpointError } from '../errors.js';
import type { Checkpoint } from '../weights/checkpoint.js';
import {
  bf16ToF16Bits,
  dequantize,
  f16BitsToF32,
  quantizeQ8,
  toF16,
  type Q8Weight,
} from '../kernels/program/weight-format.js';
import type { WeightDType } from '../kernels/program/types.js';
import { elementCount } from '../shape.js';
import { paramRole, ROLE_TRAITS } from '../graph/placement.js';

export type ModelDType = 'fp32' | 'fp16' | 'q8';
export const MODEL_DTYPES: readonly ModelDType[] = ['fp32', 'fp16', 'q8'];
/** The kernels' name of each model dtype (WeightDType). */
export const KERNEL_DTYPE: Record<ModelDType, WeightDType> = { fp32: 'f32', fp16: 'f16', q8: 'q8' };
export const MODEL_DTYPE: Record<WeightDType, ModelDType> = { f32: 'fp32', f16: 'fp16', q8: 'q8' };

/** The `load` option, checked: an unknown dtype is an ArgumentError naming it. */
export function checkModelDType(where: string, d: unknown): ModelDType | undefined {
  if (d === undefined) return undefined;
  if (typeof d === 'string' && (MODEL_DTYPES as readonly string[]).includes(d)) return d as ModelDType;
  throw new ArgumentError(where, 'dtype', `must be one of ${MODEL_DTYPES.join(', ')}, got ${JSON.stringify(d)}`);
}

/**
 * The matrices (keys without the 'visual.' prefix; graph/placement.ts's PARAM_ROLES): what a dtype
 * applies to. Everything else (biases, LayerNorms, positions, class token, logit scale) stays float32.
 */
export const isMatrixKey = (key: string): boolean => paramRole(key) !== null;
/** The matrices stored [in, out] (x @ proj): their output channels are the last axis. */
export const isInOutKey = (key: string): boolean => {
  const role = paramRole(key);
  return role !== null && ROLE_TRAITS[role].inOut;
};
/** A full checkpoint key (with 'visual.' where present) without that prefix. */
export const towerKey = (full: string): string => full.replace(/^visual\./, '');

// The q8 checkpoint layout (safetensors): each matrix `key` as I8 in its usual shape, values in
// [-127, 127], beside `key + Q8_SCALE_SUFFIX`, F32 [output channels] (axis 0; the last axis of
// proj / text_projection, which are [in, out]): value = scale[channel] · q. The file's __metadata__
// holds Q8_METADATA_KEY: Q8_LAYOUT, without which I8 tensors are refused (another tool's int8).
export const Q8_SCALE_SUFFIX = '.q8_scale';
export const Q8_METADATA_KEY = 'wgsl-vit.q8';
export const Q8_LAYOUT =
  'int8 symmetric per output channel; <key> I8 in the usual shape, <key>.q8_scale F32 [out channels]';

/** Whether `full` is a q8 scale tensor of a matrix key in this file. */
export function isQ8ScaleKey(ckpt: Checkpoint, full: string): boolean {
  if (!full.endsWith(Q8_SCALE_SUFFIX)) return false;
  const base = full.slice(0, -Q8_SCALE_SUFFIX.length);
  return isMatrixKey(towerKey(base)) && ckpt.tensors.get(base)?.dtype === 'I8';
}

/** The dtype a checkpoint's matrices are stored in, as a model dtype: q8 if any is I8, fp16 if all are F16, else fp32. */
export function storedModelDType(ckpt: Checkpoint, fullKeys: Iterable<string>): ModelDType {
  let all16 = true,
    any = false;
  for (const k of fullKeys) {
    if (!isMatrixKey(towerKey(k))) continue;
    const d = ckpt.tensors.get(k)?.dtype;
    if (d === 'I8') return 'q8';
    any = true;
    if (d !== 'F16') all16 = false;
  }
  return any && all16 ? 'fp16' : 'fp32';
}

async function raw(ckpt: Checkpoint, full: string): Promise<Uint8Array> {
  if (!ckpt.readRaw) throw new CheckpointError(ckpt.file, 'its container cannot give raw tensor bytes', full);
  return ckpt.readRaw(full);
}

/** [rows, cols] → [cols, rows] of any typed array. */
export function transposeArray<T extends Float32Array | Uint16Array | Int8Array>(a: T, rows: number, cols: number): T {
  const t = new (a.constructor as new (n: number) => T)(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c]!;
  return t;
}

/** A q8 matrix of a q8 file, checked (layout declared, scales present, finite, the right shape; q in ±127), as stored. */
export async function readStoredQ8(ckpt: Checkpoint, full: string): Promise<Q8Weight> {
  const t = ckpt.tensors.get(full)!;
  if (ckpt.metadata[Q8_METADATA_KEY] !== Q8_LAYOUT)
    throw new CheckpointError(
      ckpt.file,
      `is stored as I8, but the file does not declare the wgsl-vit q8 layout (__metadata__ '${Q8_METADATA_KEY}'): int8 tensors of another layout cannot be read`,
      full,
    );
  const scaleKey = full + Q8_SCALE_SUFFIX;
  const st = ckpt.tensors.get(scaleKey);
  const channels = isInOutKey(towerKey(full)) ? t.shape[t.shape.length - 1]! : t.shape[0]!;
  if (!st) throw new CheckpointError(ckpt.file, `is stored as I8 but its scales '${scaleKey}' are missing`, full);
  if (st.dtype !== 'F32' || st.shape.length !== 1 || st.shape[0] !== channels)
    throw new CheckpointError(
      ckpt.file,
      `must be F32 [${channels}] (one scale per output channel of '${full}'), got ${st.dtype} [${st.shape.join(', ')}]`,
      scaleKey,
    );
  const scale = await ckpt.read(scaleKey);
  for (let i = 0; i < scale.length; i++)
    if (!(Number.isFinite(scale[i]!) && scale[i]! >= 0))
      throw new CheckpointError(
        ckpt.file,
        `scale ${scale[i]} at index ${i} is not a finite non-negative number`,
        scaleKey,
      );
  const bytes = await raw(ckpt, full);
  const q = new Int8Array(bytes.slice().buffer);
  for (let i = 0; i < q.length; i++)
    if (q[i] === -128)
      throw new CheckpointError(ckpt.file, `value -128 at flat index ${i} is outside the symmetric range ±127`, full);
  return { q, scale };
}

/** Throws unless every binary16 value is finite (exponent 31 is ±Infinity or NaN). */
function checkFiniteHalves(ckpt: Checkpoint, full: string, h: Uint16Array, from: string): void {
  for (let i = 0; i < h.length; i++) {
    if ((h[i]! & 0x7c00) === 0x7c00)
      throw new CheckpointError(
        ckpt.file,
        `${from === 'F16' ? 'non-finite value' : `${from} value that is not a finite float16 (|v| > 65504 or non-finite):`} ${f16BitsToF32(h[i]!)} at flat index ${i}`,
        full,
      );
  }
}

/**
 * One matrix of a checkpoint in `target` dtype and the GPU's [out, in] orientation (transposed where
 * the file holds [in, out]): float32 values, binary16 bits, or int8 with per-row scales. F16 (and
 * BF16) tensors become f16 without a float32 copy of the tensor; q8 tensors become q8 as stored;
 * anything else is converted (non-finite values, and values beyond float16's range for fp16, are
 * refused naming the tensor).
 */
export async function readMatrix(
  ckpt: Checkpoint,
  full: string,
  target: WeightDType,
  shape: readonly number[],
  transposed: boolean,
): Promise<Float32Array | Uint16Array | Q8Weight> {
  const stored = ckpt.tensors.get(full)!.dtype;
  const rows = shape[0]!,
    cols = elementCount(shape) / rows;
  // GPU orientation: [out, in] = [cols, rows] for the transposed keys.
  const [R, K] = transposed ? [cols, rows] : [rows, cols];
  if (stored === 'I8') {
    const s = await readStoredQ8(ckpt, full);
    const q8: Q8Weight = transposed ? { q: transposeArray(s.q, rows, cols), scale: s.scale } : s;
    if (target === 'q8') return q8;
    const f = dequantize(q8, R, K);
    return target === 'f16' ? toF16Checked(ckpt, full, f) : f;
  }
  if (target === 'f16' && (stored === 'F16' || stored === 'BF16') && ckpt.readRaw) {
    const bytes = await ckpt.readRaw(full);
    let h = new Uint16Array(bytes.slice().buffer);
    if (stored === 'BF16') for (let i = 0; i < h.length; i++) h[i] = bf16ToF16Bits(h[i]!);
    checkFiniteHalves(ckpt, full, h, stored);
    if (transposed) h = transposeArray(h, rows, cols);
    return h;
  }
  let f = await ckpt.read(full);
  for (let i = 0; i < f.length; i++)
    if (!Number.isFinite(f[i]!))
      throw new CheckpointError(ckpt.file, `non-finite value ${f[i]} at flat index ${i}`, full);
  if (transposed) f = transposeArray(f, rows, cols);
  if (target === 'f16') return toF16Checked(ckpt, full, f);
  if (target === 'q8') return quantizeQ8(f, R, K);
  return f;
}

function toF16Checked(ckpt: Checkpoint, full: string, f: Float32Array): Uint16Array {
  const h = toF16(f);
  checkFiniteHalves(ckpt, full, h, 'float32');
  return h;
}
