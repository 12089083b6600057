// ViT configuration: from an open_clip_config.json, or a preset of the OpenVision family.
import { ConfigError } from '../errors.js';
import { ATTENTION_MAX_HEAD_DIM } from '../kernels/attention.js';

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
  /**
   * Architecture switches of open_clip's VisionTransformer. Absent, they take OpenVision's values
   * (what every preset and released OpenVision config has): no ln_pre, mean pooling over the patch
   * tokens, ln_post after pooling.
   */
  /** A LayerNorm `ln_pre` after the position embedding (open_clip's `no_ln_pre: false`). Default false. */
  lnPre?: boolean;
  /** 'avg': pooled from the mean of the patch tokens; 'tok': from the class token. Default 'avg'. */
  pool?: 'avg' | 'tok';
  /** true: ln_post on the pooled vector; false: ln_post on every token, then pooling (and `tokens` are normalised). Default true. */
  finalLnAfterPool?: boolean;
}

/** The architecture switches with their defaults filled in. */
export function architecture(c: ViTConfig): { lnPre: boolean; pool: 'avg' | 'tok'; finalLnAfterPool: boolean } {
  return { lnPre: c.lnPre ?? false, pool: c.pool ?? 'avg', finalLnAfterPool: c.finalLnAfterPool ?? true };
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
  if (d % 4 !== 0 || d > ATTENTION_MAX_HEAD_DIM) {
    throw new ConfigError(source, `head dim ${d} must be a multiple of 4 and at most ${ATTENTION_MAX_HEAD_DIM}`);
  }
  if (c.width % 4 !== 0)
    throw new ConfigError(source, `width ${c.width} must be a multiple of 4 (sin-cos position table)`);
  if (c.imageSize % c.patchSize !== 0)
    throw new ConfigError(source, `image_size ${c.imageSize} is not divisible by patch_size ${c.patchSize}`);
  if (!(c.eps > 0)) throw new ConfigError(source, `eps must be positive, got ${c.eps}`);
  for (const k of ['mean', 'std'] as const) {
    const v = c[k] as unknown;
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new ConfigError(source, `${k} must be 3 finite numbers (one per RGB channel), got ${JSON.stringify(v)}`);
    }
  }
  if (c.std.some((x) => x === 0))
    throw new ConfigError(source, `std ${JSON.stringify(c.std)} has a zero: normalising would divide by zero`);
  for (const k of ['lnPre', 'finalLnAfterPool'] as const) {
    if (c[k] !== undefined && typeof c[k] !== 'boolean')
      throw new ConfigError(source, `${k} must be a boolean, got ${JSON.stringify(c[k])}`);
  }
  if (c.pool !== undefined && c.pool !== 'avg' && c.pool !== 'tok')
    throw new ConfigError(source, `pool must be 'avg' or 'tok', got ${JSON.stringify(c.pool)}`);
  return c;
}

/** Reads an open_clip_config.json file (Node), with errors naming the file. */
export async function readOpenClipConfig(path: string): Promise<ViTConfig> {
  return configFromOpenClip(await readConfigJson(path), path);
}

