// The types of src/pipeline/search/: what openIndex takes and returns, what a search gives back.
import type { F16Loads } from '../../kernels/program/weight-format.js';
import type { EmbeddingDtype } from '../writers/format.js';
import type { OutputParams } from '../writers/output.js';

/** The buffer GEMM variants (src/kernels/choose/variants.ts) that can score an index. */
export type SearchGemmVariant = 'tiled' | 'subgroup';

export interface OpenIndexOptions {
  /**
   * Most rows in one GPU buffer (default: as many as the device's limits allow). Smaller chunks cost
   * one GEMM dispatch and read-back each; the tests force several with it.
   */
  maxChunkRows?: number;
  /** How a float16 matrix is read: 'native' (WGSL f16, needs shader-f16) or 'packed'; default native where available. */
  f16Loads?: F16Loads;
  /** The GEMM variant that scores: default the device's choice (gemmVariantFor, in its buffer form). */
  variant?: SearchGemmVariant;
  /** Check each file's sha256 against manifest.json while reading it (default true). */
  verify?: boolean;
  /**
   * Bytes of one score buffer, a query batch × a chunk's rows × 4 (default 64 MiB; two of them and
   * their read-back copies are in flight): bounds the GPU and host memory of a search with many
   * query rows, which run in batches of as many rows as fit (at least one).
   */
  scoreBufferBytes?: number;
}
export interface SearchOptions {
  /** Hits per query row (default 10; fewer when the index has fewer rows). */
  top?: number;
}
/** One ranked row of the index. */
export interface SearchHit {
  /** The sample's key (metadata's `key` column; `image_path` where a folder has no `key`). */
  key: string;
  /** Cosine similarity for a normalised index, else the plain dot product (float32 accumulation). */
  score: number;
  /** The caption, or null when the sample had none. */
  caption: string | null;
  /** Where the image came from (metadata's `image_path`). */
  image_path: string;
  /** The part N (img_emb_{N}.npy) and the row within it. */
  part: number;
  row: number;
}

/** How the matrix lives on the GPU. */
export interface IndexGpuLayout {
  /** 'f16' for a float16 index (2 bytes a value, the .npy's bits as they are), 'f32' for a float32 one. */
  dtype: 'f16' | 'f32';
  /** For 'f16', how the GEMM reads it: 'native' (WGSL f16) or 'packed' (u32 words, unpack2x16float); null for 'f32'. */
  f16Loads: F16Loads | null;
  /** Rows of each GPU buffer, in index order. */
  chunks: readonly number[];
  /** Bytes of all of them (f16 rows padded to whole 8-value steps). */
  bytes: number;
  /** The GEMM variant that scores. */
  variant: SearchGemmVariant;
}

export interface Index {
  readonly dir: string;
  /** The run's parameters, as manifest.json records them. */
  readonly params: Required<OutputParams>;
  /** The finished parts loaded, ascending. */
  readonly parts: readonly number[];
  /** Rows of all parts together. */
  readonly rows: number;
  /** Values per row (the model's embedding width). */
  readonly dim: number;
  /** How img_emb stores the values. */
  readonly dtype: EmbeddingDtype;
  /** Whether the rows are L2-normalised (params.normalize): then queries are too, and scores are cosines. */
  readonly normalized: boolean;
  readonly gpu: IndexGpuLayout;
  /**
   * Ranks every row against each query row: `query` is one row of `dim` values, several rows one
   * after the other (a multiple of dim), or an array of rows. One list per query row, best first.
   */
  search(query: Float32Array | readonly Float32Array[], options?: SearchOptions): Promise<SearchHit[][]>;
  /** Frees the GPU buffers (once a search still running has stopped; it rejects). Later calls throw. */
  destroy(): void;
}
