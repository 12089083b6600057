// Opens a checkpoint of either format, by content (zip magic "PK" vs a safetensors header).
import { openSafetensors } from './safetensors.js';
import { openTorchZip } from './torch-zip.js';
import { openSource, readRange, type WeightsInput } from './source.js';
import type { Checkpoint } from './checkpoint.js';

export async function openCheckpoint(input: WeightsInput, name?: string): Promise<Checkpoint> {
  const src = await openSource(input, name);
  const head = await readRange(src, 0, 4);
  if (head[0] === 0x50 && head[1] === 0x4b) return openTorchZip(src);
  return openSafetensors(src);
}

export { openSafetensors, openTorchZip, openSource };
export type { Checkpoint, StoredTensor, StoredDType } from './checkpoint.js';
export type { ByteSource, WeightsInput } from './source.js';
