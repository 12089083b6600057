// Fused multi-head attention (online softmax, no N×N scores in memory), in three variants with one
// contract: 'broadcast' (src/wgsl/attention_broadcast.wgsl: one invocation per query, keys and values
// broadcast from workgroup memory), 'tiled' (src/wgsl/attention_tiled.wgsl: 4 queries × 4 keys
// per invocation, register-tiled like the GEMM), 'flash' (src/wgsl/attention_flash.wgsl: Q/K/V tiles in
// workgroup memory, register tiles for Q·Kᵀ and P·V, optionally split over keys and merged by
// src/wgsl/attention_flash_combine.wgsl; the GPU default) and 'subgroup' (src/wgsl/attention_subgroup.wgsl:
// one 8-lane subgroup per 16 queries, values shared by subgroupBroadcast; CPU adapters).
import {
  attentionBroadcastWgsl,
  attentionFlashCombineWgsl,
  attentionFlashF16MathWgsl,
  attentionFlashWgsl,
  attentionSubgroupWgsl,
  attentionTextureWgsl,
  attentionTiledWgsl,
} from '../wgsl/sources.generated.js';
import { KernelArgumentError } from '../errors.js';
import { adapterTraits } from './choose/adapter.js';
import { chooseAttentionKeySplits, chooseAttentionVariant } from './choose/choose.js';
import {
  createDispatch,
  expectPrecision,
  expectShape,
  unusedOutput,
  wgslConst,
  type Dispatch,
  type KernelSource,
  type Precision,
  type TensorRef,
} from './program/index.js';

export const attentionBroadcastKernel: KernelSource = { name: 'attention_broadcast', wgsl: attentionBroadcastWgsl };
/** @deprecated The 'broadcast' variant's kernel is `attentionBroadcastKernel` (named 'attention_broadcast', like its WGSL). */
export const attentionKernel: KernelSource = attentionBroadcastKernel;
export const attentionTiledKernel: KernelSource = { name: 'attention_tiled', wgsl: attentionTiledWgsl };
export const attentionFlashKernel: KernelSource = { name: 'attention_flash', wgsl: attentionFlashWgsl };
/**
 * The f16 precision build of 'flash' (precision 'f16', tools/embed-wgsl.mjs //!math): q, k, v and p
 * rounded to f16 in workgroup memory, 4-wide f16 dot products summed in f32, P·V summed in f16 over
 * 8 keys then in f32; the softmax statistics in f32.
 */
export const attentionFlashF16MathKernel: KernelSource = {
  name: 'attention_flash/f16-math',
  wgsl: attentionFlashF16MathWgsl,
};
/** The combine pass of 'flash' split over keys: merges the splits' partial outputs (one kernel of its own). */
export const attentionFlashCombineKernel: KernelSource = {
  name: 'attention_flash_combine',
  wgsl: attentionFlashCombineWgsl,
};

export const attentionSubgroupKernel: KernelSource = { name: 'attention_subgroup', wgsl: attentionSubgroupWgsl };
/** The 'texture' variant's kernel; its wrapper is attentionTexture (attention-texture.ts). */
export const attentionTextureKernel: KernelSource = { name: 'attention_texture', wgsl: attentionTextureWgsl };

import {
  ATTENTION_FAMILY,
  bufferFormOf,
  variantProblem,
  variantSpec as familySpec,
  type AttentionVariant,
  type BufferAttentionVariant,
} from './choose/variants.js';
import { expectKnownArgs } from './program/checks.js';
import type { KeyList } from '../options.js';
export type { AttentionVariant } from './choose/variants.js';
/**
 * Each buffer variant's kernel and its queries per workgroup (BQ in the WGSL): one entry per 'buffer'
 * variant of ATTENTION_FAMILY (choose/variants.ts, which says what each needs).
 */
