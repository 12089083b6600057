// OpenVision 1 (and OpenAI-layout CLIP) as a whole CLIP model: both towers from one checkpoint, the
// tokenizer its config names (src/text/choose.ts: CLIPS or OpenAI's BPE), and the scores OpenVision
// computes (`exp(logit_scale)` times cosine, softmax over the texts).
//   const clip = await CLIPModel.load(device, { weights, config });
//   const [ranked] = await clip.zeroShot(['cat.jpg'], ['cat', 'dog'], { template: 'a photo of a {}.' });
import { elementCount } from '../shape.js';
import { ArgumentError, CheckpointError, ConfigError } from '../errors.js';
import { checkOptionKeys, type KeyList } from '../options.js';
import { encodeImages, type EncodeOptions } from './encode.js';
import type { ImageInput } from '../preprocess/index.js';
import { checkModelDType } from './dtype.js';
import { tokenizerForConfig, type TextTokenizer } from '../text/choose.js';
import type { Checkpoint } from '../weights/checkpoint.js';
import { configFromOpenClip, textConfigFromOpenClip, readConfigJson } from './config.js';
import { TextTransformer } from './text.js';
import { isList } from './arguments.js';
import {
  checkLoadCall,
  openLoadCheckpoint,
  TOWER_LOAD_OPTION_KEYS,
  towerOptions,
  type TowerLoadOptions,
} from './load.js';
import { VisionTransformer } from './vit.js';
import type { WeightsInput } from './parameters.js';

/**
 * The load options: those of every tower (load.ts), applied to both towers (a tuning `profile` is
 * looked up for each tower's own shape), the config and the tokenizer.
 */
export interface ClipLoadOptions extends TowerLoadOptions {
  /** The OpenVision 1 checkpoint (both towers, `logit_scale`): a path, bytes, a File/Blob or an opened Checkpoint. */
  weights: WeightsInput | Checkpoint;
  /** The open_clip_config.json: parsed, or (Node) its path. */
  config: Record<string, unknown> | string;
  /**
   * The tokenizer. Default: the one the config's checkpoint uses (tokenizerForConfig: the CLIPS
   * tokenizer for `text_cfg.hf_tokenizer_name: 'bert-base-uncased'`, OpenVision 1; OpenAI's BPE
   * without `hf_tokenizer_name`), with the vocabulary the package ships. Else a tokenizer of that
   * kind (ClipsTokenizer, BpeTokenizer), or the text of that kind's vocabulary file (a vocab.txt; a
   * decompressed bpe_simple_vocab_16e6.txt).
   */
  vocab?: TextTokenizer | string;
}

/** One label's score for one image: the shape Transformers.js's zero-shot-image-classification returns. */
export interface LabelScore {
  label: string;
  score: number;
  /**
   * Present (true) when a prompt of this label was longer than the text tower's context and was cut
   * to it (as open_clip does): the score is that of the cut text.
   */
  truncated?: true;
}

export interface ZeroShotOptions extends Pick<EncodeOptions, 'batchSize' | 'maxPixels' | 'resolution' | 'onProgress'> {
  /** A prompt with `{}` where the label goes (default 'a photo of a {}.'). */
  template?: string;
  /** Several prompts: each label's text embedding is the mean of its normalised prompt embeddings, normalised (OpenVision's evaluation). */
  templates?: readonly string[];
}

/** The keys of ClipLoadOptions, ZeroShotOptions, clip.encodeImages' and clip.encodeTexts' options (an unknown one is refused, options.ts). */
export const CLIP_LOAD_OPTION_KEYS = {
  weights: true,
  config: true,
  vocab: true,
  ...TOWER_LOAD_OPTION_KEYS,
} as const satisfies KeyList<ClipLoadOptions>;
export const ZERO_SHOT_OPTION_KEYS = {
  batchSize: true,
  maxPixels: true,
  resolution: true,
  onProgress: true,
  template: true,
  templates: true,
} as const satisfies KeyList<ZeroShotOptions>;
const CLIP_ENCODE_IMAGES_KEYS = {
  resolution: true,
  hiddenBlock: true,
  batchSize: true,
  onProgress: true,
  maxPixels: true,
  decoder: true,
  inFlight: true,
} as const satisfies KeyList<Omit<EncodeOptions, 'outputs' | 'onImageError'>>;
export interface EncodeTextsOptions {
  /** Texts per forward call (default 64). */
  batchSize?: number;
}
export const ENCODE_TEXTS_OPTION_KEYS = { batchSize: true } as const satisfies KeyList<EncodeTextsOptions>;

