// Linear layer with fused epilogues, in two buffer variants with one contract: 'tiled' (src/wgsl/gemm.wgsl,
// workgroup-memory tiles, for GPUs) and 'subgroup' (src/wgsl/gemm_subgroup.wgsl: one 8-lane
// subgroup per workgroup sharing x by subgroupBroadcast, for CPU adapters). The variants, what each
// needs and the epilogues are described once in choose/variants.ts (GEMM_FAMILY); this file holds
// each buffer variant's dispatch (BUFFER_DISPATCH).
import {
  gemmF16MathWgsl,
  gemmNativeF16Wgsl,
  gemmSubgroupNativeF16Wgsl,
  gemmSubgroupWgsl,
  gemmWgsl,
} from '../wgsl/sources.generated.js';
import { KernelArgumentError } from '../errors.js';
import { adapterTraits, hasSubgroupsOf8 } from './choose/adapter.js';
import { chooseGemmVariant, splitKRange } from './choose/choose.js';
import {
  bufferFormOf,
  GEMM_FAMILY,
  GEMM_VARIANTS,
  type BufferGemmVariant,
  variantProblem,
  variantSpec,
  type GemmEpilogue,
  type GemmVariant,
} from './choose/variants.js';
import { tileBuffers, tileLaunch, tileQuad, type GemmTile } from './gemm-tile.js';
import { gemmSubgroupMatrixDispatch } from './gemm-subgroup-matrix.js';
import {
  createDispatch,
  expectShape,
  expectWeight,
  weightSource,
  W_DTYPE_CODE,
  type F16Loads,
  elementCount,
  expectPrecision,
  unusedBinding,
  wgslConst,
  type Dispatch,
  type KernelSource,
  type Precision,
  type TensorRef,
  type WeightDType,
} from './program/index.js';
import { expectKnownArgs } from './program/checks.js';
import type { KeyList } from '../options.js';

export const gemmKernel: KernelSource = { name: 'gemm', wgsl: gemmWgsl };
export const gemmSubgroupKernel: KernelSource = { name: 'gemm_subgroup', wgsl: gemmSubgroupWgsl };
/** The native_f16 builds (f16 weights read as WGSL f16 where the device has shader-f16; F16Loads). */
export const gemmNativeF16Kernel: KernelSource = { name: 'gemm/native-f16', wgsl: gemmNativeF16Wgsl };
/**
 * The f16 precision build of the 'tiled' variant (precision 'f16', tools/embed-wgsl.mjs //!math):
 * x and w rounded to f16 in workgroup memory, products summed in f16 over 8 k, accumulated in f32.
 * Weights of every dtype are read as in the packed build.
 */
export const gemmF16MathKernel: KernelSource = { name: 'gemm/f16-math', wgsl: gemmF16MathWgsl };
export const gemmSubgroupNativeF16Kernel: KernelSource = {
  name: 'gemm_subgroup/native-f16',
  wgsl: gemmSubgroupNativeF16Wgsl,
};

export { GEMM_EPILOGUES, GEMM_VARIANTS, type GemmEpilogue, type GemmVariant } from './choose/variants.js';
/** Rows and columns of y one 'subgroup' workgroup computes (MR, NB in its WGSL). */
const SUBGROUP_BLOCK = { m: wgslConst(gemmSubgroupKernel, 'MR'), n: wgslConst(gemmSubgroupKernel, 'NB') };

/** Whether the device can run the 'subgroup' variant: the subgroups feature with exactly 8 lanes. */
export const canRunSubgroupGemm = hasSubgroupsOf8;

/**
 * The variant a model uses on `device`: 'texture' on CPU adapters with 8-lane subgroups (lavapipe:
 * ~2× 'subgroup', which is ~2× 'tiled', bench/results/kernels-*.md), 'tiled' elsewhere (a workgroup
 * of 8 starves a GPU). gemm() on buffers takes 'subgroup' where this says 'texture'.
 */