/** A buffer variant of `kernel` holding `queryBlock` queries per workgroup at every head dimension. */
const fixedBlock = (kernel: KernelSource, name: string) => {
  const queryBlock = wgslConst(kernel, name);
  return { kernel, queryBlock, queriesAt: () => queryBlock };
};
const BROADCAST_WG = wgslConst(attentionBroadcastKernel, 'WG');
/**
 * Each buffer variant's kernel, its queries per workgroup at head dims up to 64 (`queryBlock`), and at
 * head dimension D (`queriesAt`, what its dispatch grid divides N by).
 */
const BUFFER_VARIANTS: Record<
  BufferAttentionVariant,
  { kernel: KernelSource; queryBlock: number; queriesAt(D: number): number }
> = {
  // Above D = 64, SPLIT = 2 invocations share a query and a workgroup holds half as many (broadcastSplit).
  broadcast: {
    kernel: attentionBroadcastKernel,
    queryBlock: BROADCAST_WG,
    queriesAt: (D) => BROADCAST_WG / broadcastSplit(D),
  },
  tiled: fixedBlock(attentionTiledKernel, 'BQ'),
  flash: fixedBlock(attentionFlashKernel, 'BQ'),
  subgroup: fixedBlock(attentionSubgroupKernel, 'QB'),
};
/** Every variant, by name, with its kernel and queries per workgroup. */
export const ATTENTION_VARIANTS: Readonly<Record<AttentionVariant, { kernel: KernelSource; queryBlock: number }>> = {
  ...BUFFER_VARIANTS,
  texture: { kernel: attentionTextureKernel, queryBlock: wgslConst(attentionTextureKernel, 'QB') },
};

const BROADCAST_MAX_D4 = wgslConst(attentionBroadcastKernel, 'MAX_D4');

/**
 * Largest head dimension the variants hold, from their WGSL: 4 × MAX_D4 × MAX_SPLIT
 * (attention_broadcast.wgsl: each of up to MAX_SPLIT invocations per query keeps a slice of MAX_D4 vec4s) and 4 × 8 × MAX_CI (attention_tiled.wgsl and
 * attention_flash.wgsl: 8 lanes × MAX_CI vec4 columns).
 */
export const ATTENTION_MAX_HEAD_DIM = Math.min(
  4 * BROADCAST_MAX_D4 * wgslConst(attentionBroadcastKernel, 'MAX_SPLIT'),
  4 * 8 * wgslConst(attentionTiledKernel, 'MAX_CI'),
  4 * 8 * wgslConst(attentionFlashKernel, 'MAX_CI'),
  4 * 8 * wgslConst(attentionSubgroupKernel, 'MAX_SLOTS'),
);

/**
 * Invocations per query of attention_broadcast at head dimension D (its SPLIT override, derived
 * there from D the same way): a workgroup holds WG / SPLIT queries.
 */
export function broadcastSplit(D: number): number {
  return Math.ceil(D / 4 / BROADCAST_MAX_D4);
}

/** The buffer variant's kernel and query block; a KernelArgumentError for a name that is not one. */
function variantSpec(v: AttentionVariant): (typeof BUFFER_VARIANTS)[keyof typeof BUFFER_VARIANTS] {
  const spec = familySpec(ATTENTION_FAMILY, v);
  if (!spec)
    throw new KernelArgumentError(
      'attention',
      'variant',
      `unknown variant '${String(v)}' (have: ${Object.keys(ATTENTION_VARIANTS).join(', ')})`,
    );
  if (spec.reads === 'texture')
    throw new KernelArgumentError('attention', 'variant', `'${v}' reads a qkv matrix texture: call ${spec.wrapper}`);
  return BUFFER_VARIANTS[v as BufferAttentionVariant];
}

const forced = new WeakMap<GPUDevice, AttentionVariant>();

/**
 * Makes attention use `v` on `device` (null: back to the per-adapter choice).
 * @deprecated A device-wide hidden setting: pass `variant` to a kernel call, or `kernels: { attentionVariant }` to a model's load.
 */
