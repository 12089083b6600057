// The GEMM rows: each shape × weight dtype (--dtypes) × each variant of GEMM_FAMILY this adapter can
// run (choose/variants.ts): a row per tile (--tiles) for a variant that takes tiles, one row for
// another buffer variant, one for a texture-reading one (x and w as matrix textures, as a model
// runs it). Each checked at 256 sampled outputs against the float64 reference.
import { GEMM_TILES, checkTile, gemmTileFor, tileName, type GemmTile } from '../../src/kernels/gemm-tile.js';
import { gemm, gemmVariantFor } from '../../src/kernels/gemm.js';
import { gemmSplitKReduce } from '../../src/kernels/gemm-splitk-reduce.js';
import { chooseGemmPlan } from '../../src/kernels/choose/choose.js';
import { gemmTexture } from '../../src/kernels/gemm-texture.js';
import {
  GEMM_FAMILY,
  GEMM_SPECS,
  runnableVariants,
  variantNames,
  type GemmEpilogue,
  type GemmVariant,
} from '../../src/kernels/choose/variants.js';
import { uploadMatrixTexture, uploadWeightTexture } from '../../src/kernels/program/texture-matrix.js';
import { dequantize, quantizeQ8, toF16, WEIGHT_DTYPES } from '../../src/kernels/program/weight-format.js';
import type { Dispatch, WeightDType } from '../../src/kernels/program/index.js';
import { uploadWeight } from '../../src/kernels/program/harness.js';
import { f16PrecisionBoundAt, gemmRefAt, subgroupMatrixBoundAt } from '../../reference/gemm.js';
import { subgroupMatrixConfigFor } from '../../src/kernels/choose/subgroup-matrix.js';
import { LACKS, precisionMark, precisionsAsked, type Bench } from './context.js';

// gemm at ViT shapes: [label, M, K, N, epilogue] (M = tokens × batch). 12608×768→3072 is the
// issue's target shape; the batch-32 rows are the GPU suite's own GEMMs (B/16 and L/14 at 224).
// Rows over 10 GFLOP are skipped on CPU adapters unless --big (they take minutes per tile there).
export const GEMM_SHAPES: [string, number, number, number, GemmEpilogue][] = [
  ['ti qkv 197×192→576', 197, 192, 576, 'none'],
  ['ti fc 197×192→768 gelu', 197, 192, 768, 'gelu'],
  ['ti proj 197×768→192 res', 197, 768, 192, 'residual'],
  ['b fc 197×768→3072 gelu', 197, 768, 3072, 'gelu'],
  ['b fc 197×768→3072 quick_gelu', 197, 768, 3072, 'quick_gelu'],
  ['b proj 197×768→768 res', 197, 768, 768, 'residual'],
  ['b fc2 197×3072→768 res', 197, 3072, 768, 'residual'],
  ['b fc 1576×768→3072 gelu', 1576, 768, 3072, 'gelu'],
  ['b fc2 1576×3072→768 res', 1576, 3072, 768, 'residual'],
  ['b qkv b32 6304×768→2304', 6304, 768, 2304, 'none'],
  ['b proj b32 6304×768→768 res', 6304, 768, 768, 'residual'],
  ['b fc b32 6304×768→3072 gelu', 6304, 768, 3072, 'gelu'],
  ['b fc2 b32 6304×3072→768 res', 6304, 3072, 768, 'residual'],
  ['l fc b32 8224×1024→4096 gelu', 8224, 1024, 4096, 'gelu'],
  ['l fc2 b32 8224×4096→1024 res', 8224, 4096, 1024, 'residual'],
  ['b fc batch 64 12608×768→3072', 12608, 768, 3072, 'none'],
];

/**
 * Rows that answer the GPU issue's open questions (bench:kernels --diag; tools/gpu/device-run.sh's
 * `diag` step): B/16's first MLP GEMM at batch 32 with no epilogue, QuickGELU and erf GELU (with
 * --tiles 128x128k8,128x128k8p: does the cliff follow the epilogue or the tile?), and grids of
 * 132, 264, 265 and 396 workgroups of a 128×128 tile at K = 768 (N = 128: one column of blocks,
 * M = 128 × workgroups): time per workgroup jumps where a wave no longer fits the SMs.
 */
