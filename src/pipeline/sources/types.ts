// The shapes the sources hand to the pipeline: parts (a unit of work: one tar shard, or a fixed
// number of samples of a folder or a list file) and, inside a part, one item per sample, in a stable
// order. An unreadable sample is an item too (a failure record), in its place in that order, so that
// nothing is lost silently and a later stage can list it beside the embeddings of its part.

/** The image formats the sources take: what src/preprocess/decode.ts decodes in Node (by content: PNG, JPEG). */
export const IMAGE_EXTENSIONS: readonly string[] = ['jpg', 'jpeg', 'png'];

/** One sample: an image's bytes, undecoded, with what came beside it. */
export interface Sample {
  /**
   * The sample's name within its source: the webdataset `__key__` in a tar shard (the member's path
   * up to the first dot of its basename), the path relative to the folder without its extension, or
   * the list entry as written without its image extension.
   */
  key: string;
  /** The image file's bytes (not decoded: the decoder checks the content). */
  bytes: Uint8Array;
  /** The image's extension, lowercase, without the dot: `jpg`, `jpeg` or `png`. */
  ext: string;
  /** The `.txt` beside the image (UTF-8), if there is one. */
  caption?: string;
  /** The `.json` beside the image, parsed (a JSON object), if there is one. */
  meta?: Record<string, unknown>;
  /** Where it came from: the tar shard (path or URL, as given), or the image's own path or URL. */
  source: string;
  error?: undefined;
}

/** A sample that could not be taken (no image member, unreadable file, bad JSON, HTTP error): its key and why. */
export interface SampleFailure {
  key: string;
  source: string;
  /** Why, in words (e.g. `no image member (has: txt, json)`, `bad JSON in key.json: …`, `HTTP 404 Not Found`). */
  error: string;
}

/** What a part's iterator yields: a sample, or a failure in its place (`item.error !== undefined`). */
export type SourceItem = Sample | SampleFailure;

/** One unit of work: a tar shard, or up to `partSize` consecutive samples of a folder or a list file. */
export interface Part {
  /** The part's position among all parts of the `openSources` call, from 0 (the `N` of output names). */
  index: number;
  /**
   * A stable name: the shard as given (path or URL) for a tar; `<folder or list>#<k>` for the k-th
   * part (from 0) of a folder or a list file.
   */
  id: string;
  kind: 'tar' | 'folder' | 'list';
  /** The source it belongs to: the tar shard, the folder or the list file (as given, braces expanded). */
  source: string;
  /** The number of items it yields, where known before reading (folders and lists; not tars). */
  size?: number;
  /**
   * Its items, in a stable order; each call reads afresh. Throws a SourceError (naming the shard or
   * URL) when the source itself fails: unreachable, HTTP error, not a tar, truncated (the samples
   * before the truncation are yielded first).
   */
  samples(): AsyncIterable<SourceItem>;
}