export function setAttentionVariant(device: GPUDevice, v: AttentionVariant | null): void {
  if (v === null) {
    forced.delete(device);
    return;
  }
  variantSpec(v);
  forced.set(device, v);
}

/**
 * The variant a model uses on `device`: the one set with setAttentionVariant, else
 * chooseAttentionVariant (choose/choose.ts): on CPU adapters 'texture' (8-lane subgroups) or 'tiled',
 * 'flash' on GPUs with the workgroup memory it needs (ATTENTION_FLASH_WORKGROUP_BYTES), else
 * 'broadcast'. On lavapipe 'texture' is the fastest, then 'subgroup', then 'tiled' ≈ 'flash'
 * (bench/results/; `npm run bench:kernels -- --only attention --variants all` times them on any
 * adapter). On GPUs 'flash' keeps Q, K and V tiles in workgroup memory and 4 queries × 4 keys (then
 * 4 queries × up to 4 output vec4s) per invocation in registers, and splits the keys where the grid
 * is too small; 'broadcast' reads a key per 4 FMAs, 'tiled' reads Q and K from global memory,
 * 'subgroup' runs workgroups of 8; none measured on a GPU yet. attention() on buffers runs
 * 'subgroup' where this says 'texture'.
 */
export function attentionVariantFor(device: GPUDevice): AttentionVariant {
  return forced.get(device) ?? chooseAttentionVariant(adapterTraits(device));
}

/** The head dimension of a [.., 3W] qkv with `heads` heads, checked (a multiple of 4, at most ATTENTION_MAX_HEAD_DIM). */
export function attentionHeadDim(kernel: string, W3: number, heads: number): number {
  if (W3 % 3 !== 0) throw new KernelArgumentError(kernel, 'qkv', `last axis ${W3} is not 3 × width`);
  const W = W3 / 3;
  if (!Number.isInteger(heads) || heads <= 0 || W % heads !== 0) {
    throw new KernelArgumentError(kernel, 'heads', `${heads} does not divide width ${W}`);
  }
  const D = W / heads;
  if (D % 4 !== 0 || D > ATTENTION_MAX_HEAD_DIM) {
    throw new KernelArgumentError(
      kernel,
      'heads',
      `head dim ${D} must be a multiple of 4 and at most ${ATTENTION_MAX_HEAD_DIM}`,
    );
  }
  return D;
}

export interface AttentionArgs {
  /** [B, N, 3W]: q | k | v, as produced by the in_proj linear layer. */
  qkv: TensorRef;
  /** [B, N, W]. */
  out: TensorRef;
  heads: number;
  /** Softmax scale; defaults to 1/sqrt(head_dim). */
  scale?: number;
  /**
   * Causal mask (OpenAI-layout text towers, open_clip's `no_causal_mask: false`): query i attends to
   * keys 0 .. i only; the keys after it are skipped (the CAUSAL override). Default false.
   */
  causal?: boolean;
  /** Kernel variant (not 'texture', attentionTexture's); defaults to attentionVariantFor(device) ('subgroup' where that says 'texture'). */
  variant?: AttentionVariant;
  /**
   * Test build of the 'tiled' and 'flash' variants: invocations take each other's rows, so that their workgroup
   * exchanges cross the lockstep groups of CPU adapters and a missing barrier shows (slower; tests only).
   */
  permuteLanes?: boolean;
  /**
   * 'flash' only: split the keys into this many ranges (each a run of key blocks, the last shorter
   * where N is not a multiple), each workgroup writing a partial (max, sum, output) to a workspace
   * that a combine pass (attention_flash_combine) merges; 1: no split. At most the number of key
   * blocks; the ranges are ceil(blocks / keySplits) blocks long, so fewer may result. Default:
   * chooseAttentionKeySplits (choose/choose.ts), which splits only where batch × heads × query tiles
   * cannot fill the adapter.
   */
  keySplits?: number;
  /**
   * The products' arithmetic: 'f32' (default) or 'f16' (needs shader-f16; the 'flash' variant's f16
   * build, attentionFlashF16MathKernel; the default variant with 'f16' is 'flash', the others have no f16 build).
   */
  precision?: Precision;
}

