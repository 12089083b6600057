// Token embedding lookup plus learned positions. WGSL: src/wgsl/embedding.wgsl.
import { embeddingNativeF16Wgsl, embeddingWgsl } from '../wgsl/sources.generated.js';
import { KernelArgumentError } from '../errors.js';
import {
  createDispatch,
  expectShape,
  expectWeight,
  unusedBinding,
  weightSource,
  W_DTYPE_CODE,
  type F16Loads,
  grid2d,
  type Dispatch,
  type KernelSource,
  type TensorRef,
  wgslWorkgroupSize,
} from './program/index.js';
import { expectKnownArgs } from './program/checks.js';
import type { KeyList } from '../options.js';

export const embeddingKernel: KernelSource = { name: 'embedding', wgsl: embeddingWgsl };
/** The native_f16 build (an f16 table read as WGSL f16 where the device has shader-f16). */
export const embeddingNativeF16Kernel: KernelSource = { name: 'embedding/native-f16', wgsl: embeddingNativeF16Wgsl };

export interface EmbeddingArgs {
  /** [B, T] token ids, dtype u32; each must be < vocab (a larger one yields a row of NaN). */
  ids: TensorRef;
  /** [vocab, D] embedding table (token_embedding.weight): f32, or f16 / q8 (weight-format.ts; q8 scales per token row). */
  table: TensorRef;
  /** [T, D] position table added to every sequence, or null for none (a plain row gather: out[b, t] = table[ids[b, t]]). */
  pos: TensorRef | null;
  /** [B, T, D] output. */
  out: TensorRef;
  /** How an f16 table is read (as GemmArgs.f16Loads). */
  f16Loads?: F16Loads;
}

/** The keys of EmbeddingArgs (an unknown one is refused). */
export const EMBEDDING_ARG_KEYS = {
  ids: true,
  table: true,
  pos: true,
  out: true,
  f16Loads: true,
} as const satisfies KeyList<EmbeddingArgs>;

/** out[b, t] = table[ids[b, t]] + pos[t] (+ nothing where pos is null). */
export function embedding(device: GPUDevice, a: EmbeddingArgs): Dispatch {
  const k = embeddingKernel.name;
  expectKnownArgs(k, a, EMBEDDING_ARG_KEYS);
  if (a.ids.shape.length !== 2)
    throw new KernelArgumentError(k, 'ids', `expected [B, T], got [${a.ids.shape.join(', ')}]`);
  if (a.table.shape.length !== 2)
    throw new KernelArgumentError(k, 'table', `expected [vocab, D], got [${a.table.shape.join(', ')}]`);
  const [B, T] = a.ids.shape as [number, number];
  const [vocab, D] = a.table.shape as [number, number];
  expectShape(k, 'ids', a.ids, [B, T], 'u32');
  const dtype = expectWeight(k, 'table', a.table, [vocab, D]);
  if (a.pos !== null) expectShape(k, 'pos', a.pos, [T, D]);
  expectShape(k, 'out', a.out, [B, T, D]);
  const [ry, rz] = grid2d(device, k, B * T);
  return createDispatch(device, weightSource(device, dtype, embeddingKernel, embeddingNativeF16Kernel, a.f16Loads), {
    overrides: { W_DTYPE: W_DTYPE_CODE[dtype], HAS_POS: a.pos !== null },
    uniforms: { rows: B * T, tokens: T, dim: D, vocab },
    tensors: {
      ids: a.ids,
      w: a.table,
      pos: a.pos ?? unusedBinding(device),
      out: a.out,
      w_scale: a.table.scale ?? unusedBinding(device),
    },
    workgroups: [Math.ceil(D / wgslWorkgroupSize(embeddingKernel)[0]), ry, rz],
  });
}
