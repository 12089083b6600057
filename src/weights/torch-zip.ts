// Reader for `torch.save` files (the released open_clip_pytorch_model.bin): a zip archive holding
// `<name>/data.pkl` (a pickle of the state dict whose tensors point at storages by persistent id)
// and `<name>/data/<key>` (each storage's raw little-endian bytes). Unzipping: @zip.js/zip.js
// (random access, zip64); unpickling: pickleparser, with torch's few globals resolved here.
import * as zip from '@zip.js/zip.js';
import { NameRegistry, Parser } from 'pickleparser';
import { CheckpointError } from '../errors.js';
import { elementCount } from '../shape.js';
import {
  decodeFloats,
  isFloatDType,
  notFloatError,
  STORED_BYTES,
  type Checkpoint,
  type StoredDType,
  type StoredTensor,
} from './checkpoint.js';
import { toByteSource, type ByteSource } from './source.js';

zip.configure({ useWebWorkers: false });

const STORAGE_DTYPES: Record<string, StoredDType> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
};
/** Bytes per element of torch's other storage types: listed (e.g. text-tower ids), not readable as floats. */
const OTHER_STORAGE_BYTES: Record<string, number> = {
  DoubleStorage: 8,
  LongStorage: 8,
  IntStorage: 4,
  ShortStorage: 2,
  CharStorage: 1,
  ByteStorage: 1,
  BoolStorage: 1,
  ComplexFloatStorage: 8,
  ComplexDoubleStorage: 16,
};
const elementBytes = (dtype: string): number | undefined =>
  isFloatDType(dtype) ? STORED_BYTES[dtype] : OTHER_STORAGE_BYTES[dtype.replace(/^torch\./, '')];

/** Names an unpickled class: ours (StorageType) or one pickleparser made up for an unknown global. */
function className(x: unknown): string {
  if (x instanceof StorageType) return x.name;
  const proto = (x as { prototype?: { __module__?: string; __name__?: string } } | null)?.prototype;
  if (proto?.__name__) return `${proto.__module__}.${proto.__name__}`;
  return typeof x === 'function' ? 'an unknown class' : JSON.stringify(x);
}

interface StorageRef {
  readonly kind: 'storage';
  readonly dtype: string;
  readonly key: string;
  readonly numel: number;
}
interface TensorRefInfo extends StoredTensor {
  readonly storage: StorageRef;
  readonly offset: number;
  readonly contiguous: boolean;
}

class StorageType {
  constructor(readonly name: string) {}
}

/** A ByteSource as zip.js reads archives: random access by (offset, length), so only the central directory and the entries read are fetched. */
class SourceReader extends zip.Reader<ByteSource> {
  constructor(private readonly src: ByteSource) {
    super(src);
    this.size = src.size;
  }
  override readUint8Array(index: number, length: number): Promise<Uint8Array> {
    return this.src.read(index, Math.min(index + length, this.src.size));
  }
}

