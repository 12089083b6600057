// Argument checks and small helpers shared by the model classes (vision, text, CLIP) and encode.ts:
// each failure an ArgumentError naming the call and the argument.
import { ArgumentError } from '../errors.js';
import type { KernelChoices } from '../graph/graph.js';
import { settleLayouts } from '../graph/placement.js';
import { attentionVariantFor } from '../kernels/attention.js';
import { adapterTraits } from '../kernels/choose/adapter.js';
import {
  ATTENTION_FAMILY,
  GEMM_FAMILY,
  variantNames,
  variantProblem,
  variantSpec,
  type VariantSpec,
} from '../kernels/choose/variants.js';
import { checkTile } from '../kernels/gemm-tile.js';
import { f16LoadsProblem } from '../kernels/program/weight-format.js';
import { precisionProblem, type Precision } from '../kernels/program/precision.js';
import { gemmVariantFor } from '../kernels/gemm.js';
import type { Checkpoint } from '../weights/checkpoint.js';
import { checkOptionKeys, type KeyList } from '../options.js';

/** The keys of KernelChoices (the `kernels` load option; an unknown one is refused). */
export const KERNEL_CHOICE_KEYS = {
  gemmVariant: true,
  gemmTile: true,
  gemmSplitK: true,
  attentionVariant: true,
  weightDType: true,
  f16Loads: true,
  textureRows: true,
  precision: true,
} as const satisfies KeyList<KernelChoices>;

/** Array.isArray that keeps the element type (the built-in narrows a readonly T[] to any[]). */
export const isList = <T>(x: readonly T[]): x is readonly T[] => Array.isArray(x);

/** An asked-for variant: one of the family's (choose/variants.ts), on a device that has what it needs. */
function checkVariant(
  device: GPUDevice,
  arg: string,
  v: string | undefined,
  family: { variants: Record<string, VariantSpec> },
): void {
  if (v === undefined) return;
  const spec = variantSpec(family, v);
  if (!spec)
    throw new ArgumentError(
      'load',
      arg,
      `unknown variant ${JSON.stringify(v)} (have: ${variantNames(family).join(', ')})`,
    );
  const problem = variantProblem(spec, v, adapterTraits(device));
  if (problem) throw new ArgumentError('load', arg, problem);
}

/**
 * Validates kernel choices up front (an unknown variant or a tile the device cannot run is refused at
 * load; what each variant needs comes from its family table, choose/variants.ts) and settles the
 * variants the graph's structure depends on (graph/placement.ts's settleLayouts): the adapter's
 * texture-reading GEMM (weights uploaded as textures, x packed before each GEMM) when no tile or
 * variant was asked for, its texture-reading attention (qkv packed first) when none was asked for.
 */
export function checkKernelChoices(
  device: GPUDevice,
  k: KernelChoices = {},
  precision: Precision = 'f32',
): KernelChoices {
  checkOptionKeys('load', k, KERNEL_CHOICE_KEYS, { argument: 'kernels', prefix: 'kernels.' });
  if (k.precision !== undefined)
    throw new ArgumentError('load', 'kernels.precision', "is set by the load option 'precision', not in kernels");
  checkVariant(device, 'kernels.attentionVariant', k.attentionVariant, ATTENTION_FAMILY);
  if (k.gemmTile !== undefined) checkTile(device, 'load', k.gemmTile);
  if (
    k.textureRows !== undefined &&
    !(Number.isInteger(k.textureRows) && k.textureRows > 0 && k.textureRows <= device.limits.maxTextureDimension2D)
  )
    throw new ArgumentError(
      'load',
      'kernels.textureRows',
      `must be an integer in 1 .. ${device.limits.maxTextureDimension2D} (maxTextureDimension2D), got ${String(k.textureRows)}`,
    );
  if (k.gemmSplitK !== undefined && !(Number.isInteger(k.gemmSplitK) && k.gemmSplitK >= 1))
    throw new ArgumentError('load', 'kernels.gemmSplitK', `must be a positive integer, got ${String(k.gemmSplitK)}`);
  if (k.gemmSplitK !== undefined && k.gemmSplitK > 1 && k.gemmVariant !== undefined && k.gemmVariant !== 'tiled')
    throw new ArgumentError('load', 'kernels.gemmSplitK', "split-K is for the 'tiled' GEMM variant only");
  checkVariant(device, 'kernels.gemmVariant', k.gemmVariant, GEMM_FAMILY);
  const f16Problem = k.f16Loads === undefined ? null : f16LoadsProblem(device, k.f16Loads);
  if (f16Problem) throw new ArgumentError('load', 'kernels.f16Loads', f16Problem);
  if (k.gemmVariant !== undefined && !variantSpec(GEMM_FAMILY, k.gemmVariant)!.tiles && k.gemmTile !== undefined)
    throw new ArgumentError('load', 'kernels.gemmTile', "a tile is for the 'tiled' GEMM variant only");
  if (precision === 'f16') return settleF16(device, k);
  return settleLayouts(k, { gemmVariant: gemmVariantFor(device), attentionVariant: attentionVariantFor(device) });
}

