// The CLIP text tower on WebGPU. `buildTextGraph` mirrors open_clip's CLIP.encode_text as OpenVision
// configures it (no attention mask, tanh GELU, last-token pooling) and in OpenAI's layout (causal
// mask, QuickGELU, pooling at the <|endoftext|> token: the argmax of the ids).
import { ArgumentError, ConfigError } from '../errors.js';
import { checkOptionKeys, type KeyList } from '../options.js';
import { Graph, type KernelChoices } from '../graph/graph.js';
import type { CompiledGraph } from '../graph/executor.js';
import * as ops from '../graph/ops.js';
import { DTYPE_BYTES } from '../kernels/program/index.js';
import type { Checkpoint } from '../weights/checkpoint.js';
import { residualBlock, type Param } from './blocks.js';
import { textConfigFromOpenClip, type TextConfig, readConfigJson } from './config.js';
import { GraphModel } from './tower.js';
import { checkOutputs, describeValue } from './arguments.js';
import { checkLoadCall, loadTower, TOWER_LOAD_OPTION_KEYS, type TowerLoadOptions } from './load.js';
import { shapeKey } from './profiles.js';
import {
  checkTextLayout,
  expectedTextKeys,
  TEXT_TRANSPOSED,
  towerParams,
  type GpuWeights,
  type WeightsInput,
} from './parameters.js';
import { adapterTraits, type AdapterTraits } from '../kernels/choose/adapter.js';

export type TextOutputName = 'embedding' | 'pooled' | 'block0';
/** Every output the text tower can return. */
export const TEXT_OUTPUTS: readonly TextOutputName[] = ['embedding', 'pooled', 'block0'];

/** The graph input of the argmax-pooling towers: per text of a chunk, the flat row b·T + argmax(ids[b]). */
const EOT_ROWS = 'eot_rows';

/**
 * The position of each text's largest id (torch's argmax: the first one), as flat rows b·T + position
 * of the [count, T] hidden state: the `<|endoftext|>` token of OpenAI's tokenizer (id 49407, the
 * largest), what open_clip's `pool_type: 'argmax'` pools.
 */
export function eotRows(ids: ArrayLike<number>, count: number, T: number): Uint32Array {
  const rows = new Uint32Array(count);
  for (let b = 0; b < count; b++) {
    let best = 0;
    for (let t = 1; t < T; t++) if (ids[b * T + t]! > ids[b * T + best]!) best = t;
    rows[b] = b * T + best;
  }
  return rows;
}

/** The text forward for `batch` texts of `contextLength` ids. */
export function buildTextGraph(
  t: TextConfig,
  batch: number,
  outputs: readonly TextOutputName[],
  kernels: KernelChoices = {},
  adapter?: AdapterTraits,
): Graph {
  const g = new Graph(kernels, adapter);
  const table = { keys: expectedTextKeys(t), transposed: TEXT_TRANSPOSED };
  const P: Param = towerParams(g, table);
  const ids = g.input('ids', [batch, t.contextLength], 'u32');
  const causal = t.causal ?? false;
  // x = token_embedding(text) + positional_embedding; the blocks attend causally (OpenAI's
  // attn_mask) or without any mask (OpenVision's no_causal_mask)
  const x = ops.embedding(g, 'token_embedding', ids, P('token_embedding.weight'), P('positional_embedding'));
  for (let i = 0; i < t.layers; i++) {
    residualBlock(g, P, i, x, { heads: t.heads, eps: t.eps, act: t.act, causal });
    if (i === 0 && outputs.includes('block0')) g.output('block0', ops.snapshot(g, 'block0', x));
  }
  // x = ln_final(x); pooled = x[:, -1] (pool_type 'last') or x[b, ids[b].argmax()] (pool_type
  // 'argmax': the <|endoftext|> token, whose row the forward computes from the ids: the `eot_rows`
  // input). LayerNorm acts on each token alone, so normalising only the pooled token gives the same
  // vector without the other rows.
  const token =
    (t.pool ?? 'last') === 'argmax'
      ? ops.gatherRows(g, 'eot_token', x, g.input(EOT_ROWS, [batch, 1], 'u32'))
      : ops.tokenAt(g, 'last_token', x, t.contextLength - 1);
  const pooled = ops.layerNorm(g, 'ln_final', token, P('ln_final.weight'), P('ln_final.bias'), t.eps);
  if (outputs.includes('pooled')) g.output('pooled', pooled);
  // embedding = pooled @ text_projection
  if (outputs.includes('embedding'))
    g.output('embedding', ops.linear(g, 'text_projection', pooled, P('text_projection'), null));
  return g;
}

export interface TextForwardOptions {
  /** Which outputs to compute and return (default: embedding). */
  outputs?: readonly TextOutputName[];
  /** Largest chunk per submit (default and upper bound: `maxChunk()`). */
  maxBatch?: number;
}

export interface TextOutputs {
  /** [N, E] text embeddings (projected, not normalised). */
  embedding?: Float32Array;
  /** [N, Wt] ln_final of the pooled token (the last one, or the <|endoftext|> one for argmax pooling), before the projection. */
  pooled?: Float32Array;
  /** [N, T, Wt] hidden state after block 0. */
  block0?: Float32Array;
  /** Batch sizes the run was split into. */
  chunks: number[];
}

/**
 * The load options: those of every tower (load.ts; as VisionTransformer's: `kernels`, `dtype`, a
 * tuning `profile` looked up for this tower's own shape, the download options) and its config.
 */
