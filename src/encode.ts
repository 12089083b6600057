// Images in, embeddings out: decode → OpenVision preprocessing → batched forward passes.
import { concat, type ViTOutputName, type ViTOutputs, type VisionTransformer } from './model/vit.js';
import { preprocessImages, type ImageInput } from './preprocess/index.js';

export interface EncodeOptions {
  /** Outputs to return (default: embedding only). */
  outputs?: readonly ViTOutputName[];
  /** Resolution to run at (default: the checkpoint's). */
  resolution?: number;
  /** Images decoded and run per forward call (default 32); bounds host memory on long lists. */
  batchSize?: number;
  /** Called after each batch with the number of images done. */
  onProgress?: (done: number, total: number) => void;
}

export interface EncodeResult {
  /** [N, E] */
  embedding?: Float32Array;
  /** [N, W] */
  pooled?: Float32Array;
  /** [N, g², W] */
  tokens?: Float32Array;
  count: number;
  /** Wall time in ms: decoding, preprocessing and the forward passes. */
  ms: number;
}

/** Decodes, preprocesses (squash resize, PIL bilinear, mean/std of the config) and encodes images. */
export async function encodeImages(model: VisionTransformer, images: readonly ImageInput[], opts: EncodeOptions = {}): Promise<EncodeResult> {
  const t0 = performance.now();
  const size = opts.resolution ?? model.config.imageSize;
  const outputs = opts.outputs ?? ['embedding'];
  const batchSize = Math.max(1, opts.batchSize ?? 32);
  const parts: Partial<Record<ViTOutputName, Float32Array[]>> = {};
  for (let start = 0; start < images.length; start += batchSize) {
    const chunk = images.slice(start, start + batchSize);
    const pixels = await preprocessImages(chunk, { size, mean: model.config.mean, std: model.config.std });
    const out: ViTOutputs = await model.forward(pixels, chunk.length, { resolution: size, outputs });
    for (const k of outputs) (parts[k] ??= []).push(out[k]!);
    opts.onProgress?.(start + chunk.length, images.length);
  }
  const result: EncodeResult = { count: images.length, ms: 0 };
  for (const [k, list] of Object.entries(parts) as [ViTOutputName, Float32Array[]][]) {
    if (k === 'block0') continue;
    result[k] = concat(list);
  }
  result.ms = performance.now() - t0;
  return result;
}
