// The OpenVision vision encoder on WebGPU. `buildViTGraph` mirrors OpenVision's (open_clip layout)
// VisionTransformer.forward line by line; `VisionTransformer` loads weights and runs batches.
import { ArgumentError, ConfigError } from '../errors.js';
import { checkOptionKeys, type KeyList } from '../options.js';
import { Graph, type KernelChoices, type Tensor } from '../graph/graph.js';
import type { CompiledGraph, NodeTiming } from '../graph/executor.js';
import { GraphModel } from './tower.js';
import { shapeKey } from './profiles.js';
import { checkHiddenBlockUse, checkOutputs, describeValue } from './arguments.js';
import { checkLoadCall, loadTower, TOWER_LOAD_OPTION_KEYS, type TowerLoadOptions } from './load.js';
import * as ops from '../graph/ops.js';
import { attentionReads } from '../graph/placement.js';
import { DTYPE_BYTES } from '../kernels/program/index.js';
import { MATRIX_TEXTURE_ROWS } from '../kernels/program/texture-matrix.js';
import {
  architecture,
  configFromOpenClip,
  gridOf,
  readOpenClipConfig,
  validateConfig,
  type ViTConfig,
} from './config.js';
import { residualBlock, type Param } from './blocks.js';
import {
  checkLayout,
  expectedKeys,
  positionTableAt,
  SINCOS_TABLE_TOLERANCE,
  sincosTableError,
  uploadF32,
  towerParams,
  VISION_TRANSPOSED,
  type GpuWeights,
} from './parameters.js';
import { adapterTraits, type AdapterTraits } from '../kernels/choose/adapter.js';

export type ViTOutputName = 'tokens' | 'pooled' | 'embedding' | 'block0' | 'hidden';
/** Every output `forward` can return. */
export const VIT_OUTPUTS: readonly ViTOutputName[] = ['tokens', 'pooled', 'embedding', 'block0', 'hidden'];

/** Name of the position-table param for a resolution: the checkpoint's own, or one recomputed (sin-cos) or resampled (learned). */
const posKey = (c: ViTConfig, resolution: number) =>
  resolution === c.imageSize ? 'positional_embedding' : `positional_embedding@${resolution}`;

/** The forward pass for `batch` images of `resolution`² pixels, as a graph of kernel invocations. */
export function buildViTGraph(
  c: ViTConfig,
  batch: number,
  resolution: number,
  outputs: readonly ViTOutputName[],
  hiddenBlock = c.layers - 1,
  kernels: KernelChoices = {},
  adapter?: AdapterTraits,
): Graph {
  const g = new Graph(kernels, adapter);
  const W = c.width,
    grid = gridOf(c, resolution),
    n = 1 + grid * grid;
  const table = { keys: expectedKeys(c), transposed: VISION_TRANSPOSED };
  const P: Param = towerParams(g, table);
  const image = g.input('image', [batch, 3, resolution, resolution]);
  const arch = architecture(c);
  // x = conv1(x) (no bias); x = cat([class_embedding, x]); x = x + positional_embedding
  const pos = resolution === c.imageSize ? P('positional_embedding') : g.param(posKey(c, resolution), [n, W]);
  let x = ops.patchEmbed(g, 'patch_embed', image, P('conv1.weight'), P('class_embedding'), pos);
  // x = ln_pre(x) (OpenVision has none: no_ln_pre)
  if (arch.lnPre) x = ops.layerNorm(g, 'ln_pre', x, P('ln_pre.weight'), P('ln_pre.bias'), c.eps);
  for (let i = 0; i < c.layers; i++) {
    residualBlock(g, P, i, x, { heads: c.heads, eps: c.eps, act: arch.act });
    if (i === 0 && outputs.includes('block0')) g.output('block0', ops.snapshot(g, 'block0', x));
    if (i === hiddenBlock && outputs.includes('hidden')) g.output('hidden', ops.snapshot(g, 'hidden', x));
  }
  // OpenVision (final_ln_after_pool, pool_type 'avg'): tokens = x[:, 1:]; pooled = ln_post(tokens.mean(1)).
  // final_ln_after_pool false: x = ln_post(x) first, then pool. pool_type 'tok': the class token x[:, 0].
  const wantPooled = outputs.includes('pooled') || outputs.includes('embedding');
  const lnPost = (t: Tensor, name: string) => ops.layerNorm(g, name, t, P('ln_post.weight'), P('ln_post.bias'), c.eps);
  const xs = arch.finalLnAfterPool ? x : lnPost(x, 'ln_post');
  if (outputs.includes('tokens')) g.output('tokens', ops.sliceTokens(g, 'tokens', xs, 1));
  if (wantPooled) {
    const pool = arch.pool === 'avg' ? ops.meanPool(g, 'mean_pool', xs, 1) : ops.tokenAt(g, 'class_token', xs, 0);
    const pooled = arch.finalLnAfterPool ? lnPost(pool, 'ln_post') : pool;
    if (outputs.includes('pooled')) g.output('pooled', pooled);
    // embedding = pooled @ proj
    if (outputs.includes('embedding')) g.output('embedding', ops.linear(g, 'proj', pooled, P('proj'), null));
  }
  return g;
}