export function gemmVariantFor(device: GPUDevice): GemmVariant {
  return chooseGemmVariant(adapterTraits(device));
}

/** Each epilogue's EPILOGUE override value, as gemm.wgsl (and every GEMM variant) declares it (GEMM_FAMILY.epilogues). */
export const GEMM_EPILOGUE_CODE = Object.fromEntries(
  Object.entries(GEMM_FAMILY.epilogues).map(([e, name]) => [e, wgslConst(gemmKernel, name)]),
) as Record<GemmEpilogue, number>;

export interface GemmArgs {
  /** [..., K] activations; all leading axes are flattened into M rows. */
  x: TensorRef;
  /**
   * [N, K] weights, PyTorch nn.Linear layout: dtype 'f32', or 'f16' / 'q8' in the packed layout of
   * weight-format.ts (a 'q8' one with its [N] scales in `w.scale`); the arithmetic is f32 either way.
   */
  w: TensorRef;
  /** [N] bias, or null for none. */
  bias: TensorRef | null;
  /**
   * [..., N] output with x's leading axes. With 'residual' it is also read (y += x·wᵀ + b). With
   * `splitK` S > 1 it is the [S, ..., N] f32 workspace of the partial sums instead (gemm_splitk_reduce).
   */
  y: TensorRef;
  epilogue?: GemmEpilogue;
  /** Workgroup tile of the 'tiled' variant (gemm-tile.ts); defaults to gemmTileFor(device, { m: M, n: N, k: K }, splitK). */
  tile?: GemmTile;
  /** How an f16 w is read: 'native' (WGSL f16, needs shader-f16) or 'packed'; default native where available. */
  f16Loads?: F16Loads;
  /**
   * Kernel variant, 'tiled' or 'subgroup' ('texture' is gemmTexture's); defaults to 'tiled' when a
   * tile is given or K % 4 != 0, else 'subgroup' where gemmVariantFor(device) is not 'tiled'.
   */
  variant?: GemmVariant;
  /**
   * Split-K (the 'tiled' variant): S > 1 K ranges of whole k-steps, one per workgroup z-index, each
   * sum written to slice s of y, an [S, ..., N] workspace, without bias, scales or epilogue (so
   * `bias` must be null and `epilogue` 'none'); gemmSplitKReduce (gemm-splitk-reduce.ts) sums the
   * slices and applies them. Default 1 (no split); choose/choose.ts's chooseGemmSplit picks S.
   */
  splitK?: number;
  /**
   * The products' arithmetic: 'f32' (default) or 'f16' (needs shader-f16): the 'tiled' variant's f16
   * build (gemmF16MathKernel: operands rounded to f16, products summed in f16 over 8 k, accumulated
   * in f32; f16 weights read packed, so `f16Loads` must not be 'native') or 'subgroup_matrix' (f16
   * operands whatever this says). The default variant with 'f16' is 'tiled'; 'subgroup' has no f16 build.
   */
  precision?: Precision;
}

/** The EPILOGUE override value of `epilogue`; a KernelArgumentError naming `kernel` for an unknown one. */
export function epilogueCode(kernel: string, epilogue: GemmEpilogue): number {
  if (!Object.hasOwn(GEMM_EPILOGUE_CODE, epilogue))
    throw new KernelArgumentError(kernel, 'epilogue', `unknown epilogue '${String(epilogue)}'`);
  return GEMM_EPILOGUE_CODE[epilogue];
}

/** The keys of GemmArgs (an unknown one is refused). */
export const GEMM_ARG_KEYS = {
  x: true,
  w: true,
  bias: true,
  y: true,
  epilogue: true,
  tile: true,
  f16Loads: true,
  variant: true,
  splitK: true,
  precision: true,
} as const satisfies KeyList<GemmArgs>;

