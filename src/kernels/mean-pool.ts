// Mean over tokens, skipping the class token. WGSL: src/wgsl/mean_pool.wgsl.
import { meanPoolWgsl } from '../wgsl/sources.generated.js';
import { KernelArgumentError } from '../errors.js';
import {
  createDispatch,
  expectShape,
  wgslWorkgroupSize,
  type Dispatch,
  type KernelSource,
  type TensorRef,
} from './program/index.js';
import { expectKnownArgs } from './program/checks.js';
import type { KeyList } from '../options.js';

export const meanPoolKernel: KernelSource = { name: 'mean_pool', wgsl: meanPoolWgsl };

export interface MeanPoolArgs {
  /** [B, rows, dim] hidden states. */
  x: TensorRef;
  /** [B, dim] output. */
  y: TensorRef;
  /** Leading rows excluded from the mean (1: the class token). */
  skip: number;
}

/** The keys of MeanPoolArgs (an unknown one is refused). */
export const MEAN_POOL_ARG_KEYS = { x: true, y: true, skip: true } as const satisfies KeyList<MeanPoolArgs>;

/** y[b] = mean(x[b, skip:]). */
export function meanPool(device: GPUDevice, a: MeanPoolArgs): Dispatch {
  const k = meanPoolKernel.name;
  expectKnownArgs(k, a, MEAN_POOL_ARG_KEYS);
  if (a.x.shape.length !== 3)
    throw new KernelArgumentError(k, 'x', `expected [B, rows, dim], got [${a.x.shape.join(', ')}]`);
  const [batch, rows, dim] = a.x.shape as [number, number, number];
  expectShape(k, 'x', a.x, [batch, rows, dim]);
  expectShape(k, 'y', a.y, [batch, dim]);
  if (!Number.isInteger(a.skip) || a.skip < 0 || a.skip >= rows)
    throw new KernelArgumentError(k, 'skip', `must be an integer in 0..${rows - 1}, got ${a.skip}`);
  return createDispatch(device, meanPoolKernel, {
    uniforms: { batch, rows, dim, skip: a.skip },
    tensors: { x: a.x, y: a.y },
    workgroups: [Math.ceil(dim / wgslWorkgroupSize(meanPoolKernel)[0]), batch],
  });
}
