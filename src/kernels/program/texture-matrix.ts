// Matrices held in matrix textures (MATRIX_TEXTURE_FORMAT) (TextureRef): the layout rule, creation, upload and read-back.
// The CPU-adapter kernels read their large operands this way: a read-only storage-texture load costs
// ~1.5 instructions per value on llvmpipe where a storage-buffer load costs ~9 (docs/cpu-adapters.md).
import { KernelArgumentError } from '../../errors.js';
import { MATRIX_TEXTURE_FORMAT } from './types.js';
import type { TensorRef, TextureRef, WeightDType } from './types.js';
import { packWeight, weightRowWords, type Q8Weight } from './weight-format.js';

/**
 * Texels per row of a matrix texture with `cols` values per row: f32 4 values per texel, padded to a
 * whole number of 8-value steps (an even texel count) so that kernels stepping 8 values along a row
 * never read past it; a weight texture of dtype 'f16' 8 values per texel, 'q8' 16 (weight-format.ts).
 * The padding holds zeros.
 */
export function matrixTextureWidth(cols: number, dtype: WeightDType = 'f32'): number {
  return weightRowWords(cols, dtype, 'texture') / 4;
}

/**
 * Rows of one matrix texture the graph uses at most: WebGPU's guaranteed maxTextureDimension2D
 * (8192), so that the layout is valid on every adapter; taller matrices are processed in row chunks.
 */
export const MATRIX_TEXTURE_ROWS = 8192;
/** The texture format of every matrix texture (types.ts says why it is not rgba32float). */
export { MATRIX_TEXTURE_FORMAT } from './types.js';

const USAGE = () => GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST | GPUTextureUsage.COPY_SRC;

/** An (uninitialised) matrix texture for `rows` × `cols` values (of `dtype`, default f32). */
export function createMatrixTexture(
  device: GPUDevice,
  rows: number,
  cols: number,
  label = 'matrix',
  dtype: WeightDType = 'f32',
): TextureRef {
  const width = matrixTextureWidth(cols, dtype);
  const max = device.limits.maxTextureDimension2D;
  if (!(Number.isInteger(rows) && rows > 0 && Number.isInteger(cols) && cols > 0))
    throw new KernelArgumentError('texture', label, `invalid matrix shape [${rows}, ${cols}]`);
  if (rows > max || width > max)
    throw new KernelArgumentError(
      'texture',
      label,
      `a [${rows}, ${cols}] matrix needs a ${width}×${rows} texture, over the device's maxTextureDimension2D ${max}`,
    );
  const texture = device.createTexture({ label, size: [width, rows], format: MATRIX_TEXTURE_FORMAT, usage: USAGE() });
  return dtype === 'f32' ? { texture, shape: [rows, cols] } : { texture, shape: [rows, cols], dtype };
}

/**
 * A weight matrix texture of any weight dtype: float32 values, binary16 bits (Uint16Array) or a
 * quantized Q8Weight, whose scales go to a new buffer (`scale`). Free both with destroyWeight.
 */
export function uploadWeightTexture(
  device: GPUDevice,
  w: Float32Array | Uint16Array | Q8Weight,
  rows: number,
  cols: number,
  label = 'matrix',
): TextureRef {
  if (w instanceof Float32Array) return uploadMatrixTexture(device, w, rows, cols, label);
  const dtype: WeightDType = w instanceof Uint16Array ? 'f16' : 'q8';
  const words = packWeight(w, rows, cols, 'texture');
  const ref = createMatrixTexture(device, rows, cols, label, dtype);
  const width = matrixTextureWidth(cols, dtype);
  device.queue.writeTexture({ texture: ref.texture }, words as Uint32Array<ArrayBuffer>, { bytesPerRow: width * 16 }, [
    width,
    rows,
  ]);
  if (w instanceof Uint16Array) return ref;
  return { ...ref, scale: uploadScales(device, w.scale, `${label}.scale`) };
}

/** A [rows] f32 storage buffer of q8 scales. */
export function uploadScales(device: GPUDevice, scale: Float32Array, label: string): TensorRef {
  const buffer = device.createBuffer({
    label,
    size: Math.max(16, scale.byteLength),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(buffer, 0, scale as Float32Array<ArrayBuffer>);
  return { buffer, shape: [scale.length], dtype: 'f32' };
}

/** A matrix texture holding `data` ([rows, cols], row-major), zero-padded. */
export function uploadMatrixTexture(
  device: GPUDevice,
  data: Float32Array,
  rows: number,
  cols: number,
  label = 'matrix',
): TextureRef {
  if (data.length !== rows * cols)
    throw new KernelArgumentError('texture', label, `${data.length} values for a [${rows}, ${cols}] matrix`);
  const ref = createMatrixTexture(device, rows, cols, label);
  const width = matrixTextureWidth(cols);
  let src = data;
  if (width * 4 !== cols) {
    src = new Float32Array(rows * width * 4);
    for (let r = 0; r < rows; r++) src.set(data.subarray(r * cols, (r + 1) * cols), r * width * 4);
  }
  device.queue.writeTexture({ texture: ref.texture }, src as Float32Array<ArrayBuffer>, { bytesPerRow: width * 16 }, [
    width,
    rows,
  ]);
  return ref;
}

/** The [rows, cols] values of a matrix texture, read back (padding dropped). */
export async function readMatrixTexture(device: GPUDevice, t: TextureRef): Promise<Float32Array> {
  const [rows, cols] = t.shape;
  const width = matrixTextureWidth(cols);
  const bytesPerRow = Math.ceil((width * 16) / 256) * 256; // copyTextureToBuffer's alignment
  const staging = device.createBuffer({
    size: bytesPerRow * rows,
    usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
  });
  const enc = device.createCommandEncoder();
  enc.copyTextureToBuffer({ texture: t.texture }, { buffer: staging, bytesPerRow }, [width, rows]);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const all = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) out.set(all.subarray((r * bytesPerRow) / 4, (r * bytesPerRow) / 4 + cols), r * cols);
  return out;
}

/** Whether an argument is a TextureRef (a matrix texture) rather than a TensorRef (a buffer). */
export function isTextureRef(t: TensorRef | TextureRef): t is TextureRef {
  return 'texture' in t;
}