export interface ForwardOptions {
  /**
   * Input resolution (default: the checkpoint's). Any multiple of the patch size: a sin-cos position
   * table is recomputed for the new grid (OpenVision), a learned one resampled as open_clip's
   * resize_pos_embed does (class row kept, the grid by antialiased bicubic).
   */
  resolution?: number;
  /** Which outputs to compute and return (default tokens, pooled, embedding). */
  outputs?: readonly ViTOutputName[];
  /** Time each kernel with timestamp queries (adapter permitting). */
  profile?: boolean;
  /** Largest chunk per submit (default and upper bound: `maxChunk(resolution)`). */
  maxBatch?: number;
  /**
   * The block whose output `hidden` returns: 0 … layers-1, or negative from the end (-1 the last,
   * -2 the second-to-last, what LLaVA-style pipelines take from OpenVision 2). Default -1.
   */
  hiddenBlock?: number;
  /**
   * Keep the outputs on the device: they come back as GPU buffers in `buffers` (STORAGE, COPY_SRC,
   * COPY_DST; the caller destroys them), nothing is read back, and the call resolves once the work is
   * submitted and validated — for a caller whose next commands use them on the same queue.
   */
  onDevice?: boolean;
}

export interface ViTOutputs {
  /** [B, g², W] patch tokens after the last block: before ln_post (OpenVision), after it when the config has final_ln_after_pool: false. */
  tokens?: Float32Array;
  /** [B, W] ln_post(mean(tokens)) for OpenVision; see ViTConfig.pool / finalLnAfterPool for the other open_clip layouts. */
  pooled?: Float32Array;
  /** [B, E] pooled @ proj. */
  embedding?: Float32Array;
  /** [B, 1 + g², W] hidden state after block 0. */
  block0?: Float32Array;
  /** [B, 1 + g², W] hidden state after block `hiddenBlock` (class token first, before ln_post). */
  hidden?: Float32Array;
  /** Per-kernel GPU times of the last chunk, when profiled. */
  timings?: NodeTiming[];
  /** Batch sizes the run was split into (one entry unless the batch exceeded device limits). */
  chunks: number[];
  /** With `onDevice`: each output asked for, as a GPU buffer of the same layout (float32, row-major). */
  buffers?: Partial<Record<ViTOutputName, GPUBuffer>>;
}

export interface LoadOptions extends TowerLoadOptions {
  /** A ViTConfig, or the parsed open_clip_config.json, or (Node) its path. */
  config: ViTConfig | Record<string, unknown> | string;
}

const DEFAULT_OUTPUTS: readonly ViTOutputName[] = ['tokens', 'pooled', 'embedding'];

