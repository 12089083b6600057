// Fused multi-head attention (online softmax, no N×N scores in memory). WGSL: src/wgsl/attention.wgsl.
import { attentionWgsl } from '../wgsl/sources.generated.js';
import { KernelArgumentError } from '../errors.js';
import { createDispatch, expectShape, type Dispatch, type KernelSource, type TensorRef } from './program.js';

export const attentionKernel: KernelSource = { name: 'attention', wgsl: attentionWgsl };

/** Largest head dimension the kernel's private arrays hold (4 × MAX_D4 in attention.wgsl). */
export const ATTENTION_MAX_HEAD_DIM = 128;
/** Queries per workgroup (BQ in attention.wgsl). */
export const ATTENTION_QUERY_BLOCK = 64;

export interface AttentionArgs {
  /** [B, N, 3W]: q | k | v, as produced by the in_proj linear layer. */
  qkv: TensorRef;
  /** [B, N, W]. */
  out: TensorRef;
  heads: number;
  /** Softmax scale; defaults to 1/sqrt(head_dim). */
  scale?: number;
}

/** out = concat_h softmax(q_h k_hᵀ · scale) v_h. Any N; head_dim = W / heads, a multiple of 4, ≤ 128. */
export function attention(device: GPUDevice, a: AttentionArgs): Dispatch {
  const k = attentionKernel.name;
  if (a.qkv.shape.length !== 3) throw new KernelArgumentError(k, 'qkv', `expected [B, N, 3W], got [${a.qkv.shape.join(', ')}]`);
  const [B, N, W3] = a.qkv.shape as [number, number, number];
  if (W3 % 3 !== 0) throw new KernelArgumentError(k, 'qkv', `last axis ${W3} is not 3 × width`);
  const W = W3 / 3;
  if (!Number.isInteger(a.heads) || a.heads <= 0 || W % a.heads !== 0) {
    throw new KernelArgumentError(k, 'heads', `${a.heads} does not divide width ${W}`);
  }
  const D = W / a.heads;
  if (D % 4 !== 0 || D > ATTENTION_MAX_HEAD_DIM) {
    throw new KernelArgumentError(k, 'heads', `head dim ${D} must be a multiple of 4 and at most ${ATTENTION_MAX_HEAD_DIM}`);
  }
  expectShape(k, 'qkv', a.qkv, [B, N, W3]);
  expectShape(k, 'out', a.out, [B, N, W]);
  const scale = a.scale ?? 1 / Math.sqrt(D);
  return createDispatch(device, attentionKernel, {
    overrides: { HEAD_DIM: D },
    uniforms: { tokens: N, heads: a.heads, scale },
    tensors: { qkv: a.qkv, out: a.out },
    workgroups: [Math.ceil(N / ATTENTION_QUERY_BLOCK), a.heads, B],
  });
}
