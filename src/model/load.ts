// One loading path for every tower (VisionTransformer.load, TextTransformer.load, and CLIPModel.load
// through both): the options they share, the kernel choices (the `kernels` option, else a stored
// tuning profile for this adapter and the tower's own shape, else the built-in ones), the dtype,
// opening the checkpoint (with its download options), checking its layout and uploading it.
//
// A tower's profile is keyed by its own shape (profiles.ts shapeKey: a text tower's width, heads,
// MLP width and context length), not by the vision tower's of the same CLIP model: the choices are
// per GEMM and attention shape, and the text tower's (rows = texts × context, its own width and head
// dim) are not the vision tower's; `wgsl-vit tune` measures either tower (tune.ts).
import { expectDeviceAlive } from '../device.js';
import { ArgumentError } from '../errors.js';
import { checkOptionKeys, type KeyList } from '../options.js';
import type { KernelChoices } from '../graph/graph.js';
import type { Checkpoint } from '../weights/checkpoint.js';
import { sourceLabel, type LoadProgress } from '../weights/source.js';
import { checkKernelChoices, checkPrecision, isCheckpoint } from './arguments.js';
import type { Precision } from '../kernels/program/precision.js';
import { checkModelDType, KERNEL_DTYPE, storedModelDType, type ModelDType } from './dtype.js';
import { openCheckpoint, uploadWeights, type GpuWeights, type TowerLayout, type WeightsInput } from './parameters.js';
import { adapterKey, defaultProfileStore, fromStored, warnOnce, type ProfileStore } from './profiles.js';

/** The load options every model shares (each model's own options add `config`, and CLIP's `vocab`). */
export interface TowerLoadOptions {
  /** The checkpoint: a path (Node), bytes, a File/Blob, or an already opened Checkpoint. */
  weights: WeightsInput | Checkpoint;
  /**
   * Kernel choices for every node of this model, e.g. `{ gemmTile: GEMM_TILES['128x64k16'],
   * attentionVariant: 'broadcast' }`. Default: a stored tuning profile for this adapter and the
   * tower's shape (`wgsl-vit tune`, profiles.ts) when there is one, else the built-in per-adapter
   * choices (kernels/choose/choose.ts). `kernelsFrom` on the model says which.
   */
  kernels?: KernelChoices;
  /**
   * How the matrices (linear layers, patch / token embeddings) are held on the GPU: 'fp32', 'fp16'
   * (half the bytes) or 'q8' (int8 per output channel with float32 scales, about a quarter);
   * biases, LayerNorms and positions stay float32, all arithmetic is float32. Default: the dtype the
   * file stores them in (fp16 for an F16 file, q8 for a `wgsl-vit convert --dtype q8` file, else fp32).
   * The accuracy each costs is measured per fixture (README, docs/dtypes.md).
   */
  dtype?: ModelDType;
  /**
   * The arithmetic of the GEMMs and attention: 'f32' (default) or 'f16' (needs the
   * device's shader-f16): operands rounded to f16 in workgroup memory, products summed in f16 over
   * 8 terms, then in f32; LayerNorm, softmax statistics, the residual stream and every stored
   * activation stay f32. The GEMMs then run the tiled variant's f16 build and attention the flash
   * variant's on every adapter (a stored tuning profile, measured in f32, is not used). `model.precision`
   * says which; the accuracy it costs is measured per fixture (docs/precision.md).
   */
  precision?: Precision;
  /**
   * Where to look for a tuning profile when `kernels` is not given: true (default) the default store
   * (Node: $WGSL_VIT_PROFILES or ~/.cache/wgsl-vit/profiles.json; browsers: localStorage), a
   * ProfileStore, or false for none.
   */
  profile?: boolean | ProfileStore;
  /**
   * Progress of the load: `{ file, phase, loaded, total }` in bytes — 'download' as a URL's bytes
   * arrive (total: the file's size; a load reads only the tensors it needs), 'upload' as the
   * tower's tensors are read, checked and uploaded (ends at total).
   */
  onProgress?: (p: LoadProgress) => void;
  /** For a URL: keep downloaded blocks in the cache (Node: $WGSL_VIT_CACHE or ~/.cache/wgsl-vit/downloads). Default true. */
  cache?: boolean;
  /** For a URL: aborts the download; the load rejects with a CheckpointError naming the URL. */
  signal?: AbortSignal;
  /** For a URL: how long (ms) a request may receive nothing before the load fails naming the URL. Default 60000. */
  stallTimeoutMs?: number;
}

/**
 * The keys of TowerLoadOptions but `weights`. A model's own list is `{ weights: true, config: true,
 * …its own, ...TOWER_LOAD_OPTION_KEYS }` (weights and config first in an error's known options).
 */
export const TOWER_LOAD_OPTION_KEYS = {
  kernels: true,
  dtype: true,
  precision: true,
  profile: true,
  onProgress: true,
  cache: true,
  signal: true,
  stallTimeoutMs: true,
} as const satisfies KeyList<Omit<TowerLoadOptions, 'weights'>>;

