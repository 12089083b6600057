// The OpenVision vision encoder on WebGPU. `buildViTGraph` mirrors OpenVision's (open_clip layout)
// VisionTransformer.forward line by line; `VisionTransformer` loads weights and runs batches.
import { ArgumentError, ConfigError, ModelDestroyedError } from '../errors.js';
import { Graph, type Tensor } from '../graph/graph.js';
import { CompiledGraph, type NodeTiming } from '../graph/executor.js';
import * as ops from '../graph/ops.js';
import { posembSincos2d } from '../kernels/posemb-sincos.js';
import type { Checkpoint } from '../weights/checkpoint.js';
import { architecture, configFromOpenClip, gridOf, readOpenClipConfig, validateConfig, type ViTConfig } from './config.js';
import { checkRecomputablePositions, openCheckpoint, sincosTableError, uploadF32, uploadWeights, type GpuWeights, type WeightsInput } from './weights.js';

export type ViTOutputName = 'tokens' | 'pooled' | 'embedding' | 'block0';
/** Every output `forward` can return. */
export const VIT_OUTPUTS: readonly ViTOutputName[] = ['tokens', 'pooled', 'embedding', 'block0'];

/** Name of the position-table param for a resolution: the checkpoint's own, or a recomputed one. */
const posKey = (c: ViTConfig, resolution: number) => (resolution === c.imageSize ? 'positional_embedding' : `positional_embedding@${resolution}`);

/** The forward pass for `batch` images of `resolution`² pixels, as a graph of kernel invocations. */
export function buildViTGraph(c: ViTConfig, batch: number, resolution: number, outputs: readonly ViTOutputName[]): Graph {
  const g = new Graph();
  const W = c.width, p = c.patchSize, grid = gridOf(c, resolution), n = 1 + grid * grid;
  const P = (key: string, shape: number[]): Tensor => g.param(key, shape);
  const image = g.input('image', [batch, 3, resolution, resolution]);

  const arch = architecture(c);
  // x = conv1(x) (no bias); x = cat([class_embedding, x]); x = x + positional_embedding
  let x = ops.patchEmbed(g, 'patch_embed', image, P('conv1.weight', [W, 3, p, p]), P('class_embedding', [W]), P(posKey(c, resolution), [n, W]));
  // x = ln_pre(x) (OpenVision has none: no_ln_pre)
  if (arch.lnPre) x = ops.layerNorm(g, 'ln_pre', x, P('ln_pre.weight', [W]), P('ln_pre.bias', [W]), c.eps);
  for (let i = 0; i < c.layers; i++) {
    const b = `transformer.resblocks.${i}.`;
    // x = x + attn(ln_1(x))
    const h = ops.layerNorm(g, `${b}ln_1`, x, P(`${b}ln_1.weight`, [W]), P(`${b}ln_1.bias`, [W]), c.eps);
    const qkv = ops.linear(g, `${b}attn.in_proj`, h, P(`${b}attn.in_proj_weight`, [3 * W, W]), P(`${b}attn.in_proj_bias`, [3 * W]));
    const a = ops.attention(g, `${b}attn`, qkv, c.heads);
    ops.linearAddInto(g, `${b}attn.out_proj`, x, a, P(`${b}attn.out_proj.weight`, [W, W]), P(`${b}attn.out_proj.bias`, [W]));
    // x = x + mlp(ln_2(x)),  mlp = c_proj(gelu(c_fc(.)))
    const h2 = ops.layerNorm(g, `${b}ln_2`, x, P(`${b}ln_2.weight`, [W]), P(`${b}ln_2.bias`, [W]), c.eps);
    const m = ops.linear(g, `${b}mlp.c_fc`, h2, P(`${b}mlp.c_fc.weight`, [c.mlpWidth, W]), P(`${b}mlp.c_fc.bias`, [c.mlpWidth]), 'gelu');
    ops.linearAddInto(g, `${b}mlp.c_proj`, x, m, P(`${b}mlp.c_proj.weight`, [W, c.mlpWidth]), P(`${b}mlp.c_proj.bias`, [W]));
    if (i === 0 && outputs.includes('block0')) g.output('block0', ops.snapshot(g, 'block0', x));
  }
  // OpenVision (final_ln_after_pool, pool_type 'avg'): tokens = x[:, 1:]; pooled = ln_post(tokens.mean(1)).
  // final_ln_after_pool false: x = ln_post(x) first, then pool. pool_type 'tok': the class token x[:, 0].
  const wantPooled = outputs.includes('pooled') || outputs.includes('embedding');
  const lnPost = (t: Tensor, name: string) => ops.layerNorm(g, name, t, P('ln_post.weight', [W]), P('ln_post.bias', [W]), c.eps);
  const xs = arch.finalLnAfterPool ? x : lnPost(x, 'ln_post');
  if (outputs.includes('tokens')) g.output('tokens', ops.sliceTokens(g, 'tokens', xs, 1));
  if (wantPooled) {
    const pool = arch.pool === 'avg' ? ops.meanPool(g, 'mean_pool', xs, 1) : ops.classToken(g, 'class_token', xs);
    const pooled = arch.finalLnAfterPool ? lnPost(pool, 'ln_post') : pool;
    if (outputs.includes('pooled')) g.output('pooled', pooled);
    // embedding = pooled @ proj
    if (outputs.includes('embedding')) g.output('embedding', ops.linear(g, 'proj', pooled, P('proj', [c.embedDim, W]), null));
  }
  return g;
}