/**
 * The `precision` load option, checked on the device: 'f32' (absent) or 'f16' (needs shader-f16);
 * an ArgumentError naming `where` and 'precision' otherwise.
 */
export function checkPrecision(where: string, device: GPUDevice, precision: unknown): Precision {
  if (precision === undefined) return 'f32';
  const problem = precisionProblem(device, precision);
  if (problem) throw new ArgumentError(where, 'precision', problem);
  return precision as Precision;
}

/**
 * The kernel choices of precision 'f16': the GEMMs run the tiled variant's f16 build (or
 * 'subgroup_matrix' where asked: f16 operands by construction) and attention the flash variant's, on
 * every adapter (the texture and subgroup variants of CPU adapters have no f16 build). Where the
 * device offers subgroup matrices and WGSL_VIT_SUBGROUP_MATRIX=on asks for them, they are the GEMM;
 * not by default until a GPU has verified them (docs/gpu.md). Other asked variants are refused by name.
 */
function settleF16(device: GPUDevice, k: KernelChoices): KernelChoices {
  if (k.gemmVariant !== undefined && k.gemmVariant !== 'tiled' && k.gemmVariant !== 'subgroup_matrix')
    throw new ArgumentError(
      'load',
      'kernels.gemmVariant',
      `precision 'f16' runs the 'tiled' or 'subgroup_matrix' GEMM; '${k.gemmVariant}' has no f16 build`,
    );
  if (k.attentionVariant !== undefined && k.attentionVariant !== 'flash')
    throw new ArgumentError(
      'load',
      'kernels.attentionVariant',
      `precision 'f16' runs the 'flash' attention; '${k.attentionVariant}' has no f16 build`,
    );
  if (k.f16Loads === 'native')
    throw new ArgumentError(
      'load',
      'kernels.f16Loads',
      "precision 'f16' reads f16 weights packed: leave f16Loads unset",
    );
  const builtIn = gemmVariantFor(device) === 'subgroup_matrix' ? 'subgroup_matrix' : 'tiled';
  const gemmVariant = k.gemmVariant ?? (k.gemmTile !== undefined || k.gemmSplitK !== undefined ? 'tiled' : builtIn);
  return { ...k, gemmVariant, attentionVariant: 'flash' };
}

/** A `hiddenBlock` only goes with the 'hidden' output: given without it, it would be ignored, so it is refused. */
export function checkHiddenBlockUse(where: string, hiddenBlock: number | undefined, outputs: readonly string[]): void {
  if (hiddenBlock !== undefined && !outputs.includes('hidden'))
    throw new ArgumentError(
      where,
      'hiddenBlock',
      "picks the block of the 'hidden' output, which outputs does not ask for (add 'hidden' to outputs)",
    );
}

/** Throws unless `outputs` is a non-empty list of known output names. */
export function checkOutputs(where: string, outputs: readonly string[], known: readonly string[]): void {
  if (!isList(outputs) || outputs.length === 0)
    throw new ArgumentError(where, 'outputs', `must be a non-empty array of ${known.join(', ')}`);
  for (const o of outputs) {
    if (!known.includes(o))
      throw new ArgumentError(where, 'outputs', `unknown output ${JSON.stringify(o)} (known: ${known.join(', ')})`);
  }
}

/** A short description of a value for error messages: its type and length. */
export function describeValue(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return `a plain Array of ${x.length}`;
  if (ArrayBuffer.isView(x))
    return `a ${x.constructor.name}${'length' in x ? ` of ${(x as { length: number }).length}` : ''}`;
  return typeof x === 'object' ? `a ${x.constructor?.name ?? 'object'}` : `a ${typeof x}`;
}

export function isCheckpoint(x: unknown): x is Checkpoint {
  return typeof x === 'object' && x !== null && 'tensors' in x && 'read' in x && 'file' in x;
}

/** Concatenates float arrays (returns the only part itself when there is one). */
export function concat(parts: Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
