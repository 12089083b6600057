// Split-K: the tiled GEMM with `splitK` S writes S partial sums over K ranges into an [S, M, N]
// workspace, gemm_splitk_reduce sums them and applies the GEMM's store (q8 scales, bias, epilogue,
// residual in place). Checked against the same float64 reference as the GEMM itself (reference/gemm.ts):
// a float32 sum of K terms in any order — S range sums, then their sum — has the same bound γ_K·Σ|x w|.
import { describe, expect, it } from 'vitest';
import { gemm, type GemmEpilogue } from '../../src/kernels/gemm.js';
import { gemmSplitKReduce } from '../../src/kernels/gemm-splitk-reduce.js';
import { GEMM_TILES, tileName, type GemmTile } from '../../src/kernels/gemm-tile.js';
import { splitKRange } from '../../src/kernels/choose/choose.js';
import { KernelArgumentError } from '../../src/errors.js';
import { gemmRef } from '../../reference/gemm.js';
import { poisoned, readback, rng, run, testDevice, upload, weightAs, worstRatio } from '../helpers/gpu.js';
import { uploadWeight } from '../../src/kernels/program/harness.js';
import type { WeightDType } from '../../src/kernels/program/types.js';
import type { F16Loads } from '../../src/kernels/program/weight-format.js';

interface Case {
  lead: number[];
  K: number;
  N: number;
  S: number;
  epilogue: GemmEpilogue;
  tile?: GemmTile;
  dtype?: WeightDType;
  f16Loads?: F16Loads;
  bias?: boolean;
  seed: number;
}

/** One split-K GEMM + reduce on seeded data, every element checked against the float64 reference's bound. */
async function checkSplitK(c: Case): Promise<void> {
  const device = await testDevice();
  const { lead, K, N, S, epilogue, tile, dtype = 'f32', f16Loads, bias = true } = c;
  const M = lead.reduce((a, b) => a * b, 1);
  const r = rng(c.seed);
  const x = r.normals(M * K),
    wq = weightAs(dtype, r.normals(N * K, 1 / Math.sqrt(K)), N, K),
    b = r.normals(N, 0.5),
    y0 = r.normals(M * N);
  const w = uploadWeight(device, wq.stored, N, K);
  const bt = bias ? upload(device, b, [N]) : null;
  // The residual accumulates into y in place; the other epilogues overwrite a NaN-filled y.
  const y = epilogue === 'residual' ? upload(device, y0, [...lead, N]) : poisoned(device, [...lead, N]);
  const partials = poisoned(device, [S, ...lead, N]);
  await run(
    device,
    gemm(device, { x: upload(device, x, [...lead, K]), w, bias: null, y: partials, tile, splitK: S, f16Loads }),
    gemmSplitKReduce(device, { partials, bias: bt, y, epilogue, scale: w.scale ?? null }),
  );
  const got = await readback(device, y);
  const ref = gemmRef(x, M, K, wq.values, N, bias ? b : null, epilogue, y0);
  const { ratio, index } = worstRatio(got, ref.y, (i) => ref.bound[i]!);
  expect(ratio, `worst at ${index}: got ${got[index]}, want ${ref.y[index]}`).toBeLessThanOrEqual(1);
}

const EPILOGUES: GemmEpilogue[] = ['none', 'gelu', 'residual', 'gelu_tanh', 'quick_gelu'];
// A plain and a prefetching tile (the two k loops of gemm.wgsl), both with BK = 16.
const TILES = [GEMM_TILES['64x64k16']!, GEMM_TILES['32x64k16p']!];

