// Linear layer with fused epilogues. WGSL: src/wgsl/gemm.wgsl.
import { gemmWgsl } from '../wgsl/sources.generated.js';
import { KernelArgumentError } from '../errors.js';
import { tileLaunch, type GemmTile } from './gemm-tile.js';
import {
  createDispatch,
  expectShape,
  elementCount,
  unusedBinding,
  wgslConst,
  type Dispatch,
  type KernelSource,
  type TensorRef,
} from './program.js';

export const gemmKernel: KernelSource = { name: 'gemm', wgsl: gemmWgsl };

/**
 * What happens to `x·wᵀ + bias` before it is stored: nothing, exact-erf GELU (nn.GELU()), `y +=
 * result`, or tanh-approximated GELU (nn.GELU(approximate='tanh')).
 */
export type GemmEpilogue = 'none' | 'gelu' | 'residual' | 'gelu_tanh';
/** Each epilogue's EPILOGUE override value, as gemm.wgsl declares it. */
const EPILOGUE_CODE: Record<GemmEpilogue, number> = {
  none: wgslConst(gemmKernel, 'EPILOGUE_NONE'),
  gelu: wgslConst(gemmKernel, 'EPILOGUE_GELU'),
  residual: wgslConst(gemmKernel, 'EPILOGUE_RESIDUAL'),
  gelu_tanh: wgslConst(gemmKernel, 'EPILOGUE_GELU_TANH'),
};

export interface GemmArgs {
  /** [..., K] activations; all leading axes are flattened into M rows. */
  x: TensorRef;
  /** [N, K] weights, PyTorch nn.Linear layout. */
  w: TensorRef;
  /** [N] bias, or null for none. */
  bias: TensorRef | null;
  /** [..., N] output with x's leading axes. With 'residual' it is also read (y += x·wᵀ + b). */
  y: TensorRef;
  epilogue?: GemmEpilogue;
  /** Workgroup tile (gemm-tile.ts); defaults to gemmTileFor(device, { m: M, n: N }). */
  tile?: GemmTile;
}

/** y = epilogue(x·wᵀ + bias). Any M, N, K (no multiple-of-tile requirement). */
export function gemm(device: GPUDevice, args: GemmArgs): Dispatch {
  const kernel = gemmKernel.name; // `kernel` for names, K for the reduction dimension
  const epilogue = args.epilogue ?? 'none';
  if (!(epilogue in EPILOGUE_CODE))
    throw new KernelArgumentError(kernel, 'epilogue', `unknown epilogue '${String(epilogue)}'`);
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
  expectShape(kernel, 'w', args.w, [N, K]);
  if (args.bias) expectShape(kernel, 'bias', args.bias, [N]);
  expectShape(kernel, 'y', args.y, [...lead, N]);
  const launch = tileLaunch(device, kernel, args.tile, M, N);
  return createDispatch(device, gemmKernel, {
    overrides: {
      EPILOGUE: EPILOGUE_CODE[epilogue],
      HAS_BIAS: args.bias !== null,
      ...launch.overrides,
      PREFETCH: launch.tile.prefetch ?? false,
    },
    uniforms: { M, N, K },
    tensors: { x: args.x, w: args.w, bias: args.bias ?? unusedBinding(device), y: args.y },
    workgroups: launch.workgroups,
  });
}
