// What every kernel family's benchmark rows share (bench/kernels.ts runs them): the device, the
// parsed flags, seeded data, and `record`, which times a checked dispatch and keeps its row. One
// object per run, no module state.
import { PRECISIONS, type Precision } from '../../src/kernels/program/precision.js';
import type { AdapterTraits } from '../../src/kernels/choose/adapter.js';
import { GEMM_FAMILY, GEMM_SPECS, runnableVariants, type VariantNeed } from '../../src/kernels/choose/variants.js';
import type { Dispatch, TensorRef } from '../../src/kernels/program/index.js';
import { readTensor, runDispatches, timeDispatch, uploadTensor } from '../../src/kernels/program/harness.js';
import { seededNormal } from '../../src/model/random.js';
import { elementCount } from '../../src/shape.js';

/** The command line (bench/kernels.ts parses it). */
export interface KernelBenchFlags {
  iters: string;
  only?: string;
  flags?: string;
  tiles?: string;
  variants?: string;
  big: boolean;
  /** Also the diagnostic GEMM rows (GEMM_DIAG_SHAPES: epilogues at one shape, a workgroup-count sweep). */
  diag?: boolean;
  dtypes: string;
  /** The arithmetic of the tiled GEMM and flash attention rows (--precisions f32,f16). */
  precisions?: string;
  out?: string;
}

export interface Row {
  kernel: string;
  shape: string;
  tile?: string;
  ms: number;
  rate: number;
  unit: 'GFLOP/s' | 'GB/s';
  check?: string;
}

/** How the skip lines say what an adapter lacks for a variant that needs it. */
export const LACKS: Record<VariantNeed, string> = {
  subgroupsOf8: 'this adapter has no 8-lane subgroups',
  subgroupMatrix: 'this device has no chromium-experimental-subgroup-matrix with an f16 configuration',
};

export interface Bench {
  readonly device: GPUDevice;
  readonly traits: AdapterTraits;
  readonly flags: KernelBenchFlags;
  readonly iters: number;
  /** Whether a row named `name` (kernel + shape) is asked for (--only: prefixes). */
  want(name: string): boolean;
  /** Seeded normal values × scale. */
  data(n: number, scale?: number): Float32Array<ArrayBuffer>;
  tensor(shape: number[], values?: Float32Array<ArrayBuffer>): TensorRef;
  read(t: TensorRef): Promise<Float32Array>;
  runOnce(...d: Dispatch[]): Promise<void>;
  /**
   * Times a checked dispatch and records its row, then destroys it. Without `check`, the sampled
   * error must be ≤ 1e-4 relative: float32 rounding over K ≤ 4096 terms (GEMM) or ≤ 785 keys
   * (attention) stays ~1e-6 off, while a tiling bug (a missed or doubled k-slice or key block, a
   * wrong column, mask or rescale) is off by O(1).
   */
  record(
    kernel: string,
    shape: string,
    label: string,
    d: Dispatch,
    err: number,
    flops: number,
    unit?: Row['unit'],
    check?: { ok: boolean; text: string },
  ): Promise<void>;
  readonly rows: readonly Row[];
  /** Rows whose check failed. */
  wrong(): number;
}

export function createBench(device: GPUDevice, traits: AdapterTraits, flags: KernelBenchFlags): Bench {
  const normal = seededNormal(3);
  const rows: Row[] = [];
  const iters = +flags.iters;
  let wrong = 0;
  const data = (n: number, scale = 1): Float32Array<ArrayBuffer> => {
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) d[i] = normal() * scale;
    return d;
  };
  return {
    device,
    traits,
    flags,
    iters,
    rows,
    wrong: () => wrong,
    want: (name) => !flags.only || flags.only.split(',').some((o) => name.startsWith(o)),
    data,
    tensor: (shape, values) => uploadTensor(device, values ?? data(elementCount(shape)), shape),
    read: (t) => readTensor(device, t),
    runOnce: (...d) => runDispatches(device, ...d),
    async record(kernel, shape, label, d, err, flops, unit = 'GFLOP/s', check) {
      const ok = check ? check.ok : err <= 1e-4;
      if (!ok) wrong++;
      const ms = (await timeDispatch(device, d, iters)).ms;
      const r: Row = {
        kernel,
        shape,
        tile: label,
        ms,
        rate: flops / ms / 1e6,
        unit,
        check: `${ok ? 'ok' : 'WRONG'} (${check ? check.text : err.toExponential(1)})`,
      };
      rows.push(r);
      printRow(r);
      d.destroy();
    },
  };
}

export const printRow = (r: Row): void =>
  console.log(
    `${`${r.kernel} ${r.shape}`.padEnd(44)} ${(r.tile ?? '').padEnd(11)} ${r.ms.toFixed(3).padStart(10)} ms ${r.rate.toFixed(r.unit === 'GB/s' ? 2 : 1).padStart(9)} ${r.unit}${r.check ? `  ${r.check}` : ''}`,
  );

/** --precisions: f32 (default) and / or f16; the f16 rows only where the device has shader-f16. */
export function precisionsAsked(b: { device: GPUDevice; flags: { precisions?: string } }): Precision[] {
  const list = (b.flags.precisions ?? 'f32').split(',').map((p) => p.trim());
  for (const p of list)
    if (!(PRECISIONS as readonly string[]).includes(p))
      throw new Error(`--precisions: unknown precision '${p}' (have: ${PRECISIONS.join(', ')})`);
  if (list.includes('f16') && !b.device.features.has('shader-f16')) {
    console.log('precision f16 rows: skipped, no shader-f16 on this device');
    return list.filter((p) => p !== 'f16') as Precision[];
  }
  return list as Precision[];
}

/** The tile column's mark of a precision: '' for f32, 'f16·' for f16. */
export const precisionMark = (p: Precision): string => (p === 'f16' ? 'f16·' : '');

/** Full check against a float64 reference: worst |err| / bound ≤ 1 (the tests' criterion). */
export const fullCheck = (
  got: Float32Array,
  want: ArrayLike<number>,
  bound: ArrayLike<number>,
): { ok: boolean; text: string } => {
  let worst = 0;
  for (let i = 0; i < want.length; i++)
    worst = Math.max(worst, Number.isNaN(got[i]!) ? Infinity : Math.abs(got[i]! - want[i]!) / bound[i]!);
  return { ok: worst <= 1, text: `${worst.toFixed(2)} of bound` };
};

/**
 * Whether this adapter runs the texture-reading variants (GEMM_FAMILY): the rows of the kernels that
 * write or pack matrix textures for them (layernorm_texture, texture_pack, patch_pack, …) run only then.
 */
export const runsTextures = (b: Bench): boolean =>
  runnableVariants(GEMM_FAMILY, b.traits).some((v) => GEMM_SPECS[v].reads === 'texture');
