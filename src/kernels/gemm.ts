// Linear layer with fused epilogues. WGSL: src/wgsl/gemm.wgsl.
import { gemmWgsl } from '../wgsl/sources.generated.js';
import { KernelArgumentError } from '../errors.js';
import { tileLaunch, type GemmTile } from './gemm-tile.js';
import {
  createDispatch,
  expectShape,
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
export function gemm(device: GPUDevice, a: GemmArgs): Dispatch {
  const k = gemmKernel.name;
  const epilogue = a.epilogue ?? 'none';
  if (!(epilogue in EPILOGUE_CODE))
    throw new KernelArgumentError(k, 'epilogue', `unknown epilogue '${String(epilogue)}'`);
  if (a.w.shape.length !== 2) throw new KernelArgumentError(k, 'w', `expected [N, K], got [${a.w.shape.join(', ')}]`);
  const [N, K] = a.w.shape as [number, number];
  if (a.x.shape.length < 1 || a.x.shape[a.x.shape.length - 1] !== K) {
    throw new KernelArgumentError(
      k,
      'x',
      `expected [..., ${K}] to match w [${N}, ${K}], got [${a.x.shape.join(', ')}]`,
    );
  }
  const lead = a.x.shape.slice(0, -1);
  const M = lead.reduce((p, d) => p * d, 1);
  expectShape(k, 'x', a.x, a.x.shape);
  expectShape(k, 'w', a.w, [N, K]);
  if (a.bias) expectShape(k, 'bias', a.bias, [N]);
  expectShape(k, 'y', a.y, [...lead, N]);
  const launch = tileLaunch(device, k, a.tile, M, N);
  return createDispatch(device, gemmKernel, {
    overrides: {
      EPILOGUE: EPILOGUE_CODE[epilogue],
      HAS_BIAS: a.bias !== null,
      ...launch.overrides,
      PREFETCH: launch.tile.prefetch ?? false,
    },
    uniforms: { M, N, K },
    tensors: { x: a.x, w: a.w, bias: a.bias ?? unusedBinding(device), y: a.y },
    workgroups: launch.workgroups,
  });
}