/** The keys of LoadOptions and ForwardOptions (an unknown one is refused, options.ts). */
export const LOAD_OPTION_KEYS = {
  weights: true,
  config: true,
  ...TOWER_LOAD_OPTION_KEYS,
} as const satisfies KeyList<LoadOptions>;
export const FORWARD_OPTION_KEYS = {
  resolution: true,
  outputs: true,
  profile: true,
  maxBatch: true,
  hiddenBlock: true,
  onDevice: true,
} as const satisfies KeyList<ForwardOptions>;

export class VisionTransformer extends GraphModel {
  private constructor(
    device: GPUDevice,
    readonly config: ViTConfig,
    weights: GpuWeights,
    source: string,
    /** Max |difference| of the stored position table to the sin-cos formula (see positionTableAt). */
    readonly positionTableError: number,
    /** The stored table when it is not the sin-cos formula (a learned one, resampled for other resolutions), else null. */
    private readonly learnedPositions: Float32Array | null,
    kernels: KernelChoices,
    /** Where the kernel choices came from: 'load option', 'profile <store>' or 'built-in'. */
    readonly kernelsFrom: string,
  ) {
    super(device, weights, source, kernels);
  }

  /** Loads and checks a checkpoint against its config, and uploads it. */
  static async load(device: GPUDevice, opts: LoadOptions): Promise<VisionTransformer> {
    await checkLoadCall('VisionTransformer.load', device, opts, LOAD_OPTION_KEYS);
    const config = await resolveConfig(opts.config);
    let posError = Infinity,
      learned: Float32Array | null = null;
    const t = await loadTower(device, opts, {
      where: 'VisionTransformer.load',
      shape: shapeKey(config),
      layout: (ckpt) => checkLayout(ckpt, config),
      inspect: (k, data) => {
        if (k !== 'positional_embedding') return;
        posError = sincosTableError(data, gridOf(config), config.width);
        learned = posError <= SINCOS_TABLE_TOLERANCE ? null : data;
      },
    });
    return new VisionTransformer(device, config, t.weights, t.source, posError, learned, t.kernels, t.kernelsFrom);
  }

  /**
   * How many images one submit may hold at `resolution`: every activation must fit the device's
   * maxStorageBufferBindingSize and maxBufferSize. Larger batches are split into chunks of this size.
   */
  maxChunk(resolution = this.config.imageSize): number {
    return Math.max(1, Math.floor(this.bufferLimit() / this.bytesPerImage(resolution)));
  }

  /** Bytes of one image's largest activation at `resolution` (the pixels, qkv [n, 3W] or the MLP's [n, mlpWidth]). */
  private bytesPerImage(resolution: number): number {
    const c = this.config,
      grid = gridOf(c, resolution),
      n = 1 + grid * grid;
    return DTYPE_BYTES.f32 * Math.max(3 * resolution * resolution, n * 3 * c.width, n * c.mlpWidth);
  }

