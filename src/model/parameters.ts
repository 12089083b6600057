// From a checkpoint file to GPU buffers: the open_clip key layout of OpenVision encoders, checked
// key by key and shape by shape before use, and uploaded with nothing left behind on failure.
import { CheckpointError } from '../errors.js';
import type { LoadProgress } from '../weights/source.js';
import type { Graph, KernelChoices, Tensor, TensorStorage } from '../graph/graph.js';
import { posembSincos2d } from '../kernels/posemb-sincos.js';
import { resizePosEmbed } from './pos-resize.js';
import { openCheckpoint } from '../weights/index.js';
import { isFloatDType, notFloatError, type Checkpoint } from '../weights/checkpoint.js';
import type { WeightsInput } from '../weights/source.js';
import { architecture, type TextConfig, type ViTConfig } from './config.js';
import { isMatrixKey, isQ8ScaleKey, readMatrix } from './dtype.js';
import { packWeight } from '../kernels/program/weight-format.js';
import { uploadWeightTexture } from '../kernels/program/texture-matrix.js';
import type { WeightDType } from '../kernels/program/types.js';
import { paramStorage } from '../graph/placement.js';

/**
 * The parameter table of one tower: every checkpoint key (without prefix) with the shape the file
 * must have, and which keys are stored transposed on the GPU (so that every linear layer takes
 * PyTorch's [out, in] layout). The graphs take their parameter shapes from here (gpuShape).
 */
export interface TowerLayout {
  readonly tower: 'vision' | 'text';
  /** 'visual.' or '' for the vision tower; '' for the text tower. */
  readonly prefix: string;
  readonly keys: ReadonlyMap<string, readonly number[]>;
  readonly transposed: ReadonlySet<string>;
}

/** The shape a parameter has on the GPU: the file's, reversed for the transposed keys. */
export function gpuShape(layout: Pick<TowerLayout, 'keys' | 'transposed'>, key: string): number[] {
  const s = layout.keys.get(key);
  if (!s)
    throw new Error(
      `graph: no parameter '${key}' in the ${'tower' in layout ? (layout as TowerLayout).tower : ''} layout`,
    );
  return layout.transposed.has(key) ? [...s].reverse() : [...s];
}

/** The residual blocks' keys, as open_clip names them in both towers. */
function blockKeys(m: Map<string, number[]>, layers: number, W: number, mlp: number): void {
  for (let i = 0; i < layers; i++) {
    const b = `transformer.resblocks.${i}.`;
    m.set(`${b}ln_1.weight`, [W]).set(`${b}ln_1.bias`, [W]);
    m.set(`${b}attn.in_proj_weight`, [3 * W, W]).set(`${b}attn.in_proj_bias`, [3 * W]);
    m.set(`${b}attn.out_proj.weight`, [W, W]).set(`${b}attn.out_proj.bias`, [W]);
    m.set(`${b}ln_2.weight`, [W]).set(`${b}ln_2.bias`, [W]);
    m.set(`${b}mlp.c_fc.weight`, [mlp, W]).set(`${b}mlp.c_fc.bias`, [mlp]);
    m.set(`${b}mlp.c_proj.weight`, [W, mlp]).set(`${b}mlp.c_proj.bias`, [W]);
  }
}

export const VISION_TRANSPOSED: ReadonlySet<string> = new Set(['proj']);
export const TEXT_TRANSPOSED: ReadonlySet<string> = new Set(['text_projection']);

/** The text tower's keys (top level of an OpenVision 1 checkpoint). */
export function expectedTextKeys(t: TextConfig): Map<string, number[]> {
  const m = new Map<string, number[]>([
    ['token_embedding.weight', [t.vocabSize, t.width]],
    ['positional_embedding', [t.contextLength, t.width]],
  ]);
  blockKeys(m, t.layers, t.width, t.mlpWidth);
  m.set('ln_final.weight', [t.width]).set('ln_final.bias', [t.width]);
  m.set('text_projection', [t.width, t.embedDim]);
  return m;
}