/**
 * The CLIP methods return one row (or one ranking) per image, so they cannot leave an image out:
 * `onImageError` (which a plain-JavaScript caller can still pass) is refused, not ignored. Then any
 * other unknown key is refused too (checkOptionKeys).
 */
function checkClipImageOptions(method: string, opts: unknown, known: Readonly<Record<string, true>>): void {
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) return checkOptionKeys(method, opts, known);
  if ('onImageError' in opts && (opts as { onImageError?: unknown }).onImageError !== undefined)
    throw new ArgumentError(
      method,
      'onImageError',
      `clip.${method} returns one result per image and rejects with an ImageError naming an unreadable one; to skip unreadable images use encodeImages(clip.vision, images, { onImageError: 'skip' }), which returns indices and failed`,
    );
  // an onImageError: undefined was accepted before unknown keys were refused, and still is
  checkOptionKeys(method, Object.fromEntries(Object.entries(opts).filter(([k]) => k !== 'onImageError')), known);
}

/** L2-normalises each row of a [rows, dim] array (in a new array). */
export function normalizeRows(a: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < a.length / dim; r++) {
    let n = 0;
    for (let i = 0; i < dim; i++) n += a[r * dim + i]! ** 2;
    const s = 1 / Math.sqrt(n);
    for (let i = 0; i < dim; i++) out[r * dim + i] = a[r * dim + i]! * s;
  }
  return out;
}

/** Row-wise softmax of a [rows, cols] array. */
export function softmaxRows(a: Float32Array, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < a.length / cols; r++) {
    let max = -Infinity,
      sum = 0;
    for (let j = 0; j < cols; j++) max = Math.max(max, a[r * cols + j]!);
    for (let j = 0; j < cols; j++) sum += out[r * cols + j] = Math.exp(a[r * cols + j]! - max);
    for (let j = 0; j < cols; j++) out[r * cols + j]! /= sum;
  }
  return out;
}

export class CLIPModel {
  private constructor(
    readonly vision: VisionTransformer,
    readonly text: TextTransformer,
    /** The checkpoint's tokenizer (`tokenizer.kind`: 'clips' or 'openai-bpe'). */
    readonly tokenizer: TextTokenizer,
    /** The checkpoint's `logit_scale` (a log); scores use exp(logitScale). */
    readonly logitScale: number,
  ) {}

  /** The shared embedding width E. */
  get embedDim(): number {
    return this.vision.config.embedDim;
  }

  /** Loads both towers of a CLIP checkpoint (OpenVision 1, OpenAI's layout); an OpenVision 2 (vision-only) file or config is named as such. */
  static async load(device: GPUDevice, opts: ClipLoadOptions): Promise<CLIPModel> {
    await checkLoadCall('CLIPModel.load', device, opts, CLIP_LOAD_OPTION_KEYS);
    let json: unknown = opts.config,
      source = 'config';
    if (typeof opts.config === 'string') {
      source = opts.config;
      json = await readConfigJson(opts.config);
    }
    const visionCfg = configFromOpenClip(json, source);
    const textCfg = textConfigFromOpenClip(json, source);
    if (!textCfg)
      throw new ConfigError(
        source,
        'has no model_cfg.text_cfg: a vision-only model (OpenVision 2, or an OpenVision 1 vision tower saved alone) has no text tower, so it cannot be used as CLIP; use VisionTransformer',
      );
    if (textCfg.embedDim !== visionCfg.embedDim)
      throw new ConfigError(
        source,
        `the towers' embed_dim differ (vision ${visionCfg.embedDim}, text ${textCfg.embedDim})`,
      );
    const tokenizer = await tokenizerForConfig(json, {
      source,
      vocab: opts.vocab,
      contextLength: textCfg.contextLength,
    });
    if (tokenizer.contextLength !== textCfg.contextLength) {
      throw new ConfigError(
        source,
        `the tokenizer makes ${tokenizer.contextLength} ids per text, the text tower takes ${textCfg.contextLength}`,
      );
    }
    if (tokenizer.vocabSize > textCfg.vocabSize) {
      throw new ConfigError(
        source,
        `the vocabulary has ${tokenizer.vocabSize} tokens, more than the text tower's ${textCfg.vocabSize} embedding rows (vocab_size): it is not this model's vocabulary`,
      );
    }
    checkModelDType('CLIPModel.load', opts.dtype);
    const ckpt = await openLoadCheckpoint(opts);
    const ls = ckpt.tensors.get('logit_scale');
    if (!ls)
      throw new CheckpointError(
        ckpt.file,
        ckpt.tensors.has('token_embedding.weight')
          ? 'missing'
          : `has no text tower and no logit_scale: a vision-only checkpoint (${[...ckpt.tensors.keys()].some((k) => k.startsWith('visual.')) ? "an OpenVision 1 vision tower saved alone: its keys start with 'visual.'" : 'OpenVision 2 style'}) cannot be used as CLIP; use VisionTransformer`,
        'logit_scale',
      );
    if (ls.shape.length > 1 || elementCount(ls.shape) !== 1)
      throw new CheckpointError(ckpt.file, `expected a scalar, got shape [${ls.shape.join(', ')}]`, 'logit_scale');
    const [logitScale] = await ckpt.read('logit_scale');
    if (!Number.isFinite(logitScale!))
      throw new CheckpointError(ckpt.file, `non-finite value ${logitScale}`, 'logit_scale');
    // Both towers from the opened file, each with the shared options (and its own profile).
    const shared = towerOptions(opts);
    const text = await TextTransformer.load(device, { ...shared, weights: ckpt, config: textCfg });
    let vision: VisionTransformer;
    try {
      vision = await VisionTransformer.load(device, { ...shared, weights: ckpt, config: visionCfg });
    } catch (e) {
      text.destroy();
      throw e;
    }
    return new CLIPModel(vision, text, tokenizer, logitScale!);
  }