  private bufferLimit(): number {
    return Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize);
  }

  /** Rows of one matrix texture where this model's attention reads its qkv from one (else null). */
  private attentionTextureRows(): number | null {
    if (attentionReads(this.kernels) !== 'texture') return null;
    return Math.min(this.kernels.textureRows ?? MATRIX_TEXTURE_ROWS, this.device.limits.maxTextureDimension2D);
  }

  /** Why one image at `resolution` does not run on this device with these kernels, or null when it does. */
  private resolutionProblem(resolution: number): string | null {
    const bytes = this.bytesPerImage(resolution);
    if (bytes > this.bufferLimit())
      return `one image's largest activation would take ${bytes} bytes, over the device's maxStorageBufferBindingSize / maxBufferSize (${this.bufferLimit()})`;
    const rows = this.attentionTextureRows(),
      grid = gridOf(this.config, resolution);
    if (rows !== null && 1 + grid * grid > rows)
      return `one image's ${1 + grid * grid} tokens would not fit the ${rows} rows of a matrix texture, which this adapter's attention ('texture') reads its queries from`;
    return null;
  }

  /**
   * The largest resolution (a multiple of the patch size) one image runs at on this device with this
   * model's kernels: every activation must fit one buffer binding, and with the 'texture' attention
   * (CPU adapters) one image's tokens one matrix texture. forward() refuses a larger one naming it.
   */
  maxResolution(): number {
    const p = this.config.patchSize;
    let g = 1;
    while (this.resolutionProblem((g + 1) * p) === null) g++;
    return g * p;
  }

  /** Refuses (ArgumentError naming `resolution`, as `where`) a resolution this model cannot run at on this device. */
  checkResolution(where: string, resolution: number): void {
    const c = this.config;
    if (!Number.isInteger(resolution) || resolution <= 0 || resolution % c.patchSize !== 0) {
      throw new ConfigError(
        this.source,
        `resolution ${resolution} is not a positive multiple of the patch size ${c.patchSize}`,
      );
    }
    const problem = this.resolutionProblem(resolution);
    if (problem)
      throw new ArgumentError(
        where,
        'resolution',
        `${resolution} is more than this adapter runs this model at: at most ${this.maxResolution()} (at ${resolution}, ${problem})`,
      );
  }

  /** The compiled graph for one chunk shape (built on first use, then reused, also by concurrent calls). */
  compiled(
    batch: number,
    resolution: number,
    outputs: readonly ViTOutputName[],
    hiddenBlock = this.config.layers - 1,
  ): Promise<CompiledGraph> {
    this.checkAlive();
    const pk = posKey(this.config, resolution);
    if (!this.weights.buffers.has(pk) && !this.extraParams.has(pk)) {
      const table = positionTableAt(
        this.learnedPositions ?? new Float32Array(0),
        this.positionTableError,
        this.config,
        resolution,
      );
      this.extraParams.set(pk, uploadF32(this.device, table, pk));
    }
    const hb = outputs.includes('hidden') ? hiddenBlock : -1;
    return this.compileCached(`${batch}|${resolution}|${[...outputs].sort().join(',')}|${hb}`, () =>
      buildViTGraph(this.config, batch, resolution, outputs, hiddenBlock, this.kernels, adapterTraits(this.device)),
    );
  }

  /**
   * Runs the encoder on `batch` preprocessed images ([B, 3, S, S] float32, NCHW): a Float32Array, or
   * a GPU buffer already holding them (COPY_SRC usage; copied on the device, never read by the host,
   * so its values are not checked for being finite). Batches larger than `maxChunk(S)` are split
   * into chunks run one after another; outputs are concatenated (`onDevice`: into one buffer each).
   */
  async forward(pixels: Float32Array | GPUBuffer, batch: number, opts: ForwardOptions = {}): Promise<ViTOutputs> {
    this.checkAlive();
    checkOptionKeys('forward', opts, FORWARD_OPTION_KEYS);
    const c = this.config;
    const res = opts.resolution ?? c.imageSize;
    this.checkResolution('forward', res);
    if (!Number.isInteger(batch) || batch <= 0)
      throw new ArgumentError('forward', 'batch', `must be a positive integer, got ${String(batch)}`);
    const onGpu = isGpuBuffer(pixels);
    if (!(pixels instanceof Float32Array) && !onGpu) {
      throw new ArgumentError(
        'forward',
        'pixels',
        `must be a Float32Array [B, 3, S, S] of preprocessed values or a GPUBuffer holding them, got ${describeValue(pixels)} (use preprocessImages() or new Float32Array(...))`,
      );
    }
    const per = 3 * res * res;
    if (onGpu) {
      if (pixels.size < batch * per * 4)
        throw new ArgumentError(
          'forward',
          'pixels',
          `is a GPUBuffer of ${pixels.size} bytes; [${batch}, 3, ${res}, ${res}] float32 needs ${batch * per * 4}`,
        );
      if (!(pixels.usage & GPUBufferUsage.COPY_SRC))
        throw new ArgumentError(
          'forward',
          'pixels',
          'is a GPUBuffer without COPY_SRC usage (the input is copied from it)',
        );
    } else if (pixels.length !== batch * per) {
      throw new ArgumentError(
        'forward',
        'pixels',
        `has ${pixels.length} values; [${batch}, 3, ${res}, ${res}] needs ${batch * per}`,
      );
    }
    const bad = onGpu ? -1 : firstNonFinite(pixels);
    if (bad >= 0) {
      const b = Math.floor(bad / per),
        ch = Math.floor((bad % per) / (res * res)),
        y = Math.floor((bad % (res * res)) / res),
        x = bad % res;
      throw new ArgumentError(
        'forward',
        'pixels',
        `value ${(pixels as Float32Array)[bad]} at [${b}, ${ch}, ${y}, ${x}] (flat index ${bad}) is not finite`,
      );
    }
    const outputs = opts.outputs ?? DEFAULT_OUTPUTS;
    checkOutputs('forward', outputs, VIT_OUTPUTS);
    const L = c.layers,
      hb = opts.hiddenBlock ?? -1;
    if (!Number.isInteger(hb) || hb < -L || hb >= L)
      throw new ArgumentError(
        'forward',
        'hiddenBlock',
        `must be an integer in [${-L}, ${L - 1}] (this model has ${L} blocks), got ${String(hb)}`,
      );
    checkHiddenBlockUse('forward', opts.hiddenBlock, outputs);
    const hiddenBlock = hb < 0 ? L + hb : hb;
    const buffers: Partial<Record<ViTOutputName, GPUBuffer>> = {};
    const made: GPUBuffer[] = [];
    const r = await this.runChunked('forward', batch, opts.maxBatch, this.maxChunk(res), async (start, b, alive) => {
      const cg = await this.compiled(b, res, outputs, hiddenBlock);
      alive();
      const input = onGpu
        ? { buffer: pixels, offset: start * per * 4 }
        : pixels.subarray(start * per, (start + b) * per);
      if (!opts.onDevice) return cg.run({ image: input }, { profile: opts.profile });
      const into: Record<string, { buffer: GPUBuffer; offset: number }> = {};
      for (const k of outputs) {
        const perImage = cg.graph.outputs.get(k)!.bytes / b;
        if (!buffers[k]) {
          buffers[k] = this.device.createBuffer({
            label: `forward ${k}`,
            size: Math.max(16, perImage * batch),
            usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
          });
          made.push(buffers[k]);
        }
        into[k] = { buffer: buffers[k], offset: start * perImage };
      }
      return cg.run({ image: input }, { profile: opts.profile, read: [], into });
    }).catch((e: unknown) => {
      for (const b of made) b.destroy(); // nothing leaked on a failed call
      throw e;
    });
    return {
      ...(r.outputs as Partial<Record<ViTOutputName, Float32Array>>),
      chunks: r.chunks,
      ...(r.timings ? { timings: r.timings } : {}),
      ...(opts.onDevice ? { buffers } : {}),
    };
  }
}

/** Whether a value is a GPUBuffer (a real one, or Dawn's for Node: it has size, usage and mapAsync). */
function isGpuBuffer(v: unknown): v is GPUBuffer {
  return (
    typeof v === 'object' && v !== null && 'mapAsync' in v && 'usage' in v && typeof (v as GPUBuffer).size === 'number'
  );
}

function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return i;
  return -1;
}

async function resolveConfig(cfg: LoadOptions['config']): Promise<ViTConfig> {
  if (typeof cfg === 'string') return readOpenClipConfig(cfg);
  if ('model_cfg' in cfg) return configFromOpenClip(cfg);
  return validateConfig(cfg as ViTConfig, 'config');
}
