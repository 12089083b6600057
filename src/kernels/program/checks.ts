// Argument checks every kernel wrapper uses: shapes, dtypes, sizes and workgroup grids, each failure
// a KernelArgumentError naming the kernel and argument.
import { KernelArgumentError } from '../../errors.js';
import { checkOptionKeys } from '../../options.js';
import { elementCount } from '../../shape.js';
import { hasSubgroupsOf8 } from './device-traits.js';
import { DTYPE_BYTES, type DType, type TensorRef, type TextureRef, type WeightDType } from './types.js';
import { expectWeightDType, weightRowWords } from './weight-format.js';

/**
 * Throws unless `args` is an object whose keys are all in `known` (a misspelt optional argument,
 * e.g. `epilog`, would otherwise be ignored): a KernelArgumentError naming the key and the known ones.
 */
export function expectKnownArgs(kernel: string, args: unknown, known: Readonly<Record<string, true>>): void {
  if (args === undefined)
    throw new KernelArgumentError(kernel, 'args', 'must be an object of arguments, got undefined');
  checkOptionKeys(kernel, args, known, {
    argument: 'args',
    noun: 'argument',
    fail: (where, argument, detail) => new KernelArgumentError(where, argument, detail),
  });
}

/** Bytes a tensor of this shape and dtype takes in a buffer (a packed weight: whole rows of words). */
export function byteSize(t: { shape: readonly number[]; dtype: DType }): number {
  if (t.dtype === 'f16' || t.dtype === 'q8') {
    const K = t.shape[t.shape.length - 1] ?? 1;
    return (elementCount(t.shape) / Math.max(1, K)) * weightRowWords(K, t.dtype) * 4;
  }
  return elementCount(t.shape) * DTYPE_BYTES[t.dtype];
}

/**
 * Throws unless every dimension of `shape` is a positive integer: a zero-size (or negative, or
 * fractional) dimension is refused here, naming the argument, rather than reaching Dawn as an
 * asynchronous "binding size is zero" or leaving an output unwritten. expectShape, the texture
 * checks and createDispatch (for every binding) call it.
 */
export function expectDims(kernel: string, arg: string, shape: readonly number[]): void {
  for (const [i, d] of shape.entries())
    if (!Number.isInteger(d) || d <= 0)
      throw new KernelArgumentError(
        kernel,
        arg,
        `dimension ${i} of [${shape.join(', ')}] must be a positive integer, got ${d}`,
      );
}

/** Throws unless `t` has exactly `expected` shape (a `-1` entry matches anything) and the dtype (default f32). */
export function expectShape(
  kernel: string,
  arg: string,
  t: TensorRef,
  expected: readonly number[],
  dtype: DType = 'f32',
): void {
  expectDims(kernel, arg, t.shape);
  const ok = t.shape.length === expected.length && expected.every((d, i) => d === -1 || d === t.shape[i]);
  if (!ok)
    throw new KernelArgumentError(kernel, arg, `expected shape [${expected.join(', ')}], got [${t.shape.join(', ')}]`);
  if (t.dtype !== dtype) throw new KernelArgumentError(kernel, arg, `expected dtype ${dtype}, got ${String(t.dtype)}`);
}

/**
 * Throws unless `w` is a weight of `shape` in one of the weight dtypes (f32, f16, q8), a 'q8' one with
 * its [rows] f32 scales and no other with scales; returns its dtype.
 */
export function expectWeight(kernel: string, arg: string, w: TensorRef, shape: readonly number[]): WeightDType {
  const dtype = expectWeightDType(kernel, arg, w.dtype);
  expectShape(kernel, arg, w, shape, dtype);
  expectScales(kernel, arg, dtype, w.scale, w.shape[0]!);
  return dtype;
}

/** Throws unless a weight of `dtype` with `rows` rows has [rows] f32 scales if it is 'q8', and none otherwise. */
function expectScales(kernel: string, arg: string, dtype: WeightDType, scale: TensorRef | undefined, rows: number) {
  if (dtype === 'q8') {
    if (!scale) throw new KernelArgumentError(kernel, arg, "a 'q8' weight needs its per-row scales (scale)");
    expectShape(kernel, `${arg}.scale`, scale, [rows]);
  } else if (scale) throw new KernelArgumentError(kernel, arg, `scales are for 'q8' weights only, got dtype ${dtype}`);
}

/**
 * Throws unless a weight matrix texture is f32, f16 or q8 with scales exactly where q8 (its shape is
 * checked by the wrapper, its size by createDispatch); returns its dtype.
 */
export function expectWeightTexture(kernel: string, arg: string, t: TextureRef): WeightDType {
  expectDims(kernel, arg, t.shape);
  const dtype = expectWeightDType(kernel, arg, t.dtype ?? 'f32');
  expectScales(kernel, arg, dtype, t.scale, t.shape[0]);
  return dtype;
}

/** Throws unless an activation matrix texture holds f32 (only weights come in f16 / q8). */
export function expectF32Texture(kernel: string, arg: string, t: TextureRef): void {
  expectDims(kernel, arg, t.shape);
  if ((t.dtype ?? 'f32') !== 'f32')
    throw new KernelArgumentError(kernel, arg, `expected an f32 matrix texture, got dtype ${String(t.dtype)}`);
}

/** Throws unless `n` is a positive integer (a size a kernel can work with). */
export function expectPositiveInt(kernel: string, arg: string, n: number): void {
  if (!Number.isInteger(n) || n <= 0)
    throw new KernelArgumentError(kernel, arg, `must be a positive integer, got ${n}`);
}

/** Splits `n` workgroups into an (x, y) grid within maxComputeWorkgroupsPerDimension. */
export function grid2d(device: GPUDevice, kernel: string, n: number): [number, number] {
  const max = device.limits.maxComputeWorkgroupsPerDimension;
  if (n <= max) return [n, 1];
  const y = Math.ceil(n / max);
  if (y > max) throw new KernelArgumentError(kernel, 'shape', `needs ${n} workgroups, over the device limit ${max}²`);
  return [Math.ceil(n / y), y];
}

/** Throws unless rows row0 .. row0 + rows - 1 lie within a tensor's `total` rows (a chunk of a tall matrix). */
export function expectRowRange(
  kernel: string,
  arg: string,
  row0: number,
  rows: number,
  total: number,
  what = "x's",
): void {
  if (!Number.isInteger(row0) || row0 < 0 || row0 + rows > total)
    throw new KernelArgumentError(kernel, arg, `rows ${row0} .. ${row0 + rows - 1} are outside ${what} ${total} rows`);
}

/** What the CPU-adapter kernels need of a device (subgroups of exactly 8 lanes), as every refusal words it. */
export const NEEDS_SUBGROUPS_OF_8 = 'needs the subgroups feature with a subgroup size of exactly 8';
/** Why a device cannot run the 'subgroup_matrix' GEMM (choose/subgroup-matrix.ts). */
export const NEEDS_SUBGROUP_MATRIX =
  'needs chromium-experimental-subgroup-matrix (with subgroups and shader-f16) and an f16 configuration (requestDevice option subgroupMatrix, docs/gpu.md)';

/** Throws unless the device has 8-lane subgroups; `what` names the variant asked for (e.g. "'subgroup' "). */
export function expectSubgroupsOf8(device: GPUDevice, kernel: string, arg: string, what = ''): void {
  if (!hasSubgroupsOf8(device)) throw new KernelArgumentError(kernel, arg, `${what}${NEEDS_SUBGROUPS_OF_8}`);
}