/** The checkpoint keys (without prefix) of an encoder, with the shapes the file must have. */
export function expectedKeys(c: ViTConfig): Map<string, number[]> {
  const W = c.width,
    p = c.patchSize,
    g = c.imageSize / p;
  const m = new Map<string, number[]>([
    ['conv1.weight', [W, 3, p, p]],
    ['class_embedding', [W]],
    ['positional_embedding', [1 + g * g, W]],
  ]);
  if (architecture(c).lnPre) m.set('ln_pre.weight', [W]).set('ln_pre.bias', [W]);
  blockKeys(m, c.layers, W, c.mlpWidth);
  m.set('ln_post.weight', [W]).set('ln_post.bias', [W]);
  m.set('proj', [W, c.embedDim]);
  return m;
}

/**
 * The vision tower's key prefix: 'visual.' (OpenVision 1 / full open_clip files) or '' (OpenVision 2
 * vision-only files). With 'visual.', keys outside it (the text tower, logit_scale) are ignored.
 */
export function detectPrefix(ckpt: Checkpoint): string {
  if (ckpt.tensors.has('visual.conv1.weight')) return 'visual.';
  if (ckpt.tensors.has('conv1.weight')) return '';
  throw new CheckpointError(
    ckpt.file,
    'missing the patch embedding: neither visual.conv1.weight (OpenVision 1) nor conv1.weight (OpenVision 2) is present',
    'visual.conv1.weight',
  );
}

/** Throws unless every key of `keys` is in the file (under `prefix`) with its shape and a float type. */
function checkKeys(ckpt: Checkpoint, prefix: string, keys: ReadonlyMap<string, readonly number[]>, what: string): void {
  for (const [k, shape] of keys) {
    const t = ckpt.tensors.get(prefix + k);
    if (!t) throw new CheckpointError(ckpt.file, `missing (${what})`, prefix + k);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(
        ckpt.file,
        `shape [${t.shape.join(', ')}] does not match the config's [${shape.join(', ')}]`,
        prefix + k,
      );
    }
    // I8: a matrix of a q8 file (dtype.ts checks its layout and scales when it is read).
    if (!isFloatDType(t.dtype) && !(t.dtype === 'I8' && isMatrixKey(k))) throw notFloatError(ckpt.file, t);
  }
}

/** Checks every vision key and shape against the config, without reading tensor data. */
export function checkLayout(ckpt: Checkpoint, c: ViTConfig): TowerLayout {
  const prefix = detectPrefix(ckpt);
  const keys = expectedKeys(c);
  checkKeys(ckpt, prefix, keys, `the config has ${c.layers} layers, width ${c.width}, patch ${c.patchSize}`);
  for (const k of ckpt.tensors.keys()) {
    if (!k.startsWith(prefix) || isQ8ScaleKey(ckpt, k)) continue;
    if (!keys.has(k.slice(prefix.length)))
      throw new CheckpointError(
        ckpt.file,
        `unexpected key for an encoder of this config (${architecture(c).lnPre ? '' : 'ln_pre (the config says no_ln_pre), '}attention pooling, layer scale and biases on conv1 are not part of it)`,
        k,
      );
  }
  return { tower: 'vision', prefix, keys, transposed: VISION_TRANSPOSED };
}

/**
 * Checks the text tower's keys (the top level of an OpenVision 1 file, beside `visual.*` and the
 * 0-d `logit_scale`). A file without them (OpenVision 2, vision-only) is named as such.
 */
export function checkTextLayout(ckpt: Checkpoint, t: TextConfig): TowerLayout {
  if (!ckpt.tensors.has('token_embedding.weight')) {
    throw new CheckpointError(
      ckpt.file,
      ckpt.tensors.has('conv1.weight')
        ? 'is a vision-only checkpoint (OpenVision 2 layout): it has no text tower'
        : 'has no text tower (no token_embedding.weight)',
      'token_embedding.weight',
    );
  }
  const keys = expectedTextKeys(t);
  checkKeys(
    ckpt,
    '',
    keys,
    `the config's text tower has ${t.layers} layers, width ${t.width}, ${t.heads} heads, vocabulary ${t.vocabSize}`,
  );
  for (const k of ckpt.tensors.keys()) {
    if (k.startsWith('visual.') || k === 'logit_scale' || keys.has(k) || isQ8ScaleKey(ckpt, k)) continue;
    throw new CheckpointError(
      ckpt.file,
      'unexpected key for the text tower of this config (an attention mask, a projection bias or a class token are not part of it)',
      k,
    );
  }
  return { tower: 'text', prefix: '', keys, transposed: TEXT_TRANSPOSED };
}

