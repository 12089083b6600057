// A forward pass as a list of kernel invocations over named tensors. Tensors are inputs (written
// by the caller each run), params (weights, uploaded once, owned by the model) or activations
// (placed in reusable buffers by the planner). Nodes run in the order they were added.
import type { AttentionVariant } from '../kernels/attention.js';
import type { AdapterTraits } from '../kernels/choose/adapter.js';
import type { GemmTile } from '../kernels/gemm-tile.js';
import type { GemmVariant } from '../kernels/gemm.js';
import {
  byteSize,
  type DType,
  type Dispatch,
  type TensorRef,
  type TextureRef,
  type WeightDType,
  type F16Loads,
  type Precision,
} from '../kernels/program/index.js';

export type TensorKind = 'input' | 'param' | 'activation';
/**
 * Where a tensor lives: a storage buffer, or (2-D f32 only) a matrix texture (TextureRef layout),
 * what the CPU-adapter kernels read fastest.
 */
export type TensorStorage = 'buffer' | 'texture';

export class Tensor {
  constructor(
    readonly id: number,
    readonly name: string,
    readonly shape: readonly number[],
    readonly kind: TensorKind,
    readonly dtype: DType = 'f32',
    readonly storage: TensorStorage = 'buffer',
    /** A 'q8' weight's per-row scales (a [rows] f32 param). */
    readonly scale?: Tensor,
  ) {}
  /** Bytes in a buffer (a packed f16 / q8 weight: its rows of words, weight-format.ts). */
  get bytes(): number {
    return byteSize(this);
  }
}

/** Resolves a graph tensor to the GPU buffer it was given. */
export type Resolve = (t: Tensor) => TensorRef;
/** Resolves a texture-stored graph tensor to its matrix texture. */
export type ResolveTexture = (t: Tensor) => TextureRef;

export interface KernelNode {
  readonly type: 'kernel';
  readonly name: string;
  readonly reads: readonly Tensor[];
  readonly writes: readonly Tensor[];
  bind(device: GPUDevice, resolve: Resolve, resolveTexture: ResolveTexture): Dispatch;
}

/** Byte ranges copied from one tensor into another (e.g. patch tokens out of the hidden state). */
export interface CopyNode {
  readonly type: 'copy';
  readonly name: string;
  readonly reads: readonly [Tensor];
  readonly writes: readonly [Tensor];
  readonly regions: readonly { src: number; dst: number; bytes: number }[];
}

export type GraphNode = KernelNode | CopyNode;

/**
 * Kernel choices a model makes for all of its nodes (instead of per-device globals): the GEMM tile
 * (GEMMs and the patch embedding) and the attention variant. Absent: each kernel's per-adapter default.
 */
export interface KernelChoices {
  /**
   * The GEMM variant ('tiled' or 'subgroup', gemm.ts; 'texture', gemm-texture.ts); 'subgroup' is used
   * only where K % 4 == 0; 'texture' where the weight is a texture-stored param (the model uploads its
   * linear weights as textures when it runs this variant) — the graph packs x into a texture first.
   */
  gemmVariant?: GemmVariant;
  gemmTile?: GemmTile;
  /**
   * Split-K for every GEMM that runs the 'tiled' variant: the K ranges S (1: none; gemm.ts `splitK`,
   * each such GEMM then a gemm node into an [S, M, N] workspace and a gemm_splitk_reduce node).
   * Absent: the built-in choice per GEMM shape (choose/choose.ts chooseGemmSplit; none on CPU adapters).
   */
  gemmSplitK?: number;
  attentionVariant?: AttentionVariant;
  /**
   * How the model's matrices (linear layers, patch and token embeddings) are stored: 'f32' (default),
   * 'f16' or 'q8' (weight-format.ts); the GEMMs and embeddings are specialised for it. Set by the
   * model's `dtype` load option, not meant to be given in `kernels`.
   */
  weightDType?: WeightDType;
  /**
   * The arithmetic of the GEMM and attention products: 'f32' (default) or 'f16' (the kernels' f16
   * precision builds: kernels/program/precision.ts). Set by the model's `precision` load option, not
   * meant to be given in `kernels`.
   */
  precision?: Precision;
  /**
   * How the buffer kernels read f16 weights: 'native' (WGSL f16, where the device has shader-f16;
   * the default there) or 'packed' (u32 words, every device). Texture-stored weights are packed.
   */
  f16Loads?: F16Loads;
  /**
   * Rows per matrix texture of the 'texture' variants (default MATRIX_TEXTURE_ROWS, 8192): taller
   * activations run as several packs and calls. Smaller values exercise that split (tests).
   */
  textureRows?: number;
}