/** The parsed JSON of a config file: a path (Node) or an http(s) URL; a ConfigError naming it when it cannot be read or parsed. */
export async function readConfigJson(path: string): Promise<unknown> {
  let text: string;
  // In a browser a path is a URL relative to the page.
  if (typeof process === 'undefined' && typeof location !== 'undefined') path = new URL(path, location.href).href;
  if (/^https?:\/\//i.test(path)) {
    let r: Response;
    try {
      r = await fetch(path);
    } catch (e) {
      throw new ConfigError(
        path,
        `cannot be fetched: ${(e as Error).message} (network error${typeof window !== 'undefined' ? ', or a CORS refusal' : ''})`,
      );
    }
    if (!r.ok) throw new ConfigError(path, `HTTP ${r.status} ${r.statusText}`);
    text = await r.text();
  } else {
    const fs = await import('node:fs/promises');
    try {
      text = await fs.readFile(path, 'utf8');
    } catch (e) {
      throw new ConfigError(path, `cannot read: ${(e as Error).message}`);
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ConfigError(path, `not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Reads `model_cfg.vision_cfg` (+ `embed_dim`, `quick_gelu`, `preprocess_cfg`) of an open_clip JSON
 * config. Every key of open_clip's CLIPVisionCfg that changes the forward pass is either honoured,
 * with open_clip's default when absent (no_ln_pre: false, pool_type: 'tok', final_ln_after_pool:
 * false, norm_kwargs.eps: 1e-5, nn.LayerNorm's), or refused with a ConfigError naming it.
 */
export function configFromOpenClip(json: unknown, source = 'open_clip_config.json'): ViTConfig {
  const root = json as {
    model_cfg?: { embed_dim?: number; quick_gelu?: unknown; vision_cfg?: Record<string, unknown> };
    preprocess_cfg?: Record<string, unknown>;
  };
  const v = root?.model_cfg?.vision_cfg;
  if (!v || typeof v !== 'object') throw new ConfigError(source, 'no model_cfg.vision_cfg');
  const key = (k: string) => `model_cfg.vision_cfg.${k}`;
  const refuse = (k: string, why: string): never => {
    throw new ConfigError(
      source,
      `${k} = ${JSON.stringify(k.startsWith('model_cfg.vision_cfg.') ? v[k.slice(21)] : root.model_cfg?.quick_gelu)}: ${why}`,
    );
  };
  const need = (k: string): number => {
    const x = v[k];
    if (typeof x !== 'number') throw new ConfigError(source, `${key(k)} is missing or not a number`);
    return x;
  };
  const flag = (k: string, dflt: boolean): boolean => {
    const x = v[k];
    if (x === undefined || x === null) return dflt;
    if (typeof x !== 'boolean')
      throw new ConfigError(source, `${key(k)} must be true or false, got ${JSON.stringify(x)}`);
    return x;
  };
  /** image_size / patch_size: a number, or a square [h, w] pair. */
  const side = (k: string): number => {
    const x = v[k];
    if (typeof x === 'number') return x;
    if (Array.isArray(x) && x.length === 2 && x.every((d) => typeof d === 'number')) {
      if (x[0] !== x[1])
        refuse(key(k), 'non-square sizes are not supported (the kernels assume a square image and patch)');
      return x[0] as number;
    }
    throw new ConfigError(source, `${key(k)} is missing or not a number or [h, w] pair`);
  };
  const width = need('width');
  const headWidth = v.head_width === undefined ? 64 : need('head_width');
  const mlpRatio = v.mlp_ratio === undefined ? 4 : need('mlp_ratio');

  // What the kernels do not implement: refused by name rather than run silently wrong.
  if (root.model_cfg?.quick_gelu === true)
    refuse(
      'model_cfg.quick_gelu',
      'QuickGELU is not implemented for the vision tower (only exact-erf GELU, nn.GELU())',
    );
  if (v.act_kwargs !== undefined && v.act_kwargs !== null && Object.keys(v.act_kwargs).length > 0) {
    refuse(key('act_kwargs'), 'only the default exact-erf GELU (nn.GELU()) is implemented for the vision tower');
  }
  const norm = (v.norm_kwargs ?? {}) as Record<string, unknown>;
  if (typeof norm !== 'object' || Array.isArray(norm))
    throw new ConfigError(source, `${key('norm_kwargs')} must be an object`);
  for (const k of Object.keys(norm))
    if (k !== 'eps') refuse(key('norm_kwargs'), `only eps can be set (LayerNorm option '${k}' is not implemented)`);
  if (norm.eps !== undefined && typeof norm.eps !== 'number')
    throw new ConfigError(source, `${key('norm_kwargs.eps')} must be a number`);
  if (v.ls_init_value !== undefined && v.ls_init_value !== null)
    refuse(key('ls_init_value'), 'layer scale is not implemented');
  if (v.attentional_pool === true) refuse(key('attentional_pool'), 'attention pooling is not implemented');
  if (v.pos_embed_type !== undefined && v.pos_embed_type !== 'learnable' && v.pos_embed_type !== 'sin_cos_2d') {
    refuse(
      key('pos_embed_type'),
      "only a position table stored in the checkpoint ('learnable' or 'sin_cos_2d') is implemented",
    );
  }
  for (const k of ['qk_norm', 'scaled_cosine_attn', 'scale_heads', 'scale_attn_inner', 'scale_attn', 'scale_fc']) {
    if (v[k] === true) refuse(key(k), 'this attention-block variant is not implemented');
  }
  if (v.block_type !== undefined && v.block_type !== null && v.block_type !== 'default')
    refuse(key('block_type'), 'only the default residual attention block is implemented');
  if (v.timm_model_name !== undefined && v.timm_model_name !== null)
    refuse(key('timm_model_name'), 'timm vision towers are not supported');
  const pool = (v.pool_type ?? 'tok') as 'avg' | 'tok';
  if (pool !== 'avg' && pool !== 'tok') refuse(key('pool_type'), "only 'avg' and 'tok' pooling are implemented");

  const pre = root.preprocess_cfg ?? {};
  for (const k of ['mean', 'std'] as const) {
    const x = pre[k];
    if (
      x !== undefined &&
      !(Array.isArray(x) && x.length === 3 && x.every((e) => typeof e === 'number' && Number.isFinite(e)))
    ) {
      throw new ConfigError(
        source,
        `preprocess_cfg.${k} must be 3 finite numbers (one per RGB channel), got ${JSON.stringify(x)}`,
      );
    }
  }
  return validateConfig(
    {
      imageSize: side('image_size'),
      patchSize: side('patch_size'),
      width,
      layers: need('layers'),
      heads: width / headWidth,
      mlpWidth: Math.floor(width * mlpRatio),
      embedDim: typeof root.model_cfg?.embed_dim === 'number' ? root.model_cfg.embed_dim : width,
      eps: norm.eps ?? 1e-5,
      mean: (pre.mean as [number, number, number]) ?? IMAGENET_MEAN,
      std: (pre.std as [number, number, number]) ?? IMAGENET_STD,
      lnPre: !flag('no_ln_pre', false),
      pool,
      finalLnAfterPool: flag('final_ln_after_pool', false),
    },
    source,
  );
}

function preset(
  width: number,
  layers: number,
  heads: number,
  mlpWidth: number,
  patchSize: number,
  imageSize: number,
  embedDim: number,
): ViTConfig {
  return {
    imageSize,
    patchSize,
    width,
    layers,
    heads,
    mlpWidth,
    embedDim,
    eps: 1e-6,
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
  };
}

/**
 * The OpenVision family's encoder shapes. Widths, depths, heads and MLP widths are the
 * architectures' own; `embedDim` is the released OpenVision configs' `embed_dim` (Ti 192, S 384,
 * B 512, L 768, SoViT-400M 1152, H 1024; g: open_clip's 1024). A checkpoint's own
 * open_clip_config.json always wins.
 */
export const PRESETS: Record<string, ViTConfig> = {
  'ti-16': preset(192, 12, 3, 768, 16, 224, 192),
  'ti-8': preset(192, 12, 3, 768, 8, 224, 192),
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
  const g = gridOf(c, resolution),
    n = 1 + g * g,
    W = c.width,
    D = headDim(c);
  const patch = 2 * g * g * 3 * c.patchSize ** 2 * W;
  const perBlock = 2 * n * W * 3 * W + 2 * c.heads * n * n * D * 2 + 2 * n * W * W + 2 * 2 * n * W * c.mlpWidth;
  return patch + c.layers * perBlock + 2 * W * c.embedDim;
}

/** A CLIP text tower (open_clip's TextTransformer as OpenVision 1 configures it). */
export interface TextConfig {
  /** Tokens per text (OpenVision: 80). */
  contextLength: number;
  /** Rows of token_embedding (OpenVision: 32000). */
  vocabSize: number;
  width: number;
  heads: number;
  layers: number;
  mlpWidth: number;
  eps: number;
  /** The MLP activation: 'gelu_tanh' (act_kwargs.approximate = 'tanh', OpenVision) or 'gelu' (exact erf). */
  act: 'gelu' | 'gelu_tanh';
  /** Output width of text_projection (the shared embedding width E). */
  embedDim: number;
}

/**
 * Reads `model_cfg.text_cfg` of an open_clip JSON config, or returns null when it has none (a
 * vision-only OpenVision 2 config). Keys that change the forward pass are honoured or refused by
 * name, as for the vision tower: OpenVision's text tower has no attention mask (no_causal_mask),
 * pools the last token, projects without bias; other layouts are refused.
 */
export function textConfigFromOpenClip(json: unknown, source = 'open_clip_config.json'): TextConfig | null {
  const root = json as { model_cfg?: { embed_dim?: number; quick_gelu?: unknown; text_cfg?: Record<string, unknown> } };
  const t = root?.model_cfg?.text_cfg;
  if (t === undefined || t === null) return null;
  if (typeof t !== 'object') throw new ConfigError(source, 'model_cfg.text_cfg must be an object');
  const key = (k: string) => `model_cfg.text_cfg.${k}`;
  const refuse = (k: string, why: string): never => {
    throw new ConfigError(source, `${key(k)} = ${JSON.stringify(t[k])}: ${why}`);
  };
  const num = (k: string, dflt?: number): number => {
    const x = t[k] ?? dflt;
    if (typeof x !== 'number') throw new ConfigError(source, `${key(k)} is missing or not a number`);
    return x;
  };
  if (t.hf_model_name !== undefined && t.hf_model_name !== null)
    refuse('hf_model_name', 'Hugging Face text towers are not supported');
  if (t.no_causal_mask !== true)
    refuse('no_causal_mask', 'only the unmasked text tower (no_causal_mask: true, as OpenVision) is implemented');
  if ((t.pool_type ?? 'argmax') !== 'last') refuse('pool_type', "only 'last' pooling (OpenVision's) is implemented");
  if (t.proj_bias === true) refuse('proj_bias', 'a text projection bias is not implemented');
  if ((t.proj_type ?? 'linear') !== 'linear') refuse('proj_type', "only the 'linear' text projection is implemented");
  if (t.embed_cls === true) refuse('embed_cls', 'a text class token is not implemented');
  if (t.ls_init_value !== undefined && t.ls_init_value !== null)
    refuse('ls_init_value', 'layer scale is not implemented');
  if (root.model_cfg?.quick_gelu === true)
    throw new ConfigError(source, 'model_cfg.quick_gelu = true: QuickGELU is not implemented');
  const act = (t.act_kwargs ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(act))
    if (k !== 'approximate') refuse('act_kwargs', `GELU option '${k}' is not implemented`);
  if (act.approximate !== undefined && act.approximate !== 'tanh' && act.approximate !== 'none')
    refuse('act_kwargs', "approximate must be 'tanh' or 'none'");
  const norm = (t.norm_kwargs ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(norm))
    if (k !== 'eps') refuse('norm_kwargs', `only eps can be set (LayerNorm option '${k}' is not implemented)`);
  const width = num('width', 512);
  const heads = num('heads', 8);
  const c: TextConfig = {
    contextLength: num('context_length', 77),
    vocabSize: num('vocab_size', 49408),
    width,
    heads,
    layers: num('layers', 12),
    mlpWidth: Math.floor(width * num('mlp_ratio', 4)),
    eps: (norm.eps as number | undefined) ?? 1e-5,
    act: act.approximate === 'tanh' ? 'gelu_tanh' : 'gelu',
    embedDim: typeof root.model_cfg?.embed_dim === 'number' ? root.model_cfg.embed_dim : width,
  };
  for (const k of ['contextLength', 'vocabSize', 'width', 'heads', 'layers', 'mlpWidth', 'embedDim'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0)
      throw new ConfigError(source, `text ${k} must be a positive integer, got ${c[k]}`);
  }
  if (width % heads !== 0) throw new ConfigError(source, `text width ${width} is not divisible by heads ${heads}`);
  const d = width / heads;
  if (d % 4 !== 0 || d > ATTENTION_MAX_HEAD_DIM) {
    throw new ConfigError(source, `text head dim ${d} must be a multiple of 4 and at most ${ATTENTION_MAX_HEAD_DIM}`);
  }
  if (!(c.eps > 0)) throw new ConfigError(source, `text eps must be positive, got ${c.eps}`);
  return c;
}