/** The keys of AttentionArgs (an unknown one is refused). */
export const ATTENTION_ARG_KEYS = {
  qkv: true,
  out: true,
  heads: true,
  scale: true,
  causal: true,
  variant: true,
  permuteLanes: true,
  keySplits: true,
  precision: true,
} as const satisfies KeyList<AttentionArgs>;

/** The causal argument of an attention call, checked: a boolean or absent (false). */
export function expectCausal(kernel: string, causal: unknown): boolean {
  if (causal !== undefined && typeof causal !== 'boolean')
    throw new KernelArgumentError(kernel, 'causal', `must be true or false, got ${JSON.stringify(causal)}`);
  return causal === true;
}

/** out = concat_h softmax(q_h k_hᵀ · scale (+ the causal mask)) v_h. Any N; head_dim = W / heads, a multiple of 4, ≤ ATTENTION_MAX_HEAD_DIM (128). */
export function attention(device: GPUDevice, a: AttentionArgs): Dispatch {
  const k = 'attention'; // the op's name in errors; its variants' kernels are attention_broadcast, attention_tiled, …
  expectKnownArgs(k, a, ATTENTION_ARG_KEYS);
  if (a.qkv.shape.length !== 3)
    throw new KernelArgumentError(k, 'qkv', `expected [B, N, 3W], got [${a.qkv.shape.join(', ')}]`);
  const [B, N, W3] = a.qkv.shape as [number, number, number];
  const D = attentionHeadDim(k, W3, a.heads);
  const W = W3 / 3;
  const causal = expectCausal(k, a.causal);
  expectShape(k, 'qkv', a.qkv, [B, N, W3]);
  expectShape(k, 'out', a.out, [B, N, W]);
  const precision = expectPrecision(device, k, a.precision);
  // attention() reads buffers: where the adapter's choice reads textures, its buffer form (ATTENTION_FAMILY).
  const chosen = attentionVariantFor(device);
  const name = a.variant ?? (precision === 'f16' ? 'flash' : bufferFormOf(ATTENTION_FAMILY, chosen));
  if (precision === 'f16' && name !== 'flash')
    throw new KernelArgumentError(
      k,
      'variant',
      `'${name}' has no f16 precision build: use 'flash' with precision 'f16'`,
    );
  const v = variantSpec(name);
  const problem = variantProblem(ATTENTION_FAMILY.variants[name], name, adapterTraits(device));
  if (problem) throw new KernelArgumentError(k, 'variant', problem);
  if (a.permuteLanes && v.kernel !== attentionTiledKernel && v.kernel !== attentionFlashKernel) {
    throw new KernelArgumentError(
      k,
      'permuteLanes',
      "only the 'tiled' and 'flash' variants have a permuted test build",
    );
  }
  if (a.keySplits !== undefined && name !== 'flash')
    throw new KernelArgumentError(k, 'keySplits', "only the 'flash' variant splits its keys");
  const scale = a.scale ?? 1 / Math.sqrt(D);
  if (name === 'flash') return attentionFlash(device, a, { B, N, D, heads: a.heads, causal, scale, precision });
  return createDispatch(device, v.kernel, {
    overrides: a.permuteLanes ? { HEAD_DIM: D, CAUSAL: causal, PERMUTE_LANES: true } : { HEAD_DIM: D, CAUSAL: causal },
    uniforms: { tokens: N, heads: a.heads, scale },
    tensors: { qkv: a.qkv, out: a.out },
    workgroups: [Math.ceil(N / v.queriesAt(D)), a.heads, B],
  });
}

const FLASH_BQ = wgslConst(attentionFlashKernel, 'BQ');

/**
 * attention_flash's key block at head dim D (its BK override, derived there the same way): 32 keys up
 * to D = 100, 16 above, so that the tiles fit 32 KiB of workgroup memory.
 */