export const GEMM_DIAG_SHAPES: [string, number, number, number, GemmEpilogue][] = [
  ['diag b fc b32 6304×768→3072 none', 6304, 768, 3072, 'none'],
  ['diag b fc b32 6304×768→3072 quick_gelu', 6304, 768, 3072, 'quick_gelu'],
  ['diag b fc b32 6304×768→3072 gelu', 6304, 768, 3072, 'gelu'],
  ...[132, 264, 265, 396].map((wg): [string, number, number, number, GemmEpilogue] => [
    `diag wg ${wg} ${128 * wg}×768→128`,
    128 * wg,
    768,
    128,
    'none',
  ]),
];

/**
 * Split-K rows (`gemm split-K <shape>`): B/16's batch-1 GEMMs (M = 197; N = 768 / 3072, K = 768 /
 * 3072), the shapes whose 128×128 blocks alone leave a large GPU idle (12–48 workgroups for 132
 * SMs). Each row times the split GEMM and its gemm_splitk_reduce together, at the tile and split the
 * adapter's built-in choice makes (*) and at S = 2, 4, 8 on that tile (or each --tiles tile); the
 * same shapes without a split are rows of GEMM_SHAPES.
 */
export const GEMM_SPLITK_SHAPES: [string, number, number, number, GemmEpilogue][] = [
  ['b proj 197×768→768 res', 197, 768, 768, 'residual'],
  ['b fc 197×768→3072 gelu', 197, 768, 3072, 'gelu'],
  ['b fc2 197×3072→768 res', 197, 3072, 768, 'residual'],
];
/** The split counts each split-K row times besides the built-in choice. */
const SPLITK_ROWS = [2, 4, 8];

/** Worst error over 256 sampled outputs of y = epilogue(x·wᵀ + b) (+ y0): |got − want| / (|want| + 1). */
function gemmSampleError(
  got: Float32Array,
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  y0: Float32Array,
  M: number,
  K: number,
  N: number,
  epilogue: GemmEpilogue,
): number {
  let worst = 0;
  for (let s = 0; s < 256; s++) {
    const m = (s * 7919) % M,
      n = (s * 104729 + 13) % N;
    const want = gemmRefAt(x, K, w, N, b, epilogue, y0, m, n).y;
    worst = Math.max(worst, Math.abs(got[m * N + n]! - want) / (Math.abs(want) + 1));
  }
  return worst;
}

/**
 * The 256 sampled outputs against an f16 bound (reference/gemm.ts: subgroupMatrixBoundAt for f16
 * subgroup matrices, f16PrecisionBoundAt for the tiled GEMM's f16 build), given gemmRefAt's f32
 * bound at each: the worst |error| / bound.
 */
function f16BoundCheck(
  got: Float32Array,
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  y0: Float32Array,
  M: number,
  K: number,
  N: number,
  epilogue: GemmEpilogue,
  boundAt: (f32Bound: number, m: number, n: number) => number,
): { ok: boolean; text: string } {
  let worst = 0;
  for (let s = 0; s < 256; s++) {
    const m = (s * 7919) % M,
      n = (s * 104729 + 13) % N;
    const r = gemmRefAt(x, K, w, N, b, epilogue, y0, m, n);
    worst = Math.max(worst, Math.abs(got[m * N + n]! - r.y) / boundAt(r.bound, m, n));
  }
  return { ok: worst <= 1, text: `${worst.toFixed(2)} of the f16 bound` };
}

/** Tiles to time: the device's per-shape default (null), a list of names, or every tile it can run. */
function tilesAsked(b: Bench): (GemmTile | null)[] {
  let tiles: (GemmTile | null)[] = [null];
  if (b.flags.tiles === 'all') tiles = Object.values(GEMM_TILES);
  else if (b.flags.tiles) {
    tiles = b.flags.tiles.split(',').map((n) => {
      const t = GEMM_TILES[n];
      if (!t) throw new Error(`--tiles: unknown tile '${n}' (known: ${Object.keys(GEMM_TILES).join(', ')})`);
      return t;
    });
  }
  return tiles.filter((t) => {
    if (!t) return true;
    try {
      checkTile(b.device, 'gemm', t);
      return true;
    } catch (e) {
      console.log(`tile ${tileName(t)} skipped: ${(e as Error).message}`);
      return false;
    }
  });
}

