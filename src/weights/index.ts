// Opens a checkpoint of either format, by content (zip magic "PK" vs a safetensors header).
import { openSafetensors } from './safetensors.js';
import { openTorchZip } from './torch-zip.js';
import { openSource, readRange, type SourceOptions, type WeightsInput } from './source.js';
import type { Checkpoint } from './checkpoint.js';
import { CheckpointError } from '../errors.js';
import { checkOptionKeys } from '../options.js';
import { SOURCE_OPTION_KEYS } from './types.js';

/** Opens a checkpoint (path, http(s) URL, bytes, Blob, ByteSource); `opts` applies to URLs (progress, cache). */
export async function openCheckpoint(
  input: WeightsInput,
  name?: string,
  opts: SourceOptions = {},
): Promise<Checkpoint> {
  checkOptionKeys('openCheckpoint', opts, SOURCE_OPTION_KEYS);
  const src = await openSource(input, name, opts);
  const head = await readRange(src, 0, 16);
  if (head[0] === 0x50 && head[1] === 0x4b) return openTorchZip(src);
  if (head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5) {
    throw new CheckpointError(
      src.name,
      'is a legacy (pre-zip) torch.save pickle, which is not supported: re-save it with torch >= 1.6 ' +
        '(torch.save(torch.load(f), out)) or convert it to safetensors',
    );
  }
  if (head.length < 9 || head[8] === 0x7b) return openSafetensors(src); // '{' after the 8-byte header length (short files: its errors)
  const hex = Array.from(head.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new CheckpointError(
    src.name,
    `is neither a torch zip checkpoint (.bin, starts with "PK") nor a safetensors file (8-byte length, then '{'); it starts with ${hex || 'nothing (empty file)'}`,
  );
}

export { openSafetensors, openTorchZip, openSource };
export type { Checkpoint, StoredTensor, StoredDType } from './checkpoint.js';
export type { ByteSource, WeightsInput, SourceOptions, LoadProgress } from './source.js';
export { blobSource, isUrl } from './source.js';