/**
 * A parameter's shape on the GPU in its storage: a texture, and an f16 / q8 matrix anywhere, holds
 * [rows, the rest flattened] (conv1 [W, 3·p·p]).
 */
export function paramShape(
  layout: Pick<TowerLayout, 'keys' | 'transposed'>,
  key: string,
  storage: TensorStorage,
  dtype: WeightDType = 'f32',
): number[] {
  const s = gpuShape(layout, key);
  return storage === 'texture' || dtype !== 'f32' ? [s[0]!, s.slice(1).reduce((a, b) => a * b, 1)] : s;
}

/** How a parameter is stored on the GPU: the model's weight dtype for the matrices, f32 for the rest. */
export function paramDType(kernels: KernelChoices, key: string): WeightDType {
  return isMatrixKey(key) ? (kernels.weightDType ?? 'f32') : 'f32';
}

/** Where a parameter lives on the GPU (graph/placement.ts: the GEMMs' weights follow the GEMM's layout). */
export { paramStorage };

/**
 * A tower's parameter lookup for a graph: key (without prefix) → its param tensor, with the shape
 * and storage (paramShape, paramStorage for the graph's kernel choices) the upload gave it.
 */
export function towerParams(g: Graph, table: Pick<TowerLayout, 'keys' | 'transposed'>): (key: string) => Tensor {
  return (key) => {
    const storage = paramStorage(g.kernels, key);
    const dtype = paramDType(g.kernels, key);
    return g.param(key, paramShape(table, key, storage, dtype), storage, dtype);
  };
}

/**
 * The GPU copy of an encoder's weights, by key without prefix; `proj` is stored transposed, [E, W]; a
 * q8 matrix's scales under `<key>.scale` (the graph's name for them).
 */
export interface GpuWeights {
  readonly buffers: ReadonlyMap<string, GPUBuffer>;
  /** The parameters stored as matrix textures (paramStorage), by key. */
  readonly textures: ReadonlyMap<string, GPUTexture>;
  /** Bytes held on the GPU (buffers and textures). */
  bytes(): number;
  destroy(): void;
}

/**
 * Reads, checks (finite values) and uploads every tensor of a tower, each to the storage paramStorage
 * gives it for the model's kernel choices (default: buffers); on any error, frees what it uploaded.
 */
