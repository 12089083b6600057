// Typed errors. Each names what is at fault: the kernel and argument, the file and key, the shape.

/** A kernel was given a bad argument (shape, dtype, buffer size, device limit). Nothing was dispatched. */
export class KernelArgumentError extends Error {
  constructor(
    readonly kernel: string,
    readonly argument: string,
    detail: string,
  ) {
    super(`${kernel}: argument '${argument}': ${detail}`);
    this.name = 'KernelArgumentError';
  }
}

/** A weights or expected-outputs file is malformed, truncated, or does not fit the model. */
export class CheckpointError extends Error {
  constructor(
    readonly file: string,
    detail: string,
    readonly key?: string,
  ) {
    super(`${file}${key ? `: key '${key}'` : ''}: ${detail}`);
    this.name = 'CheckpointError';
  }
}

/** A model configuration is invalid or unsupported (e.g. resolution not divisible by the patch size). */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super(`${source}: ${detail}`);
    this.name = 'ConfigError';
  }
}

/** No WebGPU adapter or device could be obtained. */
export class DeviceError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'DeviceError';
  }
}

/** An image could not be read or decoded, or is too large to decode safely. Names the image. */
export class ImageError extends Error {
  constructor(
    readonly image: string,
    detail: string,
  ) {
    super(`${image}: ${detail}`);
    this.name = 'ImageError';
  }
}

/** A call to the public API got an argument of the wrong type or value. Names the argument. */
export class ArgumentError extends Error {
  constructor(
    readonly where: string,
    readonly argument: string,
    detail: string,
  ) {
    super(`${where}: argument '${argument}': ${detail}`);
    this.name = 'ArgumentError';
  }
}

/** A model was used after destroy(), or destroyed while a call was running. */
export class ModelDestroyedError extends Error {
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super(`${source}: ${detail}`);
    this.name = 'ModelDestroyedError';
  }
}

/** WebGPU reported a validation or out-of-memory error for the commands of one call. */
export class WebGPUError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'WebGPUError';
  }
}

/**
 * A source of images (a folder, a list file, a tar shard or its URL) cannot be opened or read to the
 * end: missing, unreachable, not a tar, truncated. Names the source. One unreadable sample inside a
 * readable source is not an error but a failure record (src/pipeline/sources/types.ts).
 */
export class SourceError extends Error {
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super(`${source}: ${detail}`);
    this.name = 'SourceError';
  }
}

/**
 * An embedding index (a collection run's output folder, searched by src/pipeline/search/) cannot be
 * used: no such folder, no manifest, no finished part, a damaged or foreign file. Names the folder
 * or the file.
 */
export class SearchIndexError extends Error {
  constructor(
    /** The folder, or the file within it, at fault. */
    readonly path: string,
    detail: string,
  ) {
    super(`${path}: ${detail}`);
    this.name = 'SearchIndexError';
  }
}
