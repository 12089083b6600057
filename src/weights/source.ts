// Where checkpoint bytes come from: a path (Node, read lazily through fs.openAsBlob), a URL (HTTP
// range requests, url-source.ts), a File/Blob (browser), or bytes in memory. Everything downstream
// reads byte ranges from a ByteSource, so a multi-gigabyte checkpoint is never held in memory whole.
import { CheckpointError } from '../errors.js';
import { SOURCE_OPTION_KEYS, type ByteSource, type SourceOptions } from './types.js';
import { checkOptionKeys } from '../options.js';

export type { ByteSource, LoadProgress, SourceOptions } from './types.js';

/** A Blob (or File) as a ByteSource. */
export function blobSource(name: string, blob: Blob): ByteSource {
  return {
    name,
    size: blob.size,
    read: async (begin, end) => new Uint8Array(await blob.slice(begin, end).arrayBuffer()),
  };
}

/** A ByteSource, or the `{ name, blob }` form of earlier versions, as a ByteSource. */
export function toByteSource(src: ByteSource | { name: string; blob: Blob }): ByteSource {
  return 'read' in src ? src : blobSource(src.name, src.blob);
}

/** What a model's `weights` can be: a path or an http(s) URL (string or URL), bytes, a Blob/File, a ByteSource, or `{ name, blob }`. */
export type WeightsInput = string | URL | Uint8Array | ArrayBuffer | Blob | ByteSource | { name: string; blob: Blob };

/** Whether `input` names an http(s) URL (a string starting with http:// or https://, or a URL object). */
export function isUrl(input: unknown): input is string | URL {
  return (
    (typeof input === 'string' && /^https?:\/\//i.test(input)) ||
    (typeof URL !== 'undefined' && input instanceof URL && /^https?:$/.test(input.protocol))
  );
}

export async function openSource(input: WeightsInput, name?: string, opts: SourceOptions = {}): Promise<ByteSource> {
  checkOptionKeys('openSource', opts, SOURCE_OPTION_KEYS);
  // In a browser a path is a URL relative to the page.
  const inBrowser = typeof process === 'undefined' && typeof location !== 'undefined';
  if (isUrl(input) || (inBrowser && typeof input === 'string')) {
    const { openUrlSource } = await import('./url-source.js');
    return openUrlSource(inBrowser ? new URL(String(input), location.href).href : String(input), opts);
  }
  if (typeof input === 'string') {
    const fs = await import('node:fs');
    const file = name ?? input;
    let stat;
    try {
      stat = await fs.promises.stat(input);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new CheckpointError(file, code === 'ENOENT' ? 'no such file' : `cannot open: ${(e as Error).message}`);
    }
    if (stat.isDirectory())
      throw new CheckpointError(
        file,
        'is a directory; expected a checkpoint file (open_clip_pytorch_model.bin or a .safetensors file)',
      );
    if (!stat.isFile())
      throw new CheckpointError(file, 'is not a regular file; expected a checkpoint file (.bin or .safetensors)');
    try {
      return blobSource(file, await fs.openAsBlob(input));
    } catch (e) {
      throw new CheckpointError(file, `cannot open: ${(e as Error).message}`);
    }
  }
  if (input instanceof Uint8Array) {
    const bytes = input;
    return { name: name ?? '<bytes>', size: bytes.length, read: (b, e) => Promise.resolve(bytes.subarray(b, e)) };
  }
  if (input instanceof ArrayBuffer) return openSource(new Uint8Array(input), name);
  if (input instanceof Blob) return blobSource(name ?? ((input as File).name || '<blob>'), input);
  if (input && typeof input === 'object' && 'read' in input && typeof input.read === 'function' && 'size' in input)
    return input;
  if (input && typeof input === 'object' && 'blob' in input && input.blob instanceof Blob)
    return blobSource(input.name, input.blob);
  throw new CheckpointError(
    name ?? 'weights',
    `unsupported input ${input === null ? 'null' : typeof input === 'object' ? (input as object).constructor?.name : typeof input} (a path, bytes, a Blob/File or a ByteSource)`,
  );
}

export async function readRange(src: ByteSource, begin: number, end: number): Promise<Uint8Array> {
  const e = Math.min(end, src.size);
  return e <= begin ? new Uint8Array(0) : src.read(begin, e);
}

/** How a weights input is named in messages, before it is opened: its path, file name or a label. */
export function sourceLabel(input: unknown): string {
  if (typeof input === 'string') return input;
  if (isUrl(input)) return String(input);
  if (typeof Blob !== 'undefined' && input instanceof Blob) return (input as File).name || '<blob>';
  if (input instanceof Uint8Array || input instanceof ArrayBuffer) return '<bytes>';
  if (input && typeof input === 'object') {
    const o = input as { name?: unknown; file?: unknown };
    if (typeof o.file === 'string') return o.file;
    if (typeof o.name === 'string') return o.name;
  }
  return 'the model';
}