  /**
   * [N, E] image embeddings (projected, not normalised) of image files, bytes or browser images: one
   * row per image, in order. An image that cannot be read rejects the call with an ImageError naming
   * it. To skip unreadable images instead, use `encodeImages(clip.vision, images, { onImageError:
   * 'skip' })` (src/model/encode.ts), whose result says which rows are which images (`indices`, `failed`).
   */
  async encodeImages(
    images: readonly ImageInput[],
    opts: Omit<EncodeOptions, 'outputs' | 'onImageError'> = {},
  ): Promise<Float32Array> {
    checkClipImageOptions('encodeImages', opts, CLIP_ENCODE_IMAGES_KEYS);
    return (
      (await encodeImages(this.vision, images, { ...opts, outputs: ['embedding'] })).embedding ?? new Float32Array(0)
    );
  }

  /** [N, E] text embeddings (projected, not normalised), in batches of `batchSize` (default 64). */
  async encodeTexts(texts: readonly string[], opts: EncodeTextsOptions = {}): Promise<Float32Array> {
    checkOptionKeys('encodeTexts', opts, ENCODE_TEXTS_OPTION_KEYS);
    if (!isList(texts) || texts.length === 0)
      throw new ArgumentError('encodeTexts', 'texts', 'must be a non-empty array of strings');
    texts.forEach((t, i) => {
      if (typeof t !== 'string')
        throw new ArgumentError('encodeTexts', 'texts', `item ${i} is ${t === null ? 'null' : typeof t}, not a string`);
    });
    const batch = opts.batchSize ?? 64;
    if (!Number.isInteger(batch) || batch <= 0)
      throw new ArgumentError('encodeTexts', 'batchSize', `must be a positive integer, got ${batch}`);
    const out = new Float32Array(texts.length * this.embedDim);
    for (let s = 0; s < texts.length; s += batch) {
      const chunk = texts.slice(s, s + batch);
      const r = await this.text.forward(this.tokenizer.encodeBatch(chunk), chunk.length);
      out.set(r.embedding!, s * this.embedDim);
    }
    return out;
  }

  /** logits_per_image [I, T] = exp(logit_scale) · cos(image_i, text_j), from unnormalised embeddings. */
  logits(imageEmbeddings: Float32Array, textEmbeddings: Float32Array): Float32Array {
    const E = this.embedDim;
    for (const [name, a] of [
      ['imageEmbeddings', imageEmbeddings],
      ['textEmbeddings', textEmbeddings],
    ] as const) {
      if (!(a instanceof Float32Array) || a.length === 0 || a.length % E !== 0)
        throw new ArgumentError('logits', name, `must be a Float32Array [N, ${E}]`);
    }
    const I = imageEmbeddings.length / E,
      T = textEmbeddings.length / E;
    const img = normalizeRows(imageEmbeddings, E),
      txt = normalizeRows(textEmbeddings, E);
    const scale = Math.exp(this.logitScale);
    const out = new Float32Array(I * T);
    for (let i = 0; i < I; i++)
      for (let j = 0; j < T; j++) {
        let d = 0;
        for (let e = 0; e < E; e++) d += img[i * E + e]! * txt[j * E + e]!;
        out[i * T + j] = scale * d;
      }
    return out;
  }

