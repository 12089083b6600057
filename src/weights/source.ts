// Where checkpoint bytes come from: a path (Node, read lazily through fs.openAsBlob), a File/Blob
// (browser), or bytes in memory. Everything downstream reads byte ranges from a Blob, so a
// multi-gigabyte checkpoint is never held in memory whole.

export interface ByteSource {
  /** File name (or a label) used in error messages. */
  readonly name: string;
  readonly blob: Blob;
}

export type WeightsInput = string | Uint8Array | ArrayBuffer | Blob | ByteSource;

export async function openSource(input: WeightsInput, name?: string): Promise<ByteSource> {
  if (typeof input === 'string') {
    const fs = await import('node:fs');
    try {
      return { name: name ?? input, blob: await fs.openAsBlob(input) };
    } catch (e) {
      throw new Error(`${input}: cannot open: ${(e as Error).message}`);
    }
  }
  if (input instanceof Uint8Array) return { name: name ?? '<bytes>', blob: new Blob([input as Uint8Array<ArrayBuffer>]) };
  if (input instanceof ArrayBuffer) return { name: name ?? '<bytes>', blob: new Blob([input]) };
  if (input instanceof Blob) return { name: name ?? ((input as File).name || '<blob>'), blob: input };
  return input;
}

export async function readRange(src: ByteSource, begin: number, end: number): Promise<Uint8Array> {
  return new Uint8Array(await src.blob.slice(begin, end).arrayBuffer());
}