export interface ForwardOptions {
  /** Input resolution (default: the checkpoint's). Any multiple of the patch size; the sin-cos table is recomputed. */
  resolution?: number;
  /** Which outputs to compute and return (default tokens, pooled, embedding). */
  outputs?: readonly ViTOutputName[];
  /** Time each kernel with timestamp queries (adapter permitting). */
  profile?: boolean;
  /** Largest chunk per submit (default and upper bound: `maxChunk(resolution)`). */
  maxBatch?: number;
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
  /** Per-kernel GPU times of the last chunk, when profiled. */
  timings?: NodeTiming[];
  /** Batch sizes the run was split into (one entry unless the batch exceeded device limits). */
  chunks: number[];
}

export interface LoadOptions {
  /** The checkpoint: a path (Node), bytes, a File/Blob, or an already opened Checkpoint. */
  weights: WeightsInput | Checkpoint;
  /** A ViTConfig, or the parsed open_clip_config.json, or (Node) its path. */
  config: ViTConfig | Record<string, unknown> | string;
}

const DEFAULT_OUTPUTS: readonly ViTOutputName[] = ['tokens', 'pooled', 'embedding'];

export class VisionTransformer {
  /** Compiled graphs by chunk shape; the promise is stored so that concurrent calls compile once. */
  private readonly graphs = new Map<string, Promise<CompiledGraph>>();
  private readonly extraParams = new Map<string, GPUBuffer>();
  /** forward() calls not yet settled; destroy() frees the GPU memory only once they have. */
  private inFlight = 0;
  private destroyed = false;
  private released = false;

  private constructor(
    readonly device: GPUDevice,
    readonly config: ViTConfig,
    private readonly weights: GpuWeights,
    readonly source: string,
    /** Max |difference| of the stored position table to the sin-cos formula (see checkRecomputablePositions). */
    readonly positionTableError: number,
  ) {}

  /** Loads and checks a checkpoint against its config, and uploads it. */
  static async load(device: GPUDevice, opts: LoadOptions): Promise<VisionTransformer> {
    const config = await resolveConfig(opts.config);
    const ckpt = isCheckpoint(opts.weights) ? opts.weights : await openCheckpoint(opts.weights);
    let posError = Infinity;
    const weights = await uploadWeights(device, ckpt, config, (k, data) => {
      if (k === 'positional_embedding') posError = sincosTableError(data, gridOf(config), config.width);
    });
    return new VisionTransformer(device, config, weights, ckpt.file, posError);
  }

