// Query rows for an index from the model that made it: texts through CLIP's text tower, images
// through the vision tower (encodeImages, at the run's resolution). The index records its model as
// manifest.json's params.modelHash; until a model can be hashed the same way here, the check is that
// the model's embedding width equals the index's (a model of another width is refused, naming both).
import { ArgumentError } from '../../errors.js';
import { CLIPModel } from '../../model/clip.js';
import { encodeImages } from '../../model/encode.js';
import type { VisionTransformer } from '../../model/vit.js';
import type { ImageInput } from '../../preprocess/index.js';
import type { Index } from './types.js';

function checkWidth(where: string, argument: string, index: Index, width: number): void {
  if (width !== index.dim)
    throw new ArgumentError(
      where,
      argument,
      `the model's embeddings have ${width} values, the rows of the index ${index.dir} ${index.dim}: not the model that made it`,
    );
}

/** [T, dim] text embeddings of `texts` (unnormalised; search normalises them for a normalised index). */
export async function textQuery(
  index: Index,
  clip: CLIPModel,
  texts: string | readonly string[],
): Promise<Float32Array> {
  if (!(clip instanceof CLIPModel))
    throw new ArgumentError('textQuery', 'clip', 'must be a CLIPModel (a text query needs the text tower)');
  checkWidth('textQuery', 'clip', index, clip.embedDim);
  return clip.encodeTexts(typeof texts === 'string' ? [texts] : texts);
}

/**
 * [I, dim] image embeddings of `images` (files, URLs, bytes: encodeImages' inputs) at the index's
 * resolution (params.resolution), from a vision model or a CLIP model's vision tower. An image that
 * cannot be read rejects with an ImageError naming it.
 */
export async function imageQuery(
  index: Index,
  model: VisionTransformer | CLIPModel,
  images: ImageInput | readonly ImageInput[],
  options: { maxPixels?: number } = {},
): Promise<Float32Array> {
  const vision = model instanceof CLIPModel ? model.vision : model;
  checkWidth('imageQuery', 'model', index, vision.config.embedDim);
  const list: readonly ImageInput[] = Array.isArray(images) ? images : [images as ImageInput];
  const r = await encodeImages(vision, list, { resolution: index.params.resolution, maxPixels: options.maxPixels });
  return r.embedding ?? new Float32Array(0);
}