/** y = epilogue(x·wᵀ + bias). Any M, N, K (no multiple-of-tile requirement). */
export function gemm(device: GPUDevice, args: GemmArgs): Dispatch {
  const kernel = gemmKernel.name; // `kernel` for names, K for the reduction dimension
  expectKnownArgs(kernel, args, GEMM_ARG_KEYS);
  const epilogue = args.epilogue ?? 'none';
  const code = epilogueCode(kernel, epilogue);
  if (args.w.shape.length !== 2)
    throw new KernelArgumentError(kernel, 'w', `expected [N, K], got [${args.w.shape.join(', ')}]`);
  const [N, K] = args.w.shape as [number, number];
  if (args.x.shape.length < 1 || args.x.shape[args.x.shape.length - 1] !== K) {
    throw new KernelArgumentError(
      kernel,
      'x',
      `expected [..., ${K}] to match w [${N}, ${K}], got [${args.x.shape.join(', ')}]`,
    );
  }
  const lead = args.x.shape.slice(0, -1);
  const M = elementCount(lead);
  expectShape(kernel, 'x', args.x, args.x.shape);
  const dtype = expectWeight(kernel, 'w', args.w, [N, K]);
  if (args.bias) expectShape(kernel, 'bias', args.bias, [N]);
  const splitK = args.splitK ?? 1;
  if (!Number.isInteger(splitK) || splitK < 1)
    throw new KernelArgumentError(kernel, 'splitK', `must be a positive integer, got ${String(args.splitK)}`);
  if (splitK > 1) {
    if (args.bias)
      throw new KernelArgumentError(kernel, 'bias', 'must be null with splitK > 1 (the reduce pass adds it)');
    if (epilogue !== 'none')
      throw new KernelArgumentError(
        kernel,
        'epilogue',
        `must be 'none' with splitK > 1 (the reduce pass applies '${epilogue}')`,
      );
    if (args.variant !== undefined && args.variant !== 'tiled')
      throw new KernelArgumentError(kernel, 'variant', `splitK is for the 'tiled' variant only, got '${args.variant}'`);
    if (args.y.dtype !== 'f32')
      throw new KernelArgumentError(kernel, 'y', `a split-K workspace is f32, got ${args.y.dtype}`);
  }
  expectShape(kernel, 'y', args.y, splitK > 1 ? [splitK, ...lead, N] : [...lead, N]);
  const precision = expectPrecision(device, kernel, args.precision);
  if (precision === 'f16' && args.f16Loads === 'native')
    throw new KernelArgumentError(
      kernel,
      'f16Loads',
      "precision 'f16' reads f16 weights packed (its build has no native form): leave f16Loads unset or 'packed'",
    );
  // 'subgroup' reads an f32 w as vec4s along K: K must be a multiple of 4, else the default is 'tiled'.
  const k4 = dtype !== 'f32' || K % 4 === 0;
  // The default: the adapter's choice, in its buffer form (a 'texture' choice runs as 'subgroup' on buffers).
  const variant =
    args.variant ??
    (args.tile || !k4 || splitK > 1 || precision === 'f16'
      ? 'tiled'
      : bufferFormOf(GEMM_FAMILY, gemmVariantFor(device)));
  const spec = variantSpec(GEMM_FAMILY, variant);
  if (!spec)
    throw new KernelArgumentError(
      kernel,
      'variant',
      `unknown variant '${String(variant)}' (have: ${GEMM_VARIANTS.join(', ')})`,
    );
  if (spec.reads === 'texture')
    throw new KernelArgumentError(kernel, 'variant', `'${variant}' reads matrix textures: call ${spec.wrapper}`);
  if (args.tile && !spec.tiles) throw new KernelArgumentError(kernel, 'tile', "a tile is for the 'tiled' variant only");
  if (precision === 'f16' && variant === 'subgroup')
    throw new KernelArgumentError(
      kernel,
      'variant',
      "'subgroup' has no f16 precision build: use 'tiled' or 'subgroup_matrix' with precision 'f16'",
    );
  const problem = variantProblem(spec, variant, adapterTraits(device));
  const run = BUFFER_DISPATCH[variant as BufferGemmVariant];
  return run(device, { args, M, N, K, k4, dtype, code, problem, splitK, precision });
}