export function flashKeyBlock(D: number): number {
  return 32 / (1 + Math.floor(D / 4 / 26));
}

/**
 * attention_flash's workgroup memory at head dim D, in bytes (its arrays Qs, KV, Ps, red: BQ·QS +
 * BK·QS + BK·8 + 64 vec4s, QS = D/4 rounded up to odd; the f16 build's Qs, KV and Ps hold vec4<f16>,
 * 8 bytes each). At most ATTENTION_FLASH_WORKGROUP_BYTES.
 */
export function flashWorkgroupBytes(D: number, precision: Precision = 'f32'): number {
  const D4 = D / 4;
  const QS = D4 + 1 - (D4 % 2);
  const BK = flashKeyBlock(D);
  const tile = precision === 'f16' ? 8 : 16;
  return tile * (FLASH_BQ * QS + BK * QS + BK * 8) + 16 * 64;
}

/**
 * The split-key workspaces of 'flash' on a device, shared by every split dispatch there (dispatches
 * run in queue order, each pass's combine reading before the next pass writes) and destroyed with the
 * last dispatch that uses them; a dispatch needing more takes a new, larger one (the old one lives on
 * until its own dispatches are destroyed).
 */
interface Workspace {
  buffer: GPUBuffer;
  users: number;
}
const workspaces = new WeakMap<GPUDevice, Partial<Record<'part' | 'stats', Workspace>>>();
function acquireWorkspace(device: GPUDevice, which: 'part' | 'stats', bytes: number): Workspace {
  const held = workspaces.get(device) ?? {};
  workspaces.set(device, held);
  let w = held[which];
  if (!w || w.buffer.size < bytes) {
    w = {
      buffer: device.createBuffer({
        label: `attention_flash ${which} workspace`,
        size: Math.max(16, Math.ceil(bytes / 16) * 16),
        usage: GPUBufferUsage.STORAGE,
      }),
      users: 0,
    };
    held[which] = w;
  }
  w.users++;
  return w;
}
function releaseWorkspace(device: GPUDevice, which: 'part' | 'stats', w: Workspace): void {
  if (--w.users > 0) return;
  w.buffer.destroy();
  const held = workspaces.get(device);
  if (held?.[which] === w) delete held[which];
}

/**
 * The key ranges 'flash' runs a [batch, tokens, 3·heads·headDim] qkv in: `splits` ranges of
 * `keyChunk` keys (a multiple of its key block; the last range shorter where the keys run out), from
 * `keySplits` (checked: 1 … the key blocks; ranges of ceil(blocks / keySplits) blocks, so fewer
 * may result) or else chooseAttentionKeySplits (choose/choose.ts) for this device.
 */
export function flashKeyRanges(
  device: GPUDevice,
  s: { batch: number; tokens: number; heads: number; headDim: number },
  keySplits?: number,
): { splits: number; keyChunk: number } {
  const { batch: B, tokens: N, heads, headDim: D } = s;
  const BK = flashKeyBlock(D);
  const keyBlocks = Math.ceil(N / BK);
  let splits: number;
  if (keySplits === undefined) {
    splits = chooseAttentionKeySplits(adapterTraits(device), {
      workgroups: B * heads * Math.ceil(N / FLASH_BQ),
      keyBlocks,
      maxSplits: Math.floor(device.limits.maxStorageBufferBindingSize / (4 * B * N * heads * D)),
    });
  } else {
    splits = keySplits;
    if (!Number.isInteger(splits) || splits < 1 || splits > keyBlocks)
      throw new KernelArgumentError(
        'attention',
        'keySplits',
        `must be an integer from 1 to the ${keyBlocks} key blocks of ${BK} (N = ${N}), got ${splits}`,
      );
  }
  const chunkBlocks = Math.ceil(keyBlocks / splits);
  return { splits: Math.ceil(keyBlocks / chunkBlocks), keyChunk: chunkBlocks * BK };
}

