// ViT configuration: from an open_clip_config.json, or a preset of the OpenVision family.
import { ConfigError } from '../errors.js';

export interface ViTConfig {
  /** Resolution the checkpoint was trained at (its position table's grid). */
  imageSize: number;
  patchSize: number;
  width: number;
  layers: number;
  heads: number;
  /** MLP hidden width, floor(width · mlp_ratio); need not be a multiple of 4. */
  mlpWidth: number;
  /** Output width of `proj`. */
  embedDim: number;
  /** LayerNorm epsilon (1e-6 for OpenVision). */
  eps: number;
  /** Preprocessing: per-channel mean and std, applied after scaling pixels to [0, 1]. */
  mean: [number, number, number];
  std: [number, number, number];
}

export const headDim = (c: ViTConfig): number => c.width / c.heads;
export const gridOf = (c: ViTConfig, resolution = c.imageSize): number => resolution / c.patchSize;

const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/** Throws a ConfigError unless the configuration is one the kernels can run. */
export function validateConfig(c: ViTConfig, source: string): ViTConfig {
  const ints: (keyof ViTConfig)[] = ['imageSize', 'patchSize', 'width', 'layers', 'heads', 'mlpWidth', 'embedDim'];
  for (const k of ints) {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(source, `${k} must be a positive integer, got ${v}`);
  }
  if (c.width % c.heads !== 0) throw new ConfigError(source, `width ${c.width} is not divisible by heads ${c.heads}`);
  const d = c.width / c.heads;
  if (d % 4 !== 0 || d > 128) throw new ConfigError(source, `head dim ${d} must be a multiple of 4 and at most 128`);
  if (c.width % 4 !== 0) throw new ConfigError(source, `width ${c.width} must be a multiple of 4 (sin-cos position table)`);
  if (c.imageSize % c.patchSize !== 0) throw new ConfigError(source, `image_size ${c.imageSize} is not divisible by patch_size ${c.patchSize}`);
  if (!(c.eps > 0)) throw new ConfigError(source, `eps must be positive, got ${c.eps}`);
  for (const k of ['mean', 'std'] as const) {
    const v = c[k] as unknown;
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new ConfigError(source, `${k} must be 3 finite numbers (one per RGB channel), got ${JSON.stringify(v)}`);
    }
  }
  if (c.std.some((x) => x === 0)) throw new ConfigError(source, `std ${JSON.stringify(c.std)} has a zero: normalising would divide by zero`);
  return c;
}

/** Reads an open_clip_config.json file (Node), with errors naming the file. */
export async function readOpenClipConfig(path: string): Promise<ViTConfig> {
  const fs = await import('node:fs/promises');
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, `cannot read: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(path, `not valid JSON: ${(e as Error).message}`);
  }
  return configFromOpenClip(json, path);
}

/** Reads `model_cfg.vision_cfg` (+ `embed_dim`, `preprocess_cfg`) of an open_clip JSON config. */
export function configFromOpenClip(json: unknown, source = 'open_clip_config.json'): ViTConfig {
  const root = json as { model_cfg?: { embed_dim?: number; vision_cfg?: Record<string, unknown> }; preprocess_cfg?: Record<string, unknown> };
  const v = root?.model_cfg?.vision_cfg;
  if (!v) throw new ConfigError(source, 'no model_cfg.vision_cfg');
  const need = (k: string): number => {
    const x = v[k];
    if (typeof x !== 'number') throw new ConfigError(source, `model_cfg.vision_cfg.${k} is missing or not a number`);
    return x;
  };
  const width = need('width');
  const headWidth = typeof v.head_width === 'number' ? v.head_width : 64;
  const mlpRatio = typeof v.mlp_ratio === 'number' ? v.mlp_ratio : 4;
  const eps = (v.norm_kwargs as { eps?: number } | undefined)?.eps ?? 1e-6;
  const image = need('image_size');
  const patch = need('patch_size');
  if (v.no_ln_pre === false || v.ln_pre === true) throw new ConfigError(source, 'ln_pre is not part of the OpenVision architecture and is not supported');
  if (v.pool_type !== undefined && v.pool_type !== 'avg') throw new ConfigError(source, `pool_type ${String(v.pool_type)} is not supported (OpenVision uses 'avg')`);
  const pre = root.preprocess_cfg ?? {};
  return validateConfig({
    imageSize: Array.isArray(image) ? image[0] : image,
    patchSize: Array.isArray(patch) ? patch[0] : patch,
    width,
    layers: need('layers'),
    heads: width / headWidth,
    mlpWidth: Math.floor(width * mlpRatio),
    embedDim: typeof root.model_cfg?.embed_dim === 'number' ? root.model_cfg.embed_dim : width,
    eps,
    mean: (pre.mean as [number, number, number]) ?? IMAGENET_MEAN,
    std: (pre.std as [number, number, number]) ?? IMAGENET_STD,
  }, source);
}

function preset(width: number, layers: number, heads: number, mlpWidth: number, patchSize: number, imageSize: number, embedDim: number): ViTConfig {
  return { imageSize, patchSize, width, layers, heads, mlpWidth, embedDim, eps: 1e-6, mean: IMAGENET_MEAN, std: IMAGENET_STD };
}

/**
 * The OpenVision family's encoder shapes. Widths, depths, heads and MLP widths are the
 * architectures' own; `embedDim` follows open_clip's convention for each size and is only a
 * default: a checkpoint's own open_clip_config.json always wins.
 */
export const PRESETS: Record<string, ViTConfig> = {
  'ti-16': preset(192, 12, 3, 768, 16, 224, 384),
  'ti-8': preset(192, 12, 3, 768, 8, 224, 384),
  's-16': preset(384, 12, 6, 1536, 16, 224, 384),
  's-8': preset(384, 12, 6, 1536, 8, 224, 384),
  'b-16': preset(768, 12, 12, 3072, 16, 224, 512),
  'b-8': preset(768, 12, 12, 3072, 8, 224, 512),
  'l-14': preset(1024, 24, 16, 4096, 14, 224, 768),
  'so400m-14': preset(1152, 27, 16, 4304, 14, 224, 1152),
  'h-14': preset(1280, 32, 16, 5120, 14, 224, 1024),
  'g-14': preset(1408, 40, 16, 6144, 14, 224, 1024),
};

export function presetConfig(name: string, imageSize?: number): ViTConfig {
  const p = PRESETS[name.toLowerCase()];
  if (!p) throw new ConfigError(`preset '${name}'`, `unknown; known: ${Object.keys(PRESETS).join(', ')}`);
  return validateConfig({ ...p, imageSize: imageSize ?? p.imageSize }, `preset '${name}'`);
}

/** Multiply-adds ×2 of one forward pass per image at `resolution` (what GFLOP/s figures count). */
export function flopsPerImage(c: ViTConfig, resolution = c.imageSize): number {
  const g = gridOf(c, resolution), n = 1 + g * g, W = c.width, D = headDim(c);
  const patch = 2 * g * g * 3 * c.patchSize ** 2 * W;
  const perBlock = 2 * n * W * 3 * W + 2 * c.heads * n * n * D * 2 + 2 * n * W * W + 2 * 2 * n * W * c.mlpWidth;
  return patch + c.layers * perBlock + 2 * W * c.embedDim;
}