/** Weight dtypes of the rows (--dtypes f32,f16,q8): f16 and q8 rows are marked so in the tile column. */
function dtypesAsked(b: Bench): WeightDType[] {
  return b.flags.dtypes.split(',').map((d) => {
    if (!(WEIGHT_DTYPES as readonly string[]).includes(d))
      throw new Error(`--dtypes: unknown weight dtype '${d}' (have: ${WEIGHT_DTYPES.join(', ')})`);
    return d as WeightDType;
  });
}

/** A variant's name in the skip line: its row's kernel, with the variant for a buffer one ('gemm subgroup', 'gemm_texture'). */
const skipName = (v: GemmVariant) =>
  GEMM_SPECS[v].reads === 'texture' ? GEMM_SPECS[v].row : `${GEMM_SPECS[v].row} ${v}`;

export async function gemmRows(b: Bench): Promise<void> {
  const { device } = b;
  const tiles = tilesAsked(b);
  const defaultVariant = gemmVariantFor(device);
  // The accumulator of the 'subgroup_matrix' rows (f32 where the device offers it), for their check.
  const sgm = subgroupMatrixConfigFor(device)?.resultComponentType as 'f32' | 'f16' | undefined;
  const weightDTypes = dtypesAsked(b);
  const precisions = precisionsAsked(b);
  const runnable = runnableVariants(GEMM_FAMILY, b.traits);
  const unmet = variantNames(GEMM_FAMILY).filter((v) => !runnable.includes(v));
  if (unmet.length > 0 && GEMM_SHAPES.some(([name]) => b.want(`gemm ${name}`))) {
    // One line per missing capability ('gemm subgroup, gemm_texture: …', 'gemm subgroup_matrix: …').
    const needOf = (v: GemmVariant) => GEMM_SPECS[v].needs.find((n) => !b.traits[n])!;
    for (const need of new Set(unmet.map(needOf)))
      console.log(
        `${unmet
          .filter((v) => needOf(v) === need)
          .map(skipName)
          .join(', ')}: skipped, ${LACKS[need]}`,
      );
  }
  for (const [name, M, K, N, epilogue] of [...GEMM_SHAPES, ...(b.flags.diag ? GEMM_DIAG_SHAPES : [])]) {
    if (!b.want(`gemm ${name}`)) continue;
    if (2 * M * N * K > 10e9 && b.traits.cpu && !b.flags.big) {
      console.log(`gemm ${name}: skipped on a CPU adapter (--big runs it)`);
      continue;
    }
    const bytes = 4 * Math.max(M * N, M * K, N * K);
    if (bytes > device.limits.maxStorageBufferBindingSize) {
      console.log(`gemm ${name}: skipped, ${bytes} bytes > maxStorageBufferBindingSize`);
      continue;
    }
    const xv = b.data(M * K),
      w32 = b.data(N * K, 1 / Math.sqrt(K)),
      bv = b.data(N, 0.5),
      y0 = b.data(M * N);
    const x = b.tensor([M, K], xv),
      bias = b.tensor([N], bv),
      y = b.tensor([M, N], y0);
    // Each weight dtype (--dtypes): stored as the kernels read it, checked against its dequantized values.
    for (const dtype of weightDTypes) {
      const stored = dtype === 'f16' ? toF16(w32) : dtype === 'q8' ? quantizeQ8(w32, N, K) : w32;
      const wv = dequantize(stored, N, K);
      const w = uploadWeight(device, stored, N, K);
      const sfx = dtype === 'f32' ? '' : ` ${dtype}`;
      // Each variant's dispatch: y reset, run once, checked at sampled places, then timed.
      const checked = async (kernel: string, label: string, d: Dispatch) => {
        device.queue.writeBuffer(y.buffer, 0, y0);
        await b.runOnce(d);
        const got = await b.read(y);
        const err = gemmSampleError(got, xv, wv, bv, y0, M, K, N, epilogue);
        // f16 subgroup matrices: checked against their own bound (reference/gemm.ts), not the f32 1e-4.
        const check =
          label.startsWith('subgroup_matrix') && sgm
            ? f16BoundCheck(got, xv, wv, bv, y0, M, K, N, epilogue, (f32, m, n) =>
                subgroupMatrixBoundAt(xv, K, wv, epilogue, sgm, f32, m, n),
              )
            : label.startsWith(precisionMark('f16'))
              ? f16BoundCheck(got, xv, wv, bv, y0, M, K, N, epilogue, (f32, m, n) =>
                  f16PrecisionBoundAt(xv, K, wv, epilogue, f32, m, n),
                )
              : undefined;
        await b.record(kernel, name, label + sfx, d, err, 2 * M * N * K, undefined, check);
      };
      const star = (v: string) => (defaultVariant === v ? '*' : '');
      for (const variant of runnable) {
        const spec = GEMM_SPECS[variant];
        if (spec.tiles) {
          const defaultTile = gemmTileFor(device, { m: M, n: N, k: K });
          for (const tile of tiles.map((t) => t ?? defaultTile))
            for (const precision of precisions) {
              const d = gemm(device, { x, w, bias, y, epilogue, tile, variant, precision });
              const mark = precisionMark(precision);
              await checked(spec.row, mark + tileName(tile) + (tile === defaultTile ? star(variant) : ''), d);
            }
        } else if (spec.reads === 'buffer') {
          await checked(spec.row, variant + star(variant), gemm(device, { x, w, bias, y, epilogue, variant }));
        } else if (M <= device.limits.maxTextureDimension2D) {
          // x and w as matrix textures, as a model runs it (x packed or written by the previous kernel, w uploaded at load).
          const xt = uploadMatrixTexture(device, xv, M, K),
            wt = uploadWeightTexture(device, stored, N, K);
          await checked(spec.row, variant + star(variant), gemmTexture(device, { x: xt, w: wt, bias, y, epilogue }));
          xt.texture.destroy();
          wt.texture.destroy();
          wt.scale?.buffer.destroy();
        }
      }
      w.buffer.destroy();
      w.scale?.buffer.destroy();
    }
    for (const t of [x, bias, y]) t.buffer.destroy();
  }
  await gemmSplitKRows(b, tiles, weightDTypes);
}

