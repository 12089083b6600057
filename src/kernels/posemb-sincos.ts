// OpenVision's fixed 2-D sin-cos position table, on the GPU (WGSL: src/wgsl/posemb_sincos.wgsl)
// or on the CPU (`posembSincos2d`), for any grid. The model uses the CPU table (once per
// resolution, (1 + g²)·W values); the GPU kernel is exported on purpose, for kernel users who build
// the table where their pass runs, and is tested against the same reference.
import { posembSincosWgsl } from '../wgsl/sources.generated.js';
import { KernelArgumentError } from '../errors.js';
import {
  createDispatch,
  expectDims,
  expectShape,
  type Dispatch,
  type KernelSource,
  type TensorRef,
  wgslWorkgroupSize,
} from './program/index.js';
import { expectKnownArgs } from './program/checks.js';
import type { KeyList } from '../options.js';

export const posembSincosKernel: KernelSource = { name: 'posemb_sincos', wgsl: posembSincosWgsl };

/** ω_i = 1 / 10000^(i/(q−1)), i = 0..q−1, q = dim/4, each rounded to float32 as OpenVision does. */
export function posembOmega(dim: number): Float32Array {
  if (!Number.isInteger(dim) || dim % 4 !== 0 || dim < 8)
    throw new KernelArgumentError('posemb_sincos', 'dim', `must be a multiple of 4 and ≥ 8, got ${dim}`);
  const q = dim / 4;
  const omega = new Float32Array(q);
  for (let i = 0; i < q; i++) omega[i] = 1 / Math.pow(10000, Math.fround(i / (q - 1)));
  return omega;
}

/**
 * The [1 + grid², dim] table on the CPU: class row zero, then for the patch at (row r, column c)
 * [sin(c·ω), cos(c·ω), sin(r·ω), cos(r·ω)]. The angle is the float32 product, as in float32 JAX.
 */
export function posembSincos2d(grid: number, dim: number): Float32Array {
  if (!Number.isInteger(grid) || grid <= 0)
    throw new KernelArgumentError('posemb_sincos', 'grid', `must be a positive integer, got ${grid}`);
  const omega = posembOmega(dim);
  const q = dim / 4;
  const out = new Float32Array((1 + grid * grid) * dim);
  for (let r = 0; r < grid; r++) {
    for (let c = 0; c < grid; c++) {
      const o = (1 + r * grid + c) * dim;
      for (let i = 0; i < q; i++) {
        const ac = Math.fround(c * omega[i]!),
          ar = Math.fround(r * omega[i]!);
        out[o + i] = Math.sin(ac);
        out[o + q + i] = Math.cos(ac);
        out[o + 2 * q + i] = Math.sin(ar);
        out[o + 3 * q + i] = Math.cos(ar);
      }
    }
  }
  return out;
}

export interface PosembSincosArgs {
  /** [dim / 4] from `posembOmega(dim)`. */
  omega: TensorRef;
  /** [1 + grid², dim]. */
  out: TensorRef;
  grid: number;
}

/** The keys of PosembSincosArgs (an unknown one is refused). */
export const POSEMB_SINCOS_ARG_KEYS = {
  omega: true,
  out: true,
  grid: true,
} as const satisfies KeyList<PosembSincosArgs>;

/** Fills `out` with the table on the GPU. */
export function posembSincos(device: GPUDevice, a: PosembSincosArgs): Dispatch {
  const k = posembSincosKernel.name;
  expectKnownArgs(k, a, POSEMB_SINCOS_ARG_KEYS);
  if (!Number.isInteger(a.grid) || a.grid <= 0)
    throw new KernelArgumentError(k, 'grid', `must be a positive integer, got ${a.grid}`);
  expectDims(k, 'out', a.out.shape);
  if (a.out.shape.length !== 2)
    throw new KernelArgumentError(k, 'out', `expected [1 + grid², dim], got [${a.out.shape.join(', ')}]`);
  const dim = a.out.shape[1]!;
  if (dim % 4 !== 0 || dim < 8) throw new KernelArgumentError(k, 'out', `dim ${dim} must be a multiple of 4 and ≥ 8`);
  expectShape(k, 'out', a.out, [1 + a.grid * a.grid, dim]);
  expectShape(k, 'omega', a.omega, [dim / 4]);
  return createDispatch(device, posembSincosKernel, {
    uniforms: { grid: a.grid, dim },
    tensors: { omega: a.omega, out: a.out },
    workgroups: [Math.ceil(dim / wgslWorkgroupSize(posembSincosKernel)[0]), 1 + a.grid * a.grid],
  });
}