export class Graph {
  /**
   * `adapter`: the traits of the adapter the graph is built for (choose/adapter.ts), for the built-in
   * choices the graph's structure depends on (split-K's workspace and reduce node); absent, none is
   * made unless `kernels.gemmSplitK` asks for it.
   */
  constructor(
    readonly kernels: KernelChoices = {},
    readonly adapter?: AdapterTraits,
  ) {}

  readonly tensors: Tensor[] = [];
  readonly nodes: GraphNode[] = [];
  /** Tensors the caller reads back after a run, by name; kept alive to the end. */
  readonly outputs = new Map<string, Tensor>();

  private add(
    name: string,
    shape: readonly number[],
    kind: TensorKind,
    dtype: DType = 'f32',
    storage: TensorStorage = 'buffer',
    scale?: Tensor,
  ): Tensor {
    if (!shape.every((d) => Number.isInteger(d) && d > 0))
      throw new Error(`graph: tensor ${name} has an invalid shape [${shape.join(', ')}]`);
    if (storage === 'texture' && (shape.length !== 2 || dtype === 'u32' || (dtype !== 'f32' && kind !== 'param')))
      throw new Error(
        `graph: tensor ${name}: only 2-D f32 tensors (and f16 / q8 weights) can live in a texture, got [${shape.join(', ')}] ${dtype}`,
      );
    if ((dtype === 'f16' || dtype === 'q8') && (kind !== 'param' || shape.length !== 2))
      throw new Error(`graph: tensor ${name}: ${dtype} is for 2-D weights (params) only`);
    if ((dtype === 'q8') !== (scale !== undefined))
      throw new Error(`graph: tensor ${name}: a q8 weight has scales, no other tensor has`);
    const t = new Tensor(this.tensors.length, name, [...shape], kind, dtype, storage, scale);
    this.tensors.push(t);
    return t;
  }
  /** A tensor the caller writes each run: a Float32Array (f32) or a Uint32Array (u32, e.g. token ids). */
  input(name: string, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    return this.add(name, shape, 'input', dtype);
  }
  /**
   * A weight the model owns, in a buffer or (storage 'texture') a matrix texture; a 2-D weight may be
   * f16 or q8 (weight-format.ts), a q8 one with a `${name}.scale` [rows] f32 param beside it.
   */
  param(name: string, shape: readonly number[], storage: TensorStorage = 'buffer', dtype: WeightDType = 'f32'): Tensor {
    const scale = dtype === 'q8' ? this.add(`${name}.scale`, [shape[0]!], 'param') : undefined;
    return this.add(name, shape, 'param', dtype, storage, scale);
  }
  /** An intermediate result; 'texture' ones are planned separately (textures of the same size share). */
  activation(name: string, shape: readonly number[], storage: TensorStorage = 'buffer'): Tensor {
    return this.add(name, shape, 'activation', 'f32', storage);
  }

  kernel(name: string, reads: Tensor[], writes: Tensor[], bind: KernelNode['bind']): void {
    this.nodes.push({ type: 'kernel', name, reads, writes, bind });
  }
  copy(name: string, from: Tensor, to: Tensor, regions: CopyNode['regions']): void {
    if (from.storage !== 'buffer' || to.storage !== 'buffer')
      throw new Error(`graph: copy ${name} is between buffers only`);
    for (const r of regions) {
      if (r.src + r.bytes > from.bytes || r.dst + r.bytes > to.bytes)
        throw new Error(`graph: copy ${name} is out of range`);
    }
    this.nodes.push({ type: 'copy', name, reads: [from], writes: [to], regions });
  }
  output(name: string, t: Tensor): Tensor {
    this.outputs.set(name, t);
    return t;
  }
}
