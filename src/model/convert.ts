// A checkpoint rewritten with its matrices in fp16 or q8, as a safetensors file that `load` reads
// directly (and, for fp16, that open_clip reads too: same keys and shapes, F16 matrices, the rest F32).
// The matrices are converted exactly as a load with that `dtype` converts them (dtype.ts), so the
// file loads to the same bits as an in-memory conversion; the other tensors are written as float32.
import { CheckpointError } from '../errors.js';
import { isFloatDType, type Checkpoint } from '../weights/checkpoint.js';
import { elementCount } from '../shape.js';
import type { Q8Weight } from '../kernels/program/weight-format.js';
import {
  isInOutKey,
  isMatrixKey,
  isQ8ScaleKey,
  KERNEL_DTYPE,
  Q8_LAYOUT,
  Q8_METADATA_KEY,
  Q8_SCALE_SUFFIX,
  readMatrix,
  towerKey,
  transposeArray,
} from './dtype.js';

/** The `__metadata__` key naming the dtype a converted file's matrices are in. */
export const DTYPE_METADATA_KEY = 'wgsl-vit.dtype';

interface Entry {
  readonly key: string;
  readonly dtype: 'F32' | 'F16' | 'I8';
  readonly shape: readonly number[];
  readonly bytes: number;
  /** The tensor's bytes, produced when it is written. */
  readonly data: () => Promise<Uint8Array>;
}

export interface ConvertResult {
  /** Bytes written (header and data). */
  readonly bytes: number;
  /** Matrices converted, other tensors copied as float32. */
  readonly matrices: number;
  readonly others: number;
}

const bytesOf = (a: Float32Array | Uint16Array | Int8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * Writes `ckpt` with its matrices (linear layers, patch and token embeddings, projections) in `dtype`
 * through `write`, one tensor at a time after the header (memory: one tensor). Non-finite weights
 * (and values beyond float16's range for fp16) are refused naming the tensor, before anything after
 * them is written; the caller discards a partial output (the CLI writes to a temporary file).
 */
export async function convertCheckpoint(
  ckpt: Checkpoint,
  dtype: 'fp16' | 'q8',
  write: (chunk: Uint8Array) => void | Promise<void>,
): Promise<ConvertResult> {
  const entries: Entry[] = [];
  let matrices = 0;
  for (const [key, t] of ckpt.tensors) {
    if (isQ8ScaleKey(ckpt, key)) continue; // a q8 file's scales: recomputed with their matrix
    const n = elementCount(t.shape);
    if (isMatrixKey(towerKey(key)) && t.shape.length >= 2 && (isFloatDType(t.dtype) || t.dtype === 'I8')) {
      matrices++;
      const inOut = isInOutKey(towerKey(key));
      if (dtype === 'fp16') {
        entries.push({
          key,
          dtype: 'F16',
          shape: t.shape,
          bytes: 2 * n,
          data: async () => bytesOf((await readMatrix(ckpt, key, 'f16', t.shape, false)) as Uint16Array),
        });
        continue;
      }
      // q8: quantized per output channel (the GPU's rows), written back in the file's orientation.
      let q8: Promise<Q8Weight> | null = null;
      const get = () => (q8 ??= readMatrix(ckpt, key, KERNEL_DTYPE.q8, t.shape, inOut).then((w) => w as Q8Weight));
      const channels = inOut ? t.shape[t.shape.length - 1]! : t.shape[0]!;
      entries.push({
        key,
        dtype: 'I8',
        shape: t.shape,
        bytes: n,
        data: async () => {
          const w = await get();
          return bytesOf(inOut ? transposeArray(w.q, channels, n / channels) : w.q);
        },
      });
      entries.push({
        key: key + Q8_SCALE_SUFFIX,
        dtype: 'F32',
        shape: [channels],
        bytes: 4 * channels,
        data: async () => bytesOf((await get()).scale),
      });
      continue;
    }
    if (!isFloatDType(t.dtype))
      throw new CheckpointError(ckpt.file, `stored as ${t.dtype}: only float tensors can be converted`, key);
    entries.push({
      key,
      dtype: 'F32',
      shape: t.shape,
      bytes: 4 * n,
      data: async () => {
        const f = await ckpt.read(key);
        for (let i = 0; i < f.length; i++)
          if (!Number.isFinite(f[i]!))
            throw new CheckpointError(ckpt.file, `non-finite value ${f[i]} at flat index ${i}`, key);
        return bytesOf(f);
      },
    });
  }
  const metadata: Record<string, string> = { format: 'pt', [DTYPE_METADATA_KEY]: dtype };
  if (dtype === 'q8') metadata[Q8_METADATA_KEY] = Q8_LAYOUT;
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const e of entries) {
    header[e.key] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + e.bytes] };
    offset += e.bytes;
  }
  // The data starts 8-byte aligned (the 8-byte length + the header padded with spaces).
  const text = new TextEncoder().encode(JSON.stringify(header));
  const json = new Uint8Array(Math.ceil(text.length / 8) * 8).fill(0x20);
  json.set(text);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
  await write(len);
  await write(json);
  for (const e of entries) {
    const d = await e.data();
    if (d.byteLength !== e.bytes) throw new Error(`convert: ${e.key}: ${d.byteLength} bytes, expected ${e.bytes}`);
    await write(d);
  }
  return { bytes: 8 + json.length + offset, matrices, others: entries.length - matrices * (dtype === 'q8' ? 2 : 1) };
}

/** convertCheckpoint into one in-memory file (small models, tests, browsers). */
export async function convertToBytes(ckpt: Checkpoint, dtype: 'fp16' | 'q8'): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const r = await convertCheckpoint(ckpt, dtype, (c) => void chunks.push(c.slice()));
  const out = new Uint8Array(r.bytes);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}