  /**
   * How many images one submit may hold at `resolution`: every activation must fit the device's
   * maxStorageBufferBindingSize and maxBufferSize. Larger batches are split into chunks of this size.
   */
  maxChunk(resolution = this.config.imageSize): number {
    const c = this.config, grid = gridOf(c, resolution), n = 1 + grid * grid;
    const perImage = 4 * Math.max(3 * resolution * resolution, n * 3 * c.width, n * c.mlpWidth);
    const limit = Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize);
    return Math.max(1, Math.floor(limit / perImage));
  }

  /** The compiled graph for one chunk shape (built on first use, then reused, also by concurrent calls). */
  compiled(batch: number, resolution: number, outputs: readonly ViTOutputName[]): Promise<CompiledGraph> {
    this.checkAlive();
    const key = `${batch}|${resolution}|${[...outputs].sort().join(',')}`;
    let cg = this.graphs.get(key);
    if (!cg) {
      const graph = buildViTGraph(this.config, batch, resolution, outputs);
      const pk = posKey(this.config, resolution);
      if (!this.weights.buffers.has(pk) && !this.extraParams.has(pk)) {
        checkRecomputablePositions(this.source, this.positionTableError, this.config, resolution);
        this.extraParams.set(pk, uploadF32(this.device, posembSincos2d(gridOf(this.config, resolution), this.config.width), pk));
      }
      cg = CompiledGraph.compile(this.device, graph, (t) => this.weights.buffers.get(t.name) ?? this.extraParams.get(t.name)!);
      // A failed compile is not cached: it destroyed what it made, and the next call tries again.
      cg.catch(() => this.graphs.delete(key));
      this.graphs.set(key, cg);
    }
    return cg;
  }

  private checkAlive(): void {
    if (this.destroyed) throw new ModelDestroyedError(this.source, 'this model was destroyed (destroy() was called); load it again to run it');
  }

  /**
   * Runs the encoder on `batch` preprocessed images ([B, 3, S, S] float32, NCHW). Batches larger
   * than `maxChunk(S)` are split into chunks run one after another; outputs are concatenated.
   */
  async forward(pixels: Float32Array, batch: number, opts: ForwardOptions = {}): Promise<ViTOutputs> {
    this.checkAlive();
    const c = this.config;
    const res = opts.resolution ?? c.imageSize;
    if (!Number.isInteger(res) || res <= 0 || res % c.patchSize !== 0) {
      throw new ConfigError(this.source, `resolution ${res} is not a positive multiple of the patch size ${c.patchSize}`);
    }
    if (!Number.isInteger(batch) || batch <= 0) throw new ArgumentError('forward', 'batch', `must be a positive integer, got ${String(batch)}`);
    if (!(pixels instanceof Float32Array)) {
      throw new ArgumentError('forward', 'pixels', `must be a Float32Array [B, 3, S, S] of preprocessed values, got ${describeValue(pixels)} (use preprocessImages() or new Float32Array(...))`);
    }
    const per = 3 * res * res;
    if (pixels.length !== batch * per) {
      throw new ArgumentError('forward', 'pixels', `has ${pixels.length} values; [${batch}, 3, ${res}, ${res}] needs ${batch * per}`);
    }
    const bad = firstNonFinite(pixels);
    if (bad >= 0) {
      const b = Math.floor(bad / per), ch = Math.floor((bad % per) / (res * res)), y = Math.floor((bad % (res * res)) / res), x = bad % res;
      throw new ArgumentError('forward', 'pixels', `value ${pixels[bad]} at [${b}, ${ch}, ${y}, ${x}] (flat index ${bad}) is not finite`);
    }
    const outputs = opts.outputs ?? DEFAULT_OUTPUTS;
    if (!Array.isArray(outputs) || outputs.length === 0) throw new ArgumentError('forward', 'outputs', `must be a non-empty array of ${VIT_OUTPUTS.join(', ')}`);
    for (const o of outputs) {
      if (!VIT_OUTPUTS.includes(o)) throw new ArgumentError('forward', 'outputs', `unknown output ${JSON.stringify(o)} (known: ${VIT_OUTPUTS.join(', ')})`);
    }
    if (opts.maxBatch !== undefined && !(Number.isInteger(opts.maxBatch) && opts.maxBatch > 0)) {
      throw new ArgumentError('forward', 'maxBatch', `must be a positive integer, got ${String(opts.maxBatch)}`);
    }
    const chunk = Math.max(1, Math.min(opts.maxBatch ?? Infinity, this.maxChunk(res)));
    const result: ViTOutputs = { chunks: [] };
    const parts: Record<string, Float32Array[]> = {};
    this.inFlight++;
    try {
      for (let start = 0; start < batch; start += chunk) {
        const b = Math.min(chunk, batch - start);
        const cg = await this.compiled(b, res, outputs);
        this.checkAlive();
        const r = await cg.run({ image: pixels.subarray(start * per, (start + b) * per) }, { profile: opts.profile });
        this.checkAlive();
        for (const [k, v] of Object.entries(r.outputs)) (parts[k] ??= []).push(v);
        if (r.timings) result.timings = r.timings;
        result.chunks.push(b);
      }
    } finally {
      this.inFlight--;
      if (this.destroyed && this.inFlight === 0) void this.release();
    }
    for (const [k, list] of Object.entries(parts)) result[k as ViTOutputName] = concat(list);
    return result;
  }

  /** Bytes of weights held on the GPU (including recomputed position tables). */
  weightBytes(): number {
    let n = 0;
    for (const b of this.weights.buffers.values()) n += b.size;
    for (const b of this.extraParams.values()) n += b.size;
    return n;
  }

  /**
   * Frees the weights and every compiled graph's buffers. A forward() still running rejects with a
   * ModelDestroyedError, and the memory is freed once it has stopped using it; any later call throws.
   */
  destroy(): void {
    this.destroyed = true;
    if (this.inFlight === 0) void this.release();
  }

  private async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const graphs = [...this.graphs.values()];
    this.graphs.clear();
    for (const g of await Promise.allSettled(graphs)) if (g.status === 'fulfilled') g.value.destroy();
    for (const b of this.extraParams.values()) b.destroy();
    this.extraParams.clear();
    this.weights.destroy();
  }
}

function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return i;
  return -1;
}

/** A short description of a value for error messages: its type and length. */
export function describeValue(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return `a plain Array of ${x.length}`;
  if (ArrayBuffer.isView(x)) return `a ${x.constructor.name}${'length' in x ? ` of ${(x as { length: number }).length}` : ''}`;
  return typeof x === 'object' ? `a ${(x as object).constructor?.name ?? 'object'}` : `a ${typeof x}`;
}

function isCheckpoint(x: unknown): x is Checkpoint {
  return typeof x === 'object' && x !== null && 'tensors' in x && 'read' in x && 'file' in x;
}

async function resolveConfig(cfg: LoadOptions['config']): Promise<ViTConfig> {
  if (typeof cfg === 'string') return readOpenClipConfig(cfg);
  if ('model_cfg' in cfg) return configFromOpenClip(cfg);
  return validateConfig(cfg as ViTConfig, 'config');
}

/** Concatenates float arrays (returns the only part itself when there is one). */
export function concat(parts: Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