  /**
   * Zero-shot classification: for each image, every label with its probability (softmax over the
   * labels of the scaled cosines), most probable first; one ranking per image, in order. An image
   * that cannot be read rejects the call with an ImageError naming it (its path and index); nothing
   * is skipped. Labels longer than the text tower's context (its context_length: 80 tokens for
   * OpenVision, the tokenizer's default) are cut to it, as open_clip does; their entries carry
   * `truncated: true`.
   */
  async zeroShot(
    images: readonly ImageInput[],
    labels: readonly string[],
    opts: ZeroShotOptions = {},
  ): Promise<LabelScore[][]> {
    if (!isList(images) || images.length === 0)
      throw new ArgumentError('zeroShot', 'images', 'must be a non-empty array of images');
    checkClipImageOptions('zeroShot', opts, ZERO_SHOT_OPTION_KEYS);
    if (opts.template !== undefined && opts.templates !== undefined)
      throw new ArgumentError(
        'zeroShot',
        'template',
        'give template (one prompt) or templates (several, averaged), not both',
      );
    const templates = opts.templates ?? [opts.template ?? 'a photo of a {}.'];
    const textEmb = await this.labelEmbeddings(labels, templates);
    const cut = new Set(this.truncatedLabels(labels, templates));
    const imgEmb = await this.encodeImages(images, {
      batchSize: opts.batchSize,
      maxPixels: opts.maxPixels,
      resolution: opts.resolution,
      onProgress: opts.onProgress,
    });
    const probs = softmaxRows(this.logits(imgEmb, textEmb), labels.length);
    return Array.from({ length: images.length }, (_, i) =>
      labels
        .map((label, j): LabelScore => ({
          label,
          score: probs[i * labels.length + j]!,
          ...(cut.has(label) ? { truncated: true as const } : {}),
        }))
        .sort((a, b) => b.score - a.score),
    );
  }

  /** The labels whose prompt (label put into a template) is longer than the text context, so cut. */
  truncatedLabels(labels: readonly string[], templates: readonly string[]): string[] {
    return labels.filter((l) => templates.some((t) => this.tokenizer.truncates(t.replaceAll('{}', l))));
  }

  /**
   * [labels, E] label embeddings: each label put into every template, the prompt embeddings
   * normalised, averaged, normalised again (OpenVision's zero-shot evaluation).
   */
  async labelEmbeddings(labels: readonly string[], templates: readonly string[]): Promise<Float32Array> {
    if (!isList(labels) || labels.length === 0)
      throw new ArgumentError('zeroShot', 'labels', 'must be a non-empty array of strings');
    labels.forEach((l, i) => {
      if (typeof l !== 'string' || l.trim() === '')
        throw new ArgumentError(
          'zeroShot',
          'labels',
          `item ${i} is ${typeof l === 'string' ? 'an empty string' : l === null ? 'null' : typeof l}, not a label`,
        );
    });
    if (!isList(templates) || templates.length === 0)
      throw new ArgumentError('zeroShot', 'templates', 'must be a non-empty array of strings');
    templates.forEach((t, i) => {
      if (typeof t !== 'string' || !t.includes('{}'))
        throw new ArgumentError(
          'zeroShot',
          'templates',
          `item ${i} (${JSON.stringify(t)}) must be a string with {} where the label goes`,
        );
    });
    const E = this.embedDim,
      L = labels.length,
      K = templates.length;
    const prompts = labels.flatMap((l) => templates.map((t) => t.replaceAll('{}', l)));
    const emb = normalizeRows(await this.encodeTexts(prompts), E);
    const mean = new Float32Array(L * E);
    for (let l = 0; l < L; l++)
      for (let k = 0; k < K; k++) for (let e = 0; e < E; e++) mean[l * E + e]! += emb[(l * K + k) * E + e]! / K;
    return normalizeRows(mean, E);
  }

  destroy(): void {
    this.vision.destroy();
    this.text.destroy();
  }
}
