// What kernel wrappers and their callers exchange: tensors, dispatches, kernel sources and the
// signature reflected from a kernel's WGSL.
/** Element types a kernel argument may have: f32 activations and weights, u32 indices (token ids). */
export type DType = 'f32' | 'u32';

export const DTYPE_BYTES: Record<DType, number> = { f32: 4, u32: 4 };

/** A typed view of (part of) a GPU buffer: what every kernel wrapper takes as an argument. */
export interface TensorRef {
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Byte offset into `buffer`; a multiple of the device's minStorageBufferOffsetAlignment. */
  readonly offset?: number;
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

/** What reflection tells us about one kernel's WGSL: its bindings, uniforms and overrides. */
export interface KernelSignature {
  readonly storage: readonly StorageBinding[];
  readonly uniform: UniformLayout | null;
  readonly overrides: readonly string[];
}

/** A kernel's WGSL source and name, as exported by each module in src/kernels. */
export interface KernelSource {
  readonly name: string;
  readonly wgsl: string;
}

export type Overrides = Record<string, number | boolean>;