describe('gemm split-K + gemm_splitk_reduce', () => {
  // [M, K, N] per S: K not a multiple of S·BK (nor of BK), M and N not multiples of the tiles' 32 /
  // 64 rows and 64 columns; the last K range is shorter than the others.
  const shapes: Record<number, [number, number, number]> = {
    2: [37, 300, 70],
    3: [130, 77, 129],
    4: [5, 538, 144],
    7: [65, 1076, 33],
  };
  for (const S of [2, 3, 4, 7]) {
    const [M, K, N] = shapes[S]!;
    for (const [i, epilogue] of EPILOGUES.entries()) {
      const tile = TILES[(S + i) % 2]!;
      it(`S=${S} M=${M} K=${K} N=${N} epilogue=${epilogue} tile ${tileName(tile)}`, async () => {
        expect(K % (S * tile.bk)).not.toBe(0);
        await checkSplitK({ lead: [M], K, N, S, epilogue, tile, seed: S * 100 + i });
      });
    }
  }

  // f16 weights read both ways and q8 weights (their row scales applied by the reduce).
  for (const [dtype, f16Loads] of [
    ['f16', 'packed'],
    ['f16', 'native'],
    ['q8', undefined],
  ] as const)
    for (const epilogue of ['residual', 'gelu'] as const)
      it(`${dtype} weights${f16Loads ? ` (${f16Loads} loads)` : ''}, epilogue=${epilogue}, S=3`, async (ctx) => {
        const device = await testDevice();
        if (f16Loads === 'native' && !device.features.has('shader-f16'))
          return ctx.skip('no shader-f16 on this adapter: native f16 loads not run');
        for (const tile of TILES)
          await checkSplitK({ lead: [37], K: 300, N: 70, S: 3, epilogue, tile, dtype, f16Loads, seed: 7 });
      });

  // Split-K with the loop's forms: interior-only (K a multiple of S·BK, every workgroup inside) and
  // K % 4 != 0 (4×1 staging), with one and two copies of the workgroup tiles, f32 and q8 weights.
  for (const buffers of [1, 2] as const)
    for (const [M, K, N] of [
      [128, 256, 128],
      [70, 130, 66],
    ] as const)
      for (const dtype of ['f32', 'q8'] as const)
        it(`loop forms: buffers ${buffers}, M=${M} K=${K} N=${N}, ${dtype} weights, S=2`, async () => {
          for (const tile of TILES)
            await checkSplitK({
              lead: [M],
              K,
              N,
              S: 2,
              epilogue: 'gelu',
              tile: { ...tile, buffers },
              dtype,
              seed: M + K,
            });
        });

  it('without bias, with a batch axis, with the tile chosen for the split', () =>
    checkSplitK({ lead: [3, 10], K: 200, N: 24, S: 4, epilogue: 'gelu', bias: false, seed: 11 }));

  it('more K ranges than k-steps: the empty ones add zeros', async () => {
    // K = 20 is 2 steps of 16: ranges 2 … 6 of S = 7 are empty.
    expect(splitKRange(20, 16, 7)).toBe(16);
    await checkSplitK({ lead: [9], K: 20, N: 5, S: 7, epilogue: 'residual', tile: TILES[1], seed: 13 });
  });

  it('rows past the per-dimension workgroup limit continue along z', async () => {
    const device = await testDevice();
    const M = device.limits.maxComputeWorkgroupsPerDimension + 3;
    await checkSplitK({ lead: [M], K: 24, N: 3, S: 2, epilogue: 'residual', tile: TILES[0], seed: 17 });
  });

  it('refuses what a split cannot do, naming the argument', async () => {
    const device = await testDevice();
    const f = (shape: number[]) => upload(device, new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
    const base = { x: f([2, 8]), w: f([3, 8]), bias: null, y: f([2, 2, 3]), splitK: 2 };
    expect(() => gemm(device, { ...base, bias: f([3]) })).toThrow(/argument 'bias': must be null with splitK > 1/);
    expect(() => gemm(device, { ...base, epilogue: 'gelu' })).toThrow(/argument 'epilogue': must be 'none'/);
    expect(() => gemm(device, { ...base, variant: 'subgroup' })).toThrow(/splitK is for the 'tiled' variant only/);
    expect(() => gemm(device, { ...base, splitK: 0 })).toThrow(/argument 'splitK': must be a positive integer/);
    expect(() => gemm(device, { ...base, y: f([2, 3]) })).toThrow(KernelArgumentError);
    expect(() => gemmSplitKReduce(device, { partials: f([2, 2, 3]), bias: null, y: f([2, 4]) })).toThrow(
      /gemm_splitk_reduce.*'y'/,
    );
    expect(() => gemmSplitKReduce(device, { partials: f([6]), bias: null, y: f([6]) })).toThrow(
      /argument 'partials': expected \[S, \.\.\., N\]/,
    );
  });
});