export interface TextLoadOptions extends TowerLoadOptions {
  /** The checkpoint (an OpenVision 1 file: text keys at the top level): a path, bytes, a File/Blob, or an opened Checkpoint. */
  weights: WeightsInput | Checkpoint;
  /** A TextConfig, or the parsed open_clip_config.json, or (Node) its path. */
  config: TextConfig | Record<string, unknown> | string;
}

/** The keys of TextLoadOptions and TextForwardOptions (an unknown one is refused, options.ts). */
export const TEXT_LOAD_OPTION_KEYS = {
  weights: true,
  config: true,
  ...TOWER_LOAD_OPTION_KEYS,
} as const satisfies KeyList<TextLoadOptions>;
export const TEXT_FORWARD_OPTION_KEYS = {
  outputs: true,
  maxBatch: true,
} as const satisfies KeyList<TextForwardOptions>;

export class TextTransformer extends GraphModel {
  private constructor(
    device: GPUDevice,
    readonly config: TextConfig,
    weights: GpuWeights,
    source: string,
    kernels: KernelChoices,
    /** Where the kernel choices came from: 'load option', 'profile <store>' or 'built-in'. */
    readonly kernelsFrom: string,
  ) {
    super(device, weights, source, kernels);
  }

  /** Loads and checks the text tower of a checkpoint against its config, and uploads it. */
  static async load(device: GPUDevice, opts: TextLoadOptions): Promise<TextTransformer> {
    await checkLoadCall('TextTransformer.load', device, opts, TEXT_LOAD_OPTION_KEYS);
    const config = await resolveTextConfig(opts.config);
    const t = await loadTower(device, opts, {
      where: 'TextTransformer.load',
      shape: shapeKey(config),
      layout: (ckpt) => checkTextLayout(ckpt, config),
    });
    return new TextTransformer(device, config, t.weights, t.source, t.kernels, t.kernelsFrom);
  }

  /** Texts one submit may hold: every activation must fit the device's buffer limits. */
  maxChunk(): number {
    const t = this.config;
    const perText = DTYPE_BYTES.f32 * t.contextLength * Math.max(3 * t.width, t.mlpWidth);
    const limit = Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize);
    return Math.max(1, Math.floor(limit / perText));
  }

  compiled(batch: number, outputs: readonly TextOutputName[]): Promise<CompiledGraph> {
    return this.compileCached(`${batch}|${[...outputs].sort().join(',')}`, () =>
      buildTextGraph(this.config, batch, outputs, this.kernels, adapterTraits(this.device)),
    );
  }

  /**
   * Runs the tower on `count` token-id rows ([count, contextLength], e.g. from ClipsTokenizer.encodeBatch).
   * Every id must be in [0, vocabSize). Larger batches are split into chunks.
   */
  async forward(ids: Int32Array | Uint32Array, count: number, opts: TextForwardOptions = {}): Promise<TextOutputs> {
    this.checkAlive();
    checkOptionKeys('text forward', opts, TEXT_FORWARD_OPTION_KEYS);
    const t = this.config,
      T = t.contextLength;
    if (!Number.isInteger(count) || count <= 0)
      throw new ArgumentError('text forward', 'count', `must be a positive integer, got ${String(count)}`);
    if (!(ids instanceof Int32Array || ids instanceof Uint32Array)) {
      throw new ArgumentError(
        'text forward',
        'ids',
        `must be an Int32Array or Uint32Array [count, ${T}] of token ids, got ${describeValue(ids)}`,
      );
    }
    if (ids.length !== count * T)
      throw new ArgumentError('text forward', 'ids', `has ${ids.length} values; [${count}, ${T}] needs ${count * T}`);
    for (let i = 0; i < ids.length; i++) {
      if (ids[i]! < 0 || ids[i]! >= t.vocabSize) {
        throw new ArgumentError(
          'text forward',
          'ids',
          `id ${ids[i]} at [${Math.floor(i / T)}, ${i % T}] is outside the vocabulary [0, ${t.vocabSize})`,
        );
      }
    }
    const outputs = opts.outputs ?? ['embedding'];
    checkOutputs('text forward', outputs, TEXT_OUTPUTS);
    const u32 = new Uint32Array(ids.buffer, ids.byteOffset, ids.length);
    const r = await this.runChunked('text forward', count, opts.maxBatch, this.maxChunk(), async (start, b, alive) => {
      const cg = await this.compiled(b, outputs);
      alive();
      const chunk = u32.subarray(start * T, (start + b) * T);
      return cg.run(
        (t.pool ?? 'last') === 'argmax' ? { ids: chunk, [EOT_ROWS]: eotRows(chunk, b, T) } : { ids: chunk },
      );
    });
    return { ...(r.outputs as Partial<Record<TextOutputName, Float32Array>>), chunks: r.chunks };
  }
}

async function resolveTextConfig(cfg: TextLoadOptions['config']): Promise<TextConfig> {
  let json: unknown = cfg;
  let source = 'config';
  if (typeof cfg === 'string') {
    source = cfg;
    json = await readConfigJson(cfg);
  }
  if (json && typeof json === 'object' && 'model_cfg' in json) {
    const t = textConfigFromOpenClip(json, source);
    if (!t)
      throw new ConfigError(
        source,
        'has no model_cfg.text_cfg: a vision-only config (OpenVision 2, or an OpenVision 1 vision tower alone) has no text tower',
      );
    return t;
  }
  return cfg as TextConfig;
}