export async function openTorchZip(source: ByteSource | { name: string; blob: Blob }): Promise<Checkpoint> {
  const src = toByteSource(source);
  const file = src.name;
  let entries: zip.Entry[];
  const reader = new zip.ZipReader(new SourceReader(src));
  try {
    entries = await reader.getEntries();
  } catch (e) {
    throw new CheckpointError(file, `not a readable torch zip archive: ${(e as Error).message}`);
  }
  const pklEntry = entries.find((e) => /^[^/]+\/data\.pkl$/.test(e.filename));
  if (!pklEntry || pklEntry.directory)
    throw new CheckpointError(
      file,
      'no <archive>/data.pkl inside: not a torch.save file (legacy non-zip torch files are not supported)',
    );
  const prefix = pklEntry.filename.slice(0, -'data.pkl'.length);
  const byName = new Map(entries.map((e) => [e.filename, e]));
  const readEntry = async (e: zip.Entry): Promise<Uint8Array> => {
    try {
      // checkCrc32: the entry's CRC-32 is verified, so a flipped byte in weight data is an error.
      return await (e as zip.FileEntry).getData(new zip.Uint8ArrayWriter(), { checkCrc32: true });
    } catch (err) {
      const m = (err as Error).message;
      throw new CheckpointError(
        file,
        m === zip.ERR_INVALID_CRC32
          ? `archive entry ${e.filename} fails its CRC-32 check: the file is corrupt`
          : `cannot read archive entry ${e.filename}: ${m}`,
      );
    }
  };

  const registry = new NameRegistry();
  registry.register('collections', 'OrderedDict', () => new Map());
  registry.register(
    'torch._utils',
    '_rebuild_tensor_v2',
    (storage: StorageRef, offset: number, size: number[], stride: number[]) => ({ storage, offset, size, stride }),
  );
  registry.register('torch._utils', '_rebuild_parameter', (t: unknown) => t);
  for (const name of [...Object.keys(STORAGE_DTYPES), ...Object.keys(OTHER_STORAGE_BYTES)]) {
    registry.register('torch', name, new StorageType(name) as never);
  }
  const parser = new Parser({
    nameResolver: registry,
    unpicklingTypeOfDictionary: 'Map',
    persistentResolver: {
      resolve(pid: unknown): StorageRef {
        const p = pid as [string, StorageType, string, string, number];
        if (!Array.isArray(p) || p[0] !== 'storage')
          throw new CheckpointError(file, `unexpected persistent id ${JSON.stringify(p)} in data.pkl`);
        const type = className(p[1]);
        return {
          kind: 'storage',
          dtype: STORAGE_DTYPES[type] ?? (type in OTHER_STORAGE_BYTES ? `torch.${type}` : type),
          key: String(p[2]),
          numel: Number(p[4]),
        };
      },
    },
  });
  let root: unknown;
  try {
    root = parser.parse(await readEntry(pklEntry));
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(file, `data.pkl cannot be unpickled: ${(e as Error).message}`);
  }
  if (root instanceof Map && root.has('state_dict') && root.get('state_dict') instanceof Map)
    root = root.get('state_dict');
  if (!(root instanceof Map))
    throw new CheckpointError(file, 'data.pkl does not hold a state dict (a mapping of names to tensors)');

  const tensors = new Map<string, TensorRefInfo>();
  for (const [key, value] of root as Map<string, unknown>) {
    const t = value as { storage?: StorageRef; offset?: number; size?: number[]; stride?: number[] };
    if (!t || !t.storage || t.storage.kind !== 'storage' || !Array.isArray(t.size)) continue; // not a tensor (e.g. a version int)
    const dtype = t.storage.dtype;
    const size = t.size.map(Number);
    const stride = (t.stride ?? []).map(Number);
    let contiguous = true;
    for (let i = size.length - 1, expect = 1; i >= 0; i--) {
      if (size[i]! > 1 && stride[i] !== expect) contiguous = false;
      expect *= size[i]!;
    }
    const offset = Number(t.offset ?? 0);
    if (offset + elementCount(size) > t.storage.numel) {
      throw new CheckpointError(
        file,
        `tensor of [${size.join(', ')}] at offset ${offset} overruns its storage of ${t.storage.numel} elements`,
        key,
      );
    }
    const entry = byName.get(`${prefix}data/${t.storage.key}`);
    if (!entry)
      throw new CheckpointError(file, `storage ${prefix}data/${t.storage.key} is missing from the archive`, key);
    const bytes = elementBytes(dtype);
    if (bytes !== undefined && entry.uncompressedSize !== t.storage.numel * bytes) {
      throw new CheckpointError(
        file,
        `storage ${entry.filename} holds ${entry.uncompressedSize} bytes, expected ${t.storage.numel * bytes}`,
        key,
      );
    }
    tensors.set(key, { key, dtype, shape: size, storage: t.storage, offset, contiguous });
  }
  return {
    file,
    format: 'torch-zip',
    tensors,
    metadata: {},
    async readRaw(key) {
      const t = tensors.get(key);
      if (!t) throw new CheckpointError(file, 'no such tensor', key);
      const b = elementBytes(t.dtype);
      if (b === undefined || !t.contiguous)
        throw new CheckpointError(
          file,
          `cannot read the raw bytes of a ${t.contiguous ? t.dtype : 'non-contiguous'} tensor`,
          key,
        );
      const bytes = await readEntry(byName.get(`${prefix}data/${t.storage.key}`)!);
      return bytes.subarray(t.offset * b, (t.offset + elementCount(t.shape)) * b);
    },
    async read(key) {
      const t = tensors.get(key);
      if (!t) throw new CheckpointError(file, 'no such tensor', key);
      if (!isFloatDType(t.dtype)) throw notFloatError(file, t);
      if (!t.contiguous)
        throw new CheckpointError(
          file,
          `non-contiguous tensor of [${t.shape.join(', ')}] is not supported (save it with .contiguous())`,
          key,
        );
      const bytes = await readEntry(byName.get(`${prefix}data/${t.storage.key}`)!);
      const b = STORED_BYTES[t.dtype];
      return decodeFloats(
        file,
        key,
        t.dtype,
        bytes.subarray(t.offset * b, (t.offset + elementCount(t.shape)) * b),
        elementCount(t.shape),
      );
    },
  };
}