/** What a buffer variant's dispatch gets: the checked arguments and sizes, and what the adapter lacks for it. */
interface GemmCall {
  args: GemmArgs;
  M: number;
  N: number;
  K: number;
  /** Whether w's rows can be read as vec4s along K. */
  k4: boolean;
  dtype: WeightDType;
  /** The EPILOGUE code. */
  code: number;
  /** variantProblem for this adapter (a needed capability it lacks), or null: each entry throws it after its own argument checks. */
  problem: string | null;
  /** K ranges (1: no split-K; the 'tiled' variant only). */
  splitK: number;
  /** The products' arithmetic (checked). */
  precision: Precision;
}

const gemmTensors = (device: GPUDevice, a: GemmArgs) => ({
  x: a.x,
  w: a.w,
  bias: a.bias ?? unusedBinding(device),
  y: a.y,
  w_scale: a.w.scale ?? unusedBinding(device),
});

/** Each buffer variant's dispatch: one entry per buffer variant of GEMM_FAMILY. */
const BUFFER_DISPATCH: Record<BufferGemmVariant, (device: GPUDevice, c: GemmCall) => Dispatch> = {
  tiled(device, { args, M, N, K, dtype, code, splitK, precision }) {
    const launch = tileLaunch(device, gemmKernel.name, args.tile, M, N, K, splitK);
    const source =
      precision === 'f16'
        ? gemmF16MathKernel
        : weightSource(device, dtype, gemmKernel, gemmNativeF16Kernel, args.f16Loads);
    return createDispatch(device, source, {
      overrides: {
        EPILOGUE: code,
        HAS_BIAS: args.bias !== null,
        W_DTYPE: W_DTYPE_CODE[dtype],
        ...launch.overrides,
        PREFETCH: launch.tile.prefetch ?? false,
        BUFFERS: tileBuffers(device.limits, launch.tile),
        QUAD: tileQuad(launch.tile, K),
        ...(splitK > 1 ? { SPLIT_K: true } : {}),
      },
      // KS: the k values of each workgroup z-index, whole k-steps (a k-step never spans two ranges).
      uniforms: { M, N, K, KS: splitKRange(K, launch.tile.bk, splitK) },
      tensors: gemmTensors(device, args),
      workgroups: launch.workgroups,
    });
  },
  subgroup(device, { args, M, N, K, k4, dtype, code, problem }) {
    const kernel = gemmKernel.name;
    if (!k4)
      throw new KernelArgumentError(
        kernel,
        'w',
        `the 'subgroup' variant needs K % 4 == 0, got K = ${K} (for f32 weights; f16 and q8 rows are padded)`,
      );
    if (problem) throw new KernelArgumentError(kernel, 'variant', problem);
    return createDispatch(
      device,
      weightSource(device, dtype, gemmSubgroupKernel, gemmSubgroupNativeF16Kernel, args.f16Loads),
      {
        overrides: { EPILOGUE: code, HAS_BIAS: args.bias !== null, W_DTYPE: W_DTYPE_CODE[dtype] },
        uniforms: { M, N, K },
        tensors: gemmTensors(device, args),
        workgroups: [Math.ceil(N / SUBGROUP_BLOCK.n), Math.ceil(M / SUBGROUP_BLOCK.m)],
      },
    );
  },
  // Subgroup matrices (gemm-subgroup-matrix.ts): f16 operands, f32 accumulation where the device offers it.
  subgroup_matrix(device, { args, M, N, K, dtype, code, problem }) {
    if (problem) throw new KernelArgumentError(gemmKernel.name, 'variant', problem);
    const tensors = gemmTensors(device, args);
    return gemmSubgroupMatrixDispatch(device, { tensors, hasBias: args.bias !== null, M, N, K, dtype, code });
  },
};