/** Two dispatches timed as one (a split-K GEMM and its reduce, in one pass). */
function both(a: Dispatch, r: Dispatch): Dispatch {
  return {
    kernel: `${a.kernel}+${r.kernel}`,
    async prepare() {
      await Promise.all([a.prepare?.(), r.prepare?.()]);
    },
    encode(pass) {
      a.encode(pass);
      r.encode(pass);
    },
    destroy() {
      a.destroy();
      r.destroy();
    },
  };
}

async function gemmSplitKRows(b: Bench, tiles: (GemmTile | null)[], weightDTypes: WeightDType[]): Promise<void> {
  const { device } = b;
  for (const [name, M, K, N, epilogue] of GEMM_SPLITK_SHAPES) {
    if (!b.want(`gemm split-K ${name}`)) continue;
    const plan = chooseGemmPlan(b.traits, { m: M, n: N, k: K });
    const xv = b.data(M * K),
      w32 = b.data(N * K, 1 / Math.sqrt(K)),
      bv = b.data(N, 0.5),
      y0 = b.data(M * N);
    const x = b.tensor([M, K], xv),
      bias = b.tensor([N], bv),
      y = b.tensor([M, N], y0);
    for (const dtype of weightDTypes) {
      const stored = dtype === 'f16' ? toF16(w32) : dtype === 'q8' ? quantizeQ8(w32, N, K) : w32;
      const wv = dequantize(stored, N, K);
      const w = uploadWeight(device, stored, N, K);
      const sfx = dtype === 'f32' ? '' : ` ${dtype}`;
      for (const tile of tiles.map((t) => t ?? plan.tile)) {
        const splits = [...new Set([...(tile === plan.tile && plan.splitK > 1 ? [plan.splitK] : []), ...SPLITK_ROWS])];
        for (const S of splits) {
          const partials = b.tensor([S, M, N], new Float32Array(S * M * N));
          const d = both(
            gemm(device, { x, w, bias: null, y: partials, tile, variant: 'tiled', splitK: S }),
            gemmSplitKReduce(device, { partials, bias, y, epilogue, scale: w.scale ?? null }),
          );
          device.queue.writeBuffer(y.buffer, 0, y0);
          await b.runOnce(d);
          const err = gemmSampleError(await b.read(y), xv, wv, bv, y0, M, K, N, epilogue);
          const star = tile === plan.tile && S === plan.splitK ? '*' : '';
          await b.record('gemm split-K', name, `${tileName(tile)} S${S}${star}${sfx}`, d, err, 2 * M * N * K);
          partials.buffer.destroy();
        }
      }
      w.buffer.destroy();
      w.scale?.buffer.destroy();
    }
    for (const t of [x, bias, y]) t.buffer.destroy();
  }
}