/**
 * The 'flash' dispatch: one attention_flash pass over all keys, or (keySplits > 1) a pass whose
 * workgroups each take a query tile and a key range and write partials to a workspace
 * ([S, B, N, W] outputs, [S, B, heads, N] (max, sum) pairs), then attention_flash_combine.
 */
function attentionFlash(
  device: GPUDevice,
  a: AttentionArgs,
  p: { B: number; N: number; D: number; heads: number; causal: boolean; scale: number; precision: Precision },
): Dispatch {
  const k = 'attention';
  const { B, N, D, heads, causal, scale } = p;
  const kernel = p.precision === 'f16' ? attentionFlashF16MathKernel : attentionFlashKernel;
  const bytes = flashWorkgroupBytes(D, p.precision);
  if (bytes > device.limits.maxComputeWorkgroupStorageSize)
    throw new KernelArgumentError(
      k,
      'variant',
      `'flash' at head dim ${D} needs ${bytes} bytes of workgroup memory, over maxComputeWorkgroupStorageSize ${device.limits.maxComputeWorkgroupStorageSize}`,
    );
  const W = heads * D;
  const QT = Math.ceil(N / FLASH_BQ);
  const { splits: S, keyChunk } = flashKeyRanges(device, { batch: B, tokens: N, heads, headDim: D }, a.keySplits);
  const overrides = {
    HEAD_DIM: D,
    CAUSAL: causal,
    KEY_SPLITS: S > 1,
    ...(a.permuteLanes ? { PERMUTE_LANES: true } : {}),
  };
  if (S === 1) {
    return createDispatch(device, kernel, {
      overrides,
      uniforms: { tokens: N, heads, scale, key_chunk: keyChunk },
      tensors: { qkv: a.qkv, out: a.out, stats: unusedOutput(device) },
      workgroups: [QT, heads, B],
    });
  }
  const partShape = [S, B, N, W];
  const statsShape = [S, B, heads, N, 2];
  const partBytes = 4 * S * B * N * W;
  if (partBytes > device.limits.maxStorageBufferBindingSize)
    throw new KernelArgumentError(
      k,
      'keySplits',
      `${S} key splits need a ${partBytes}-byte workspace, over maxStorageBufferBindingSize ${device.limits.maxStorageBufferBindingSize}`,
    );
  const pw = acquireWorkspace(device, 'part', partBytes);
  const sw = acquireWorkspace(device, 'stats', 8 * S * B * heads * N);
  const part: TensorRef = { buffer: pw.buffer, shape: partShape, dtype: 'f32' };
  const stats: TensorRef = { buffer: sw.buffer, shape: statsShape, dtype: 'f32' };
  let main: Dispatch | undefined, combine: Dispatch;
  try {
    main = createDispatch(device, kernel, {
      overrides,
      uniforms: { tokens: N, heads, scale, key_chunk: keyChunk },
      tensors: { qkv: a.qkv, out: part, stats },
      workgroups: [QT * S, heads, B],
    });
    combine = createDispatch(device, attentionFlashCombineKernel, {
      overrides: { HEAD_DIM: D },
      uniforms: { tokens: N, heads, splits: S },
      tensors: { part, stats, out: a.out },
      workgroups: [Math.ceil(W / 4 / wgslConst(attentionFlashCombineKernel, 'WG')), N, B],
    });
  } catch (e) {
    main?.destroy();
    releaseWorkspace(device, 'part', pw);
    releaseWorkspace(device, 'stats', sw);
    throw e;
  }
  let destroyed = false;
  return {
    kernel: attentionFlashKernel.name,
    async prepare() {
      await Promise.all([main.prepare?.(), combine.prepare?.()]);
    },
    encode(pass) {
      main.encode(pass);
      combine.encode(pass);
    },
    destroy() {
      main.destroy();
      combine.destroy();
      if (destroyed) return;
      destroyed = true;
      releaseWorkspace(device, 'part', pw);
      releaseWorkspace(device, 'stats', sw);
    },
  };
}
