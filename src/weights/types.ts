// The types every byte source shares (source.ts opens paths, bytes and Blobs; url-source.ts URLs).
import type { KeyList } from '../options.js';

/** Random access to a checkpoint's bytes. */
export interface ByteSource {
  /** File name, URL (or a label) used in error messages. */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /** Bytes [begin, end) (end ≤ size). */
  read(begin: number, end: number): Promise<Uint8Array>;
}

/** How a URL source downloads (url-source.ts); ignored for other inputs. */
export interface SourceOptions {
  /** Called as bytes arrive (`phase` 'download'), and by the loaders as they upload tensors ('upload'). */
  onProgress?: (p: LoadProgress) => void;
  /** Keep downloads in a cache (Node: a folder, $WGSL_VIT_CACHE or ~/.cache/wgsl-vit/downloads); false: none. */
  cache?: boolean;
  /** Aborts the download: the load rejects with a CheckpointError naming the URL (its `cause`: the signal's reason). */
  signal?: AbortSignal;
  /**
   * Milliseconds a request may wait without receiving anything (response headers or body bytes)
   * before the load fails with a CheckpointError naming the URL; default 60000 (60 s).
   */
  stallTimeoutMs?: number;
}

/** The keys of SourceOptions (an unknown one is refused, options.ts). */
export const SOURCE_OPTION_KEYS = {
  onProgress: true,
  cache: true,
  signal: true,
  stallTimeoutMs: true,
} as const satisfies KeyList<SourceOptions>;

/** One progress event of a load: bytes of `file` done out of `total` in a phase. */
export interface LoadProgress {
  file: string;
  phase: 'download' | 'upload';
  loaded: number;
  total: number;
  /**
   * On 'upload' events: the tower whose tensors these are. `loaded` / `total` count per tower, so a
   * CLIPModel.load reports the text tower from 0 to its total, then the vision tower from 0 to its
   * own: a progress display keys on `tower` (absent on 'download' events, which are the whole file).
   */
  tower?: 'vision' | 'text';
}