/** The shared options of a wider options object (CLIPModel.load's), to pass on to each tower's load. */
export function towerOptions(opts: TowerLoadOptions): Omit<TowerLoadOptions, 'weights'> {
  return Object.fromEntries(
    Object.keys(TOWER_LOAD_OPTION_KEYS).map((k) => [k, opts[k as keyof typeof TOWER_LOAD_OPTION_KEYS]]),
  );
}

/** Opens a load's checkpoint (an opened Checkpoint is used as is) with the options for a URL. */
export function openLoadCheckpoint(opts: TowerLoadOptions): Promise<Checkpoint> {
  return isCheckpoint(opts.weights)
    ? Promise.resolve(opts.weights)
    : openCheckpoint(opts.weights, undefined, {
        onProgress: opts.onProgress,
        cache: opts.cache,
        signal: opts.signal,
        stallTimeoutMs: opts.stallTimeoutMs,
      });
}

/** Checks the options object of `where` (its keys, and that it is given) and that the device is alive. */
export async function checkLoadCall(
  where: string,
  device: GPUDevice,
  opts: TowerLoadOptions | undefined,
  keys: Readonly<Record<string, true>>,
): Promise<void> {
  checkOptionKeys(where, opts, keys);
  if (opts === undefined) throw new ArgumentError(where, 'options', 'must be given: { weights, config }');
  await expectDeviceAlive(device, `${where}(${sourceLabel(opts.weights)})`);
}

/**
 * The kernel choices asked for: the `kernels` option, else the profile stored for (this adapter,
 * `shape`) when `profile` allows one, else none (the built-in choices); and where they came from:
 * 'load option', 'profile <store>' or 'built-in'.
 */
export async function askedKernels(
  device: GPUDevice,
  opts: Pick<TowerLoadOptions, 'kernels' | 'profile'>,
  shape: string,
): Promise<{ asked: KernelChoices | undefined; from: string }> {
  if (opts.kernels) return { asked: opts.kernels, from: 'load option' };
  if (opts.profile === false) return { asked: undefined, from: 'built-in' };
  const store = typeof opts.profile === 'object' ? opts.profile : await defaultProfileStore();
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  // A cache never stops a load: an unreadable profile store or entry is treated as absent, with one
  // warning naming it (profiles.ts).
  try {
    const p = await store?.get(adapterKey(info), shape);
    if (p && store) return { asked: fromStored(p.choices, store.where), from: `profile ${store.where}` };
  } catch (e) {
    warnOnce(`tuning profile ignored, built-in kernel choices used: ${(e as Error).message}`);
  }
  return { asked: undefined, from: 'built-in' };
}

/** What one tower's load needs to know of the tower. */
export interface TowerSpec {
  /** The calling method, for errors: 'VisionTransformer.load'. */
  where: string;
  /** The profile key of the tower's shape (profiles.ts shapeKey). */
  shape: string;
  /** Checks the checkpoint against the tower's config: its keys and shapes. */
  layout(ckpt: Checkpoint): TowerLayout;
  /** Sees each tensor as it is uploaded (the vision tower measures its position table). */
  inspect?: (key: string, data: Float32Array) => void;
}

export interface LoadedTower {
  /** The checkpoint's name (its file, URL or label). */
  source: string;
  weights: GpuWeights;
  /** The settled kernel choices, weightDType included. */
  kernels: KernelChoices;
  /** 'load option', 'profile <store>' or 'built-in'. */
  kernelsFrom: string;
}

/**
 * Loads one tower: kernel choices (askedKernels), the dtype option, the kernel choices checked on the
 * device, the checkpoint opened and checked against the config, the dtype (the option, else the
 * file's), the weights uploaded (progress marked with the tower). The caller has checked the call
 * (checkLoadCall) and read its config.
 */
export async function loadTower(device: GPUDevice, opts: TowerLoadOptions, spec: TowerSpec): Promise<LoadedTower> {
  const precision = checkPrecision(spec.where, device, opts.precision);
  // A tuning profile times the f32 kernels: with 'f16' only a `kernels` option is taken.
  const { asked, from } = await askedKernels(
    device,
    precision === 'f16' && !opts.kernels ? { profile: false } : opts,
    spec.shape,
  );
  const asDType = checkModelDType(spec.where, opts.dtype);
  const settled = checkKernelChoices(device, asked, precision);
  const ckpt = await openLoadCheckpoint(opts);
  const layout = spec.layout(ckpt);
  const dtype =
    asDType ??
    storedModelDType(
      ckpt,
      [...layout.keys.keys()].map((k) => layout.prefix + k),
    );
  const kernels = { ...settled, weightDType: KERNEL_DTYPE[dtype], ...(precision === 'f16' ? { precision } : {}) };
  const onProgress = opts.onProgress && ((p: LoadProgress) => opts.onProgress!({ ...p, tower: layout.tower }));
  const weights = await uploadWeights(device, ckpt, layout, spec.inspect, kernels, onProgress);
  return { source: ckpt.file, weights, kernels, kernelsFrom: from };
}
