// Where checkpoint bytes come from: a path (Node, read lazily through fs.openAsBlob), a File/Blob
// (browser), or bytes in memory. Everything downstream reads byte ranges from a Blob, so a
// multi-gigabyte checkpoint is never held in memory whole.
import { CheckpointError } from '../errors.js';

export interface ByteSource {
  /** File name (or a label) used in error messages. */
  readonly name: string;
  readonly blob: Blob;
}

export type WeightsInput = string | Uint8Array | ArrayBuffer | Blob | ByteSource;

export async function openSource(input: WeightsInput, name?: string): Promise<ByteSource> {
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
      return { name: file, blob: await fs.openAsBlob(input) };
    } catch (e) {
      throw new CheckpointError(file, `cannot open: ${(e as Error).message}`);
    }
  }
  if (input instanceof Uint8Array)
    return { name: name ?? '<bytes>', blob: new Blob([input as Uint8Array<ArrayBuffer>]) };
  if (input instanceof ArrayBuffer) return { name: name ?? '<bytes>', blob: new Blob([input]) };
  if (input instanceof Blob) return { name: name ?? ((input as File).name || '<blob>'), blob: input };
  if (input && typeof input === 'object' && 'blob' in input && input.blob instanceof Blob) return input;
  throw new CheckpointError(
    name ?? 'weights',
    `unsupported input ${input === null ? 'null' : typeof input === 'object' ? (input as object).constructor?.name : typeof input} (a path, bytes, a Blob/File or a ByteSource)`,
  );
}

export async function readRange(src: ByteSource, begin: number, end: number): Promise<Uint8Array> {
  return new Uint8Array(await src.blob.slice(begin, end).arrayBuffer());
}

/** How a weights input is named in messages, before it is opened: its path, file name or a label. */
export function sourceLabel(input: unknown): string {
  if (typeof input === 'string') return input;
  if (typeof Blob !== 'undefined' && input instanceof Blob) return (input as File).name || '<blob>';
  if (input instanceof Uint8Array || input instanceof ArrayBuffer) return '<bytes>';
  if (input && typeof input === 'object') {
    const o = input as { name?: unknown; file?: unknown };
    if (typeof o.file === 'string') return o.file;
    if (typeof o.name === 'string') return o.name;
  }
  return 'the model';
}
