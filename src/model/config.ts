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
  /** The MLP activation: 'gelu' (exact erf, OpenVision) or 'quick_gelu' (x·sigmoid(1.702x), OpenAI CLIP: model_cfg.quick_gelu). Default 'gelu'. */
  act?: 'gelu' | 'quick_gelu';
}

/** The architecture switches with their defaults filled in. */
export function architecture(c: ViTConfig): {
  lnPre: boolean;
  pool: 'avg' | 'tok';
  finalLnAfterPool: boolean;
  act: 'gelu' | 'quick_gelu';
} {
  return {
    lnPre: c.lnPre ?? false,
    pool: c.pool ?? 'avg',
    finalLnAfterPool: c.finalLnAfterPool ?? true,
    act: c.act ?? 'gelu',
  };
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
  if (c.act !== undefined && c.act !== 'gelu' && c.act !== 'quick_gelu')
    throw new ConfigError(source, `act must be 'gelu' or 'quick_gelu', got ${JSON.stringify(c.act)}`);
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

/** Which tower a key of the config belongs to ('both': a key both towers read, e.g. model_cfg.quick_gelu). */
export type ConfigTower = 'vision' | 'text';

/**
 * One key of an open_clip config and what the parsers do with it: honoured (`field`: the config field
 * it sets, through `as`), defaulted (`default`: open_clip's value when it is absent or null; a key
 * with `read` and no default is required), or refused (`refuse`: why a value is refused, checked
 * after the default; the ConfigError names the key, the value and the reason). A key with only
 * `refuse` is checked and otherwise has no effect (its accepted values are the ones the tower runs).
 * Turning a refusal into a feature is a change of its row: drop `refuse` (or narrow it), add `field`.
 */
export interface ConfigKey {
  /** Path under model_cfg.<tower>_cfg (norm_kwargs.eps), or from the root when it starts with model_cfg. or preprocess_cfg. */
  readonly key: string;
  readonly tower: ConfigTower | 'both';
  /** Checks the type (throws a ValueProblem: what is wrong, said after the key's path) and may convert. */
  readonly read?: (v: unknown) => unknown;
  readonly default?: unknown;
  /** Why this value is refused (the kernels do not implement it), or false / undefined when it is accepted. */
  readonly refuse?: (v: any) => string | false | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The config field the key sets (ViTConfig / TextConfig), its value through `as`. */
  readonly field?: string;
  readonly as?: (v: any) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** What is wrong with a config value (a reader's complaint), said after the key's path. */
class ValueProblem extends Error {
  constructor(readonly detail: string) {
    super(detail);
  }
}
const num = (v: unknown): number => {
  if (typeof v !== 'number') throw new ValueProblem('is missing or not a number');
  return v;
};
const bool = (v: unknown): boolean => {
  if (typeof v !== 'boolean') throw new ValueProblem(`must be true or false, got ${JSON.stringify(v)}`);
  return v;
};
const obj = (v: unknown): Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ValueProblem('must be an object');
  return v as Record<string, unknown>;
};
/** image_size / patch_size: a number, or an [h, w] pair (a non-square one is refused by its row). */
const side = (v: unknown): number | [number, number] => {
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && v.length === 2 && v.every((d) => typeof d === 'number')) return v as [number, number];
  throw new ValueProblem('is missing or not a number or [h, w] pair');
};
const rgb = (v: unknown): [number, number, number] => {
  if (!(Array.isArray(v) && v.length === 3 && v.every((e) => typeof e === 'number' && Number.isFinite(e))))
    throw new ValueProblem(`must be 3 finite numbers (one per RGB channel), got ${JSON.stringify(v)}`);
  return v as [number, number, number];
};
const given = (v: unknown) => v !== undefined && v !== null;
const nonSquare = (v: number | [number, number]) =>
  Array.isArray(v) &&
  v[0] !== v[1] &&
  'non-square sizes are not supported (the kernels assume a square image and patch)';
const onlyKeys = (allowed: string, what: (k: string) => string) => (v: Record<string, unknown>) => {
  const k = Object.keys(v).find((k) => k !== allowed);
  return k !== undefined && what(k);
};

/**
 * Every key of open_clip's CLIPVisionCfg / CLIPTextCfg (and of model_cfg, preprocess_cfg) that
 * changes the forward pass, for both towers, with open_clip's defaults (no_ln_pre false, pool_type
 * 'tok' / 'argmax', final_ln_after_pool false, LayerNorm eps 1e-5, …), never OpenVision's silently.
 * The fields no single key gives (heads from head_width, mlpWidth from mlp_ratio, embedDim) are
 * computed by configFromOpenClip / textConfigFromOpenClip.
 */
export const OPEN_CLIP_KEYS: readonly ConfigKey[] = [
  // model_cfg: both towers
  { key: 'model_cfg.embed_dim', tower: 'both', read: (v) => (typeof v === 'number' ? v : null), default: null },
  // QuickGELU in every MLP of both towers (OpenAI CLIP and the open_clip models trained like it); it
  // takes no options, so a tower's act_kwargs beside it is refused (configFromOpenClip / textConfigFromOpenClip).
  { key: 'model_cfg.quick_gelu', tower: 'both', read: bool, default: false },
  { key: 'mlp_ratio', tower: 'both', read: num, default: 4 },
  { key: 'ls_init_value', tower: 'both', refuse: (v) => given(v) && 'layer scale is not implemented' },
  {
    key: 'norm_kwargs',
    tower: 'both',
    read: obj,
    default: {},
    refuse: onlyKeys('eps', (k) => `only eps can be set (LayerNorm option '${k}' is not implemented)`),
  },
  { key: 'norm_kwargs.eps', tower: 'both', read: num, default: 1e-5, field: 'eps' },
  // the vision tower
  {
    key: 'image_size',
    tower: 'vision',
    read: side,
    refuse: nonSquare,
    field: 'imageSize',
    as: (v: number | number[]) => (Array.isArray(v) ? v[0] : v),
  },
  {
    key: 'patch_size',
    tower: 'vision',
    read: side,
    refuse: nonSquare,
    field: 'patchSize',
    as: (v: number | number[]) => (Array.isArray(v) ? v[0] : v),
  },
  { key: 'width', tower: 'vision', read: num, field: 'width' },
  { key: 'layers', tower: 'vision', read: num, field: 'layers' },
  { key: 'head_width', tower: 'vision', read: num, default: 64 },
  { key: 'no_ln_pre', tower: 'vision', read: bool, default: false, field: 'lnPre', as: (v: boolean) => !v },
  {
    key: 'pool_type',
    tower: 'vision',
    default: 'tok',
    refuse: (v) => v !== 'avg' && v !== 'tok' && "only 'avg' and 'tok' pooling are implemented",
    field: 'pool',
  },
  { key: 'final_ln_after_pool', tower: 'vision', read: bool, default: false, field: 'finalLnAfterPool' },
  {
    key: 'act_kwargs',
    tower: 'vision',
    refuse: (v) =>
      given(v) &&
      Object.keys(v).length > 0 &&
      'only the default exact-erf GELU (nn.GELU()) is implemented for the vision tower',
  },
  { key: 'attentional_pool', tower: 'vision', refuse: (v) => v === true && 'attention pooling is not implemented' },
  {
    key: 'pos_embed_type',
    tower: 'vision',
    refuse: (v) =>
      v !== undefined &&
      v !== 'learnable' &&
      v !== 'sin_cos_2d' &&
      "only a position table stored in the checkpoint ('learnable' or 'sin_cos_2d') is implemented",
  },
  ...['qk_norm', 'scaled_cosine_attn', 'scale_heads', 'scale_attn_inner', 'scale_attn', 'scale_fc'].map(
    (key): ConfigKey => ({
      key,
      tower: 'vision',
      refuse: (v) => v === true && 'this attention-block variant is not implemented',
    }),
  ),
  {
    key: 'block_type',
    tower: 'vision',
    refuse: (v) => given(v) && v !== 'default' && 'only the default residual attention block is implemented',
  },
  { key: 'timm_model_name', tower: 'vision', refuse: (v) => given(v) && 'timm vision towers are not supported' },
  { key: 'preprocess_cfg.mean', tower: 'vision', read: rgb, default: IMAGENET_MEAN, field: 'mean' },
  { key: 'preprocess_cfg.std', tower: 'vision', read: rgb, default: IMAGENET_STD, field: 'std' },
  // the text tower
  { key: 'hf_model_name', tower: 'text', refuse: (v) => given(v) && 'Hugging Face text towers are not supported' },
  // false: the causal mask of OpenAI's text tower (query i attends to keys 0 .. i); true: OpenVision's unmasked tower.
  { key: 'no_causal_mask', tower: 'text', read: bool, default: false, field: 'causal', as: (v: boolean) => !v },
  {
    key: 'pool_type',
    tower: 'text',
    default: 'argmax',
    refuse: (v) =>
      v !== 'last' &&
      v !== 'argmax' &&
      "only 'argmax' (the <|endoftext|> token, OpenAI's) and 'last' (OpenVision's) pooling are implemented",
    field: 'pool',
  },
  { key: 'proj_bias', tower: 'text', refuse: (v) => v === true && 'a text projection bias is not implemented' },
  {
    key: 'proj_type',
    tower: 'text',
    default: 'linear',
    refuse: (v) => v !== 'linear' && "only the 'linear' text projection is implemented",
  },
  { key: 'embed_cls', tower: 'text', refuse: (v) => v === true && 'a text class token is not implemented' },
  {
    key: 'act_kwargs',
    tower: 'text',
    read: obj,
    default: {},
    refuse: onlyKeys('approximate', (k) => `GELU option '${k}' is not implemented`),
  },
  {
    key: 'act_kwargs.approximate',
    tower: 'text',
    default: 'none',
    refuse: (v) => v !== 'tanh' && v !== 'none' && "must be 'tanh' or 'none'",
    field: 'act',
    as: (v) => (v === 'tanh' ? 'gelu_tanh' : 'gelu'),
  },
  { key: 'context_length', tower: 'text', read: num, default: 77, field: 'contextLength' },
  { key: 'vocab_size', tower: 'text', read: num, default: 49408, field: 'vocabSize' },
  { key: 'width', tower: 'text', read: num, default: 512, field: 'width' },
  { key: 'heads', tower: 'text', read: num, default: 8, field: 'heads' },
  { key: 'layers', tower: 'text', read: num, default: 12, field: 'layers' },
];

/**
 * Reads one tower's keys of an open_clip config by OPEN_CLIP_KEYS: the fields they set, and every
 * key's value (defaults filled in) by its path. A refused value or a bad type is a ConfigError
 * naming the key's full path.
 */
function readTowerKeys(
  tower: ConfigTower,
  root: Record<string, unknown>,
  source: string,
): { fields: Record<string, unknown>; values: Map<string, unknown> } {
  const cfgPath = `model_cfg.${tower}_cfg`;
  const fields: Record<string, unknown> = {};
  const values = new Map<string, unknown>();
  for (const row of OPEN_CLIP_KEYS) {
    if (row.tower !== tower && row.tower !== 'both') continue;
    const fromRoot = /^(model_cfg|preprocess_cfg)\./.test(row.key);
    const path = fromRoot ? row.key : `${cfgPath}.${row.key}`;
    let raw: unknown = root;
    for (const part of path.split('.'))
      raw = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)[part] : undefined;
    const absent = raw === undefined || (raw === null && 'default' in row);
    let value = absent && 'default' in row ? row.default : raw;
    try {
      if (row.read) value = row.read(value);
    } catch (e) {
      if (e instanceof ValueProblem) throw new ConfigError(source, `${path} ${e.detail}`);
      throw e;
    }
    const why = row.refuse?.(value);
    if (why)
      throw new ConfigError(
        source,
        `${path} = ${absent && raw === undefined && 'default' in row ? `${JSON.stringify(value)} (open_clip's default: the key is absent)` : JSON.stringify(raw)}: ${why}`,
      );
    values.set(row.key, value);
    if (row.field) fields[row.field] = row.as ? row.as(value) : value;
  }
  return { fields, values };
}

/**
 * Reads `model_cfg.vision_cfg` (+ `embed_dim`, `quick_gelu`, `preprocess_cfg`) of an open_clip JSON
 * config: every key that changes the forward pass is honoured with open_clip's default when absent,
 * or refused with a ConfigError naming it (OPEN_CLIP_KEYS).
 */
export function configFromOpenClip(json: unknown, source = 'open_clip_config.json'): ViTConfig {
  const root = json as { model_cfg?: { vision_cfg?: unknown } } | null;
  const v = root?.model_cfg?.vision_cfg;
  if (!v || typeof v !== 'object') throw new ConfigError(source, 'no model_cfg.vision_cfg');
  const { fields, values } = readTowerKeys('vision', root, source);
  const width = fields.width as number;
  return validateConfig(
    {
      ...(fields as Omit<ViTConfig, 'heads' | 'mlpWidth' | 'embedDim'>),
      // act_kwargs is refused for the vision tower unless empty (its row), so QuickGELU takes none
      ...(values.get('model_cfg.quick_gelu') === true ? { act: 'quick_gelu' as const } : {}),
      heads: width / (values.get('head_width') as number),
      mlpWidth: Math.floor(width * (values.get('mlp_ratio') as number)),
      embedDim: (values.get('model_cfg.embed_dim') as number | null) ?? width,
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
 * The OpenVision family's encoder shapes (and, added below, BASELINE_PRESETS: the CLIP baselines in OpenAI's layout). Widths, depths, heads and MLP widths are the
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

const OPENAI_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const OPENAI_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/**
 * A vision tower in OpenAI's layout (OpenAI CLIP, and the open_clip models trained like it: LAION,
 * DataComp, DFN, MetaCLIP): ln_pre, ln_post on every token then the class token, LayerNorm eps
 * 1e-5, QuickGELU (the `-quickgelu` configs), OpenAI's mean and std, heads of 64 (80 for H/14).
 */
function openaiPreset(
  width: number,
  layers: number,
  heads: number,
  mlpWidth: number,
  patchSize: number,
  imageSize: number,
  embedDim: number,
): ViTConfig {
  return {
    ...preset(width, layers, heads, mlpWidth, patchSize, imageSize, embedDim),
    eps: 1e-5,
    mean: OPENAI_MEAN,
    std: OPENAI_STD,
    lnPre: true,
    pool: 'tok',
    finalLnAfterPool: false,
    act: 'quick_gelu',
  };
}

/**
 * The CLIP baselines OpenVision is compared with, in OpenAI's layout: OpenAI's ViT-B/32, B/16, L/14
 * and L/14 at 336 px (open_clip's `ViT-*-quickgelu` shapes, embed_dim 512 / 512 / 768 / 768) and
 * DFN's ViT-H/14 (`ViT-H-14-quickgelu`, embed_dim 1024). Shapes only: benchmark rows at equal size
 * beside OpenVision's (the weights are random there); a checkpoint's own config always wins.
 */
export const BASELINE_PRESETS: Record<string, ViTConfig> = {
  'openai-b-32': openaiPreset(768, 12, 12, 3072, 32, 224, 512),
  'openai-b-16': openaiPreset(768, 12, 12, 3072, 16, 224, 512),
  'openai-l-14': openaiPreset(1024, 24, 16, 4096, 14, 224, 768),
  'openai-l-14-336': openaiPreset(1024, 24, 16, 4096, 14, 336, 768),
  'dfn-h-14': openaiPreset(1280, 32, 16, 5120, 14, 224, 1024),
};
Object.assign(PRESETS, BASELINE_PRESETS);

/** The family a preset's shape is of, as the benchmark names each row: 'OpenVision', 'OpenAI CLIP' or 'DFN (OpenAI layout)'. */
export function presetFamily(name: string): string {
  const n = name.toLowerCase();
  if (n.startsWith('openai-')) return 'OpenAI CLIP';
  if (n.startsWith('dfn-')) return 'DFN (OpenAI layout)';
  return 'OpenVision';
}

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
  /**
   * The MLP activation: 'gelu_tanh' (act_kwargs.approximate = 'tanh', OpenVision), 'gelu' (exact erf)
   * or 'quick_gelu' (model_cfg.quick_gelu, OpenAI CLIP).
   */
  act: 'gelu' | 'gelu_tanh' | 'quick_gelu';
  /** Output width of text_projection (the shared embedding width E). */
  embedDim: number;
  /** Causal self-attention (open_clip's no_causal_mask: false, OpenAI's layout). Default false (OpenVision's unmasked tower). */
  causal?: boolean;
  /**
   * Which token is pooled: 'last' (index contextLength - 1, OpenVision) or 'argmax' (the position of
   * the largest id, the `<|endoftext|>` token of OpenAI's tokenizer). Default 'last'.
   */
  pool?: 'last' | 'argmax';
}

/**
 * Reads `model_cfg.text_cfg` of an open_clip JSON config, or returns null when it has none (a
 * vision-only OpenVision 2 config). Keys that change the forward pass are honoured or refused by
 * name from the same table as the vision tower's (OPEN_CLIP_KEYS): OpenVision's text tower (no
 * attention mask: no_causal_mask, last-token pooling, tanh GELU) and OpenAI's (open_clip's defaults:
 * causal mask, pooling at the <|endoftext|> token, QuickGELU where model_cfg.quick_gelu); both
 * project without bias; other layouts are refused.
 */
export function textConfigFromOpenClip(json: unknown, source = 'open_clip_config.json'): TextConfig | null {
  const root = json as { model_cfg?: { text_cfg?: unknown } } | null;
  const t = root?.model_cfg?.text_cfg;
  if (t === undefined || t === null) return null;
  if (typeof t !== 'object') throw new ConfigError(source, 'model_cfg.text_cfg must be an object');
  const { fields, values } = readTowerKeys('text', root as Record<string, unknown>, source);
  const width = fields.width as number,
    heads = fields.heads as number;
  if (values.get('model_cfg.quick_gelu') === true && Object.keys(values.get('act_kwargs') as object).length > 0)
    throw new ConfigError(
      source,
      `model_cfg.quick_gelu = true with model_cfg.text_cfg.act_kwargs = ${JSON.stringify(values.get('act_kwargs'))}: QuickGELU takes no options (drop one of them)`,
    );
  const c: TextConfig = {
    ...(fields as Omit<TextConfig, 'mlpWidth' | 'embedDim'>),
    ...(values.get('model_cfg.quick_gelu') === true ? { act: 'quick_gelu' as const } : {}),
    mlpWidth: Math.floor(width * (values.get('mlp_ratio') as number)),
    embedDim: (values.get('model_cfg.embed_dim') as number | null) ?? width,
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
