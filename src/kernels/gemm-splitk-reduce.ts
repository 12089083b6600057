// Split-K's second pass (src/wgsl/gemm_splitk_reduce.wgsl): the S partial sums the tiled GEMM wrote
// with `splitK` (gemm.ts) summed, then the GEMM's own store: a q8 weight's row scales, the bias, the
// epilogue (erf / tanh GELU, QuickGELU, or the residual accumulate into y in place).
import { gemmSplitkReduceWgsl } from '../wgsl/sources.generated.js';
import { KernelArgumentError } from '../errors.js';
import { epilogueCode, type GemmEpilogue } from './gemm.js';
import {
  createDispatch,
  elementCount,
  expectShape,
  unusedBinding,
  wgslWorkgroupSize,
  W_DTYPE_CODE,
  type Dispatch,
  type KernelSource,
  type TensorRef,
} from './program/index.js';
import { expectKnownArgs } from './program/checks.js';
import type { KeyList } from '../options.js';

export const gemmSplitKReduceKernel: KernelSource = { name: 'gemm_splitk_reduce', wgsl: gemmSplitkReduceWgsl };

export interface GemmSplitKReduceArgs {
  /** [S, ..., N] f32 partial sums (gemm's y with splitK S). */
  partials: TensorRef;
  /** [N] bias, or null for none. */
  bias: TensorRef | null;
  /** [..., N] output (the partials' shape without S). With 'residual' it is also read (y += sum + b). */
  y: TensorRef;
  epilogue?: GemmEpilogue;
  /** A q8 weight's [N] row scales (its `scale`), applied to the sum; null (default) for f32 / f16 weights. */
  scale?: TensorRef | null;
}

/** The keys of GemmSplitKReduceArgs (an unknown one is refused). */
export const GEMM_SPLITK_REDUCE_ARG_KEYS = {
  partials: true,
  bias: true,
  y: true,
  epilogue: true,
  scale: true,
} as const satisfies KeyList<GemmSplitKReduceArgs>;

/** y = epilogue(scale · Σ_s partials[s] + bias): the store of gemm, after a split-K gemm. */
export function gemmSplitKReduce(device: GPUDevice, a: GemmSplitKReduceArgs): Dispatch {
  const k = gemmSplitKReduceKernel.name;
  expectKnownArgs(k, a, GEMM_SPLITK_REDUCE_ARG_KEYS);
  const epilogue = a.epilogue ?? 'none';
  const code = epilogueCode(k, epilogue);
  if (a.partials.shape.length < 2)
    throw new KernelArgumentError(k, 'partials', `expected [S, ..., N], got [${a.partials.shape.join(', ')}]`);
  if (a.partials.dtype !== 'f32')
    throw new KernelArgumentError(k, 'partials', `expected f32 partial sums, got ${a.partials.dtype}`);
  const [S, ...outShape] = a.partials.shape as [number, ...number[]];
  const N = outShape[outShape.length - 1]!;
  const M = elementCount(outShape.slice(0, -1));
  expectShape(k, 'partials', a.partials, a.partials.shape);
  expectShape(k, 'y', a.y, outShape);
  if (a.bias) expectShape(k, 'bias', a.bias, [N]);
  if (a.scale) expectShape(k, 'scale', a.scale, [N]);
  const maxRows = device.limits.maxComputeWorkgroupsPerDimension;
  const rows = Math.min(M, maxRows);
  return createDispatch(device, gemmSplitKReduceKernel, {
    overrides: {
      EPILOGUE: code,
      HAS_BIAS: a.bias !== null,
      W_DTYPE: a.scale ? W_DTYPE_CODE.q8 : W_DTYPE_CODE.f32,
    },
    uniforms: { M, N, S },
    tensors: {
      partials: a.partials,
      bias: a.bias ?? unusedBinding(device),
      y: a.y,
      w_scale: a.scale ?? unusedBinding(device),
    },
    // 4 columns per invocation; rows past the y extent continue along z (gemm_splitk_reduce.wgsl).
    workgroups: [Math.ceil(Math.ceil(N / 4) / wgslWorkgroupSize(gemmSplitKReduceKernel)[0]), rows, Math.ceil(M / rows)],
  });
}
