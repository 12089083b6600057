// What kernel wrappers and their callers exchange: tensors, dispatches, kernel sources and the
// signature reflected from a kernel's WGSL.
/** Element types of activations and other plain arguments: f32 values, u32 indices (token ids). */
export type ElementDType = 'f32' | 'u32';
/**
 * How a weight matrix ([rows, K], the GEMMs' w, the patch embedding's, the token table) is stored
 * (weight-format.ts has the layouts): 'f32' values; 'f16' half floats, two per u32; 'q8' symmetric
 * int8, four per u32, with one f32 scale per row (TensorRef.scale): value = scale[r] · q[r, k].
 */
export type WeightDType = 'f32' | 'f16' | 'q8';
/** Every dtype a kernel argument may have. */
export type DType = ElementDType | WeightDType;

/** Bytes per element of the plain dtypes (the packed weight dtypes: weightRowWords). */
export const DTYPE_BYTES: Record<ElementDType, number> = { f32: 4, u32: 4 };

/** A typed view of (part of) a GPU buffer: what every kernel wrapper takes as an argument. */
export interface TensorRef {
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Byte offset into `buffer`; a multiple of the device's minStorageBufferOffsetAlignment. */
  readonly offset?: number;
  /** A 'q8' weight's per-row scales: [rows] f32 (required with dtype 'q8', refused otherwise). */
  readonly scale?: TensorRef;
}

/**
 * The format of every matrix texture: the f32 values' bits in `rgba32uint` texels, read with
 * `bitcast<vec4f>(textureLoad(…))` and written with `textureStore(…, bitcast<vec4u>(v))`. Not
 * `rgba32float`: Mesa lavapipe 25.0 on AVX-512 CPUs drops the float-format texture stores of lanes
 * 4–7 of an 8-lane subgroup (half of every written texture stayed zero; the uint format's stores
 * are exact there), and the bits are the same either way (docs/cpu-adapters.md).
 */
export const MATRIX_TEXTURE_FORMAT = 'rgba32uint' as const satisfies GPUTextureFormat;

/**
 * A [rows, cols] matrix (f32 unless `dtype` says otherwise) held in a 2-D `MATRIX_TEXTURE_FORMAT` texture (what the CPU-adapter
 * kernels read fastest, docs/cpu-adapters.md): texel (q, r) holds row r's values 4q … 4q+3; the row is
 * zero-padded to `matrixTextureWidth(cols)` texels (texture-matrix.ts). The texture may have more
 * rows than `shape[0]` (a reused activation texture); those are never read as data.
 */
export interface TextureRef {
  readonly texture: GPUTexture;
  readonly shape: readonly [number, number];
  /**
   * How the values are stored (default 'f32'): a weight texture may hold 'f16' or 'q8' rows
   * (weight-format.ts: 8 halves or 16 int8 per texel), with 'q8' scales in `scale`.
   */
  readonly dtype?: WeightDType;
  /** A 'q8' weight's per-row scales: [rows] f32. */
  readonly scale?: TensorRef;
}

/** One recorded kernel invocation with its pipeline, uniforms and bind group already built. */
export interface Dispatch {
  readonly kernel: string;
  /** Records the dispatch into a compute pass the caller owns. */
  encode(pass: GPUComputePassEncoder): void;
  /** Frees the uniform buffer this dispatch owns (its tensors belong to the caller). */
  destroy(): void;
  /**
   * Creates the pipeline ahead of encode() with createComputePipelineAsync, so that many pipelines
   * compile concurrently without blocking (graph compilation awaits all of them at once). Optional:
   * encode() creates the pipeline synchronously when prepare() was not awaited.
   */
  prepare?(): Promise<void>;
}

export type UniformScalar = 'u32' | 'i32' | 'f32';

export interface UniformLayout {
  readonly binding: number;
  readonly size: number;
  readonly members: readonly { name: string; offset: number; type: UniformScalar }[];
}

export interface StorageBinding {
  readonly name: string;
  readonly binding: number;
  readonly writable: boolean;
}

/** A `texture_storage_2d<rgba32uint, read | write>` binding (a TextureRef argument). */
export interface TextureBinding {
  readonly name: string;
  readonly binding: number;
  readonly writable: boolean;
}

/** What reflection tells us about one kernel's WGSL: its bindings, uniforms and overrides. */
export interface KernelSignature {
  readonly storage: readonly StorageBinding[];
  readonly textures: readonly TextureBinding[];
  readonly uniform: UniformLayout | null;
  readonly overrides: readonly string[];
}

/** A kernel's WGSL source and name, as exported by each module in src/kernels. */
export interface KernelSource {
  readonly name: string;
  readonly wgsl: string;
}

export type Overrides = Record<string, number | boolean>;