export async function uploadWeights(
  device: GPUDevice,
  ckpt: Checkpoint,
  layout: TowerLayout,
  inspect?: (key: string, data: Float32Array) => void,
  kernels: KernelChoices = {},
  onProgress?: (p: LoadProgress) => void,
): Promise<GpuWeights> {
  const { prefix, keys } = layout;
  const buffers = new Map<string, GPUBuffer>();
  const textures = new Map<string, GPUTexture>();
  const destroy = () => {
    for (const b of buffers.values()) b.destroy();
    for (const t of textures.values()) t.destroy();
    buffers.clear();
    textures.clear();
  };
  const bytes = () => {
    let n = 0;
    for (const b of buffers.values()) n += b.size;
    for (const t of textures.values()) n += t.width * t.height * 16;
    return n;
  };
  // Upload progress: values of the tower's tensors read, checked and uploaded, out of all of them.
  const total = [...keys.values()].reduce((n, shape) => n + shape.reduce((a, b) => a * b, 1), 0);
  let loaded = 0,
    unflushed = 0;
  try {
    for (const k of keys.keys()) {
      const count = keys.get(k)!.reduce((a, b) => a * b, 1);
      const storage = paramStorage(kernels, k);
      const dtype = paramDType(kernels, k);
      let uploaded: number;
      if (isMatrixKey(k)) {
        // The matrices in the model's dtype (dtype.ts: read, checked, converted, transposed to [out, in]).
        const [rows, cols] = paramShape(layout, k, 'texture') as [number, number];
        const w = await readMatrix(ckpt, prefix + k, dtype, keys.get(k)!, layout.transposed.has(k));
        if (storage === 'texture') {
          const ref = uploadWeightTexture(device, w, rows, cols, k);
          textures.set(k, ref.texture);
          if (ref.scale) buffers.set(`${k}.scale`, ref.scale.buffer);
        } else if (w instanceof Float32Array) buffers.set(k, uploadF32(device, w, k));
        else {
          buffers.set(k, uploadF32(device, packWeight(w, rows, cols), k));
          if (!(w instanceof Uint16Array)) buffers.set(`${k}.scale`, uploadF32(device, w.scale, `${k}.scale`));
        }
        uploaded = w instanceof Float32Array || w instanceof Uint16Array ? w.byteLength : w.q.byteLength;
      } else {
        const data = await ckpt.read(prefix + k);
        for (let i = 0; i < data.length; i++) {
          if (!Number.isFinite(data[i]!))
            throw new CheckpointError(ckpt.file, `non-finite value ${data[i]} at flat index ${i}`, prefix + k);
        }
        inspect?.(k, data);
        // (The transposed keys, proj and text_projection, are matrices: readMatrix transposes them.)
        buffers.set(k, uploadF32(device, data, k));
        uploaded = data.byteLength;
      }
      loaded += count;
      onProgress?.({ file: ckpt.file, phase: 'upload', loaded: loaded * 4, total: total * 4 });
      // Dawn stages each upload in host memory and frees the staging only once it has been
      // submitted and has run: without this the whole model was staged at once (peak host memory
      // 2.1× the weights for H/14; docs/checkpoints.md).
      unflushed += uploaded;
      device.queue.submit([]);
      if (unflushed >= FLUSH_BYTES) {
        await device.queue.onSubmittedWorkDone();
        unflushed = 0;
      }
    }
  } catch (e) {
    destroy();
    throw e;
  }
  return { buffers, textures, bytes, destroy };
}

/** Bytes uploaded between waits for the queue (bounds the staging memory a load holds). */
const FLUSH_BYTES = 64 << 20;

/** A storage buffer holding `data`: f32 values, or the u32 words of a packed f16 / q8 weight. */
export function uploadF32(device: GPUDevice, data: Float32Array | Uint32Array, label: string): GPUBuffer {
  const b = device.createBuffer({
    label,
    size: Math.max(16, data.byteLength),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    mappedAtCreation: true,
  });
  new Uint8Array(b.getMappedRange(0, data.byteLength)).set(
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  );
  b.unmap();
  return b;
}

export { openCheckpoint, type WeightsInput };

/**
 * Largest |difference| between a checkpoint's position table and the fixed 2-D sin-cos formula
 * at which the table still counts as that formula (and may be recomputed for another resolution):
 * values lie in [-1, 1], float32 sin/cos of different libraries differ by a few ulp (< 1e-6), a
 * learned or resampled table by far more than 1e-4.
 */
export const SINCOS_TABLE_TOLERANCE = 1e-4;

/** Max |table - sincos(grid, width)| (Infinity when the shapes differ). */
export function sincosTableError(table: Float32Array, grid: number, width: number): number {
  const ref = posembSincos2d(grid, width);
  if (ref.length !== table.length) return Infinity;
  let m = 0;
  for (let i = 0; i < ref.length; i++) m = Math.max(m, Math.abs(table[i]! - ref[i]!));
  return m;
}

/**
 * The position table for `resolution`, from the checkpoint's own (`stored`, [1 + g², W] at the
 * config's grid; `error`: its sincosTableError): OpenVision's fixed 2-D sin-cos table (stored within
 * SINCOS_TABLE_TOLERANCE of the formula) is recomputed for the new grid, as OpenVision's JAX code
 * does; any other (learned) table is resampled as open_clip's resize_pos_embed does (class row kept,
 * the grid by antialiased bicubic: src/model/pos-resize.ts).
 */
export function positionTableAt(stored: Float32Array, error: number, c: ViTConfig, resolution: number): Float32Array {
  const grid = resolution / c.patchSize;
  if (error <= SINCOS_TABLE_TOLERANCE) return posembSincos2d(grid, c.width);
  return resizePosEmbed(stored, c.width, c.imageSize / c.patchSize, grid);
}
