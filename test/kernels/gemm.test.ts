import { describe, expect, it } from 'vitest';
import {
  canRunSubgroupGemm,
  gemm,
  gemmVariantFor,
  type GemmEpilogue,
  type GemmVariant,
} from '../../src/kernels/gemm.js';
import {
  GEMM_TILES,
  checkTile,
  gemmTileFor,
  setGemmTile,
  tileBlock,
  tileBuffers,
  tileQuad,
  tileWorkgroupBytes,
  type GemmTile,
} from '../../src/kernels/gemm-tile.js';
import { KernelArgumentError } from '../../src/errors.js';
import { gemmRef } from '../../reference/gemm.js';
import { poisoned, readback, rng, run, testDevice, upload, weightAs, worstRatio } from '../helpers/gpu.js';
import { uploadWeight } from '../../src/kernels/program/harness.js';
import type { WeightDType } from '../../src/kernels/program/types.js';
import type { F16Loads } from '../../src/kernels/program/weight-format.js';

/**
 * Runs one gemm on seeded data and checks every element against the float64 reference's bound. With
 * an f16 or q8 weight the reference takes the dequantized weight (weightAs): the same f32 bound.
 */
async function checkGemm(
  M: number,
  K: number,
  N: number,
  epilogue: GemmEpilogue,
  seed: number,
  tile?: GemmTile,
  variant?: GemmVariant,
  dtype: WeightDType = 'f32',
  f16Loads?: F16Loads,
): Promise<void> {
  const device = await testDevice();
  const r = rng(seed);
  const x = r.normals(M * K),
    wq = weightAs(dtype, r.normals(N * K, 1 / Math.sqrt(K)), N, K),
    w = wq.values,
    b = r.normals(N, 0.5);
  const y0 = r.normals(M * N);
  const y = epilogue === 'residual' ? upload(device, y0, [M, N]) : poisoned(device, [M, N]);
  await run(
    device,
    gemm(device, {
      x: upload(device, x, [M, K]),
      w: uploadWeight(device, wq.stored, N, K),
      bias: upload(device, b, [N]),
      y,
      epilogue,
      tile,
      variant,
      f16Loads,
    }),
  );
  const got = await readback(device, y);
  const ref = gemmRef(x, M, K, w, N, b, epilogue, y0);
  const { ratio, index } = worstRatio(got, ref.y, (i) => ref.bound[i]!);
  expect(ratio, `worst at ${index}: got ${got[index]}, want ${ref.y[index]}`).toBeLessThanOrEqual(1);
}

// The 'subgroup' variant (CPU adapters with 8-lane subgroups) over the same shapes and epilogues,
// plus shapes around its 16 × 32 block and 8-step k loop.
describe('gemm (subgroup variant)', () => {
  // K a multiple of 4 (w is read as vec4s along K; K = 4 and 12 end mid k-step); M, N anything.
  const shapes: [number, number, number][] = [
    [1, 192, 576],
    [37, 288, 288],
    [197, 1076, 193],
    [5, 536, 144],
    [130, 4, 3],
    [16, 8, 32],
    [17, 12, 33],
    [197, 20, 5],
  ];
  const epilogues: GemmEpilogue[] = ['none', 'gelu', 'residual', 'gelu_tanh', 'quick_gelu'];
  for (const [M, K, N] of shapes) {
    for (const epilogue of epilogues) {
      it(`M=${M} K=${K} N=${N} epilogue=${epilogue}`, async (ctx) => {
        const device = await testDevice();
        if (!canRunSubgroupGemm(device))
          return ctx.skip('no 8-lane subgroups on this adapter: subgroup variant not run');
        await checkGemm(M, K, N, epilogue, M * 7 + K * 13 + N + epilogue.length + 1, undefined, 'subgroup');
      });
    }
  }
  it('is what CPU adapters with 8-lane subgroups pick, and refuses a tile or a device it cannot run on', async () => {
    const device = await testDevice();
    const f = (shape: number[]) => upload(device, new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
    expect(() =>
      gemm(device, { x: f([2, 4]), w: f([3, 4]), bias: null, y: f([2, 3]), variant: 'fast' as never }),
    ).toThrow(/unknown variant 'fast'/);
    expect(() => gemm(device, { x: f([2, 4]), w: f([3, 4]), bias: null, y: f([2, 3]), variant: 'texture' })).toThrow(
      /'texture' reads matrix textures: call gemmTexture/,
    );
    if (!canRunSubgroupGemm(device)) return;
    // Models on this adapter run 'texture'; gemm() on buffers runs its buffer form, 'subgroup'.
    expect(gemmVariantFor(device)).toBe('texture');
    expect(() => gemm(device, { x: f([2, 6]), w: f([3, 6]), bias: null, y: f([2, 3]), variant: 'subgroup' })).toThrow(
      /'subgroup' variant needs K % 4 == 0, got K = 6/,
    );
    expect(() =>
      gemm(device, {
        x: f([2, 4]),
        w: f([3, 4]),
        bias: null,
        y: f([2, 3]),
        variant: 'subgroup',
        tile: GEMM_TILES['64x64k32'],
      }),
    ).toThrow(/a tile is for the 'tiled' variant only/);
  });
});

describe('gemm', () => {
  // [M, K, N]: not multiples of any tile (64 or 128 rows/columns, k step 8..32), M = 1, odd K (an MLP width of 538 / 1076), B > 1.
  const shapes: [number, number, number][] = [
    [1, 192, 576],
    [37, 288, 288],
    [197, 1076, 193],
    [64, 16, 64],
    [5, 538, 144],
    [130, 7, 3],
  ];
  const epilogues: GemmEpilogue[] = ['none', 'gelu', 'residual', 'gelu_tanh', 'quick_gelu'];
  for (const [M, K, N] of shapes) {
    for (const epilogue of epilogues) {
      it(`M=${M} K=${K} N=${N} epilogue=${epilogue}`, () =>
        checkGemm(M, K, N, epilogue, M * 7 + K * 13 + N + epilogue.length, undefined, 'tiled'));
    }
  }

  it('without bias, with a batch axis ([B, N, K] · [E, K]ᵀ)', async () => {
    const device = await testDevice();
    const r = rng(11);
    const x = r.normals(3 * 10 * 40),
      w = r.normals(24 * 40);
    const y = poisoned(device, [3, 10, 24]);
    await run(
      device,
      gemm(device, { x: upload(device, x, [3, 10, 40]), w: upload(device, w, [24, 40]), bias: null, y }),
    );
    const got = await readback(device, y);
    const ref = gemmRef(x, 30, 40, w, 24, null, 'none');
    expect(worstRatio(got, ref.y, (i) => ref.bound[i]!).ratio).toBeLessThanOrEqual(1);
  });

  it('GELU is the exact erf form, not the tanh approximation', async () => {
    // At v = -2.5 the two differ by ~2.6e-4, far above the bound: a tanh GELU fails this test.
    const device = await testDevice();
    const vals = new Float32Array([-6, -2.5, -1, -0.1, 0, 0.3, 1.7, 4]);
    const y = poisoned(device, [8, 1]);
    await run(
      device,
      gemm(device, {
        x: upload(device, vals, [8, 1]),
        w: upload(device, new Float32Array([1]), [1, 1]),
        bias: null,
        y,
        epilogue: 'gelu',
      }),
    );
    const got = await readback(device, y);
    const ref = gemmRef(vals, 8, 1, [1], 1, null, 'gelu');
    expect(worstRatio(got, ref.y, (i) => ref.bound[i]!).ratio).toBeLessThanOrEqual(1);
  });

  it('gelu_tanh is the tanh approximation (not erf) and stays finite for large |v|', async () => {
    // At v = -2.5 the two GELUs differ by ~2.6e-4, far above the bound: an erf GELU fails this test.
    const device = await testDevice();
    const vals = new Float32Array([-1e4, -60, -6, -2.5, -1, -0.1, 0, 0.3, 1.7, 4, 60, 1e4]);
    const y = poisoned(device, [12, 1]);
    await run(
      device,
      gemm(device, {
        x: upload(device, vals, [12, 1]),
        w: upload(device, new Float32Array([1]), [1, 1]),
        bias: null,
        y,
        epilogue: 'gelu_tanh',
      }),
    );
    const got = await readback(device, y);
    const ref = gemmRef(vals, 12, 1, [1], 1, null, 'gelu_tanh');
    expect(worstRatio(got, ref.y, (i) => ref.bound[i]!).ratio).toBeLessThanOrEqual(1);
  });

  it('quick_gelu is v·sigmoid(1.702·v) (not a GELU) and stays finite for large |v|', async () => {
    // At v = -2.5 QuickGELU (-0.0354) and erf GELU (-0.0155) differ by 2e-2, the tanh GELU by as
    // much: either GELU fails this test; ±1e4 and ±60 check the clamped exponent.
    const device = await testDevice();
    const vals = new Float32Array([-1e4, -60, -6, -2.5, -1, -0.1, 0, 0.3, 1.7, 4, 60, 1e4]);
    for (const variant of ['tiled', 'subgroup'] as const) {
      if (variant === 'subgroup' && !canRunSubgroupGemm(device)) continue;
      // K = 4 (a one-hot row of w) so that 'subgroup' (K % 4 == 0) takes the same values.
      const x = new Float32Array(vals.length * 4);
      vals.forEach((v, i) => (x[i * 4] = v));
      const y = poisoned(device, [vals.length, 1]);
      await run(
        device,
        gemm(device, {
          x: upload(device, x, [vals.length, 4]),
          w: upload(device, new Float32Array([1, 0, 0, 0]), [1, 4]),
          bias: null,
          y,
          epilogue: 'quick_gelu',
          variant,
        }),
      );
      const got = await readback(device, y);
      expect(got.every(Number.isFinite), variant).toBe(true);
      const ref = gemmRef(vals, vals.length, 1, [1], 1, null, 'quick_gelu');
      const { ratio, index } = worstRatio(got, ref.y, (i) => ref.bound[i]!);
      expect(ratio, `${variant}: worst at ${index}: got ${got[index]}, want ${ref.y[index]}`).toBeLessThanOrEqual(1);
    }
  });

  // Every tile shape the library can pick, on shapes that are multiples of none of them.
  for (const [tileName, tile] of Object.entries(GEMM_TILES)) {
    for (const [M, K, N, epilogue] of [
      [197, 1076, 193, 'residual'],
      [130, 7, 3, 'gelu'],
      [1, 200, 300, 'none'],
      [37, 64, 70, 'gelu_tanh'],
      [65, 20, 129, 'quick_gelu'],
    ] as const) {
      it(`tile ${tileName}: M=${M} K=${K} N=${N} epilogue=${epilogue}`, async () => {
        const device = await testDevice();
        if (tileWorkgroupBytes(tile) > device.limits.maxComputeWorkgroupStorageSize) return; // checked by the error test below
        await checkGemm(M, K, N, epilogue, M + K + N, tile);
      });
    }
  }

  // The loop's forms (gemm.wgsl): one or two copies of the workgroup tiles (buffers; unset: two
  // where they fit, tileBuffers), 4×4 staging units (QUAD, K % 4 == 0) or 4×1 ones (K % 4 != 0), the
  // compare-free interior path and the guarded edges, per tile, on shapes derived from its block:
  // interior-only (every workgroup inside, K a multiple of BK), edge-only (one workgroup past both
  // edges), mixed with K % 4 != 0 and with K not a multiple of BK, and 1×1×1.
  for (const [tileName, tile] of Object.entries(GEMM_TILES)) {
    const b = tileBlock(tile);
    const forms: [string, number, number, number, GemmEpilogue, boolean][] = [
      // [what, M, K, N, epilogue, also with one copy]
      ['interior-only', 2 * b.m, 3 * tile.bk, 2 * b.n, 'gelu', true],
      ['edge-only', b.m - 3, 2 * tile.bk, b.n - 1, 'none', true],
      ['mixed, K % 4 != 0', b.m + 5, 2 * tile.bk + 3, b.n + 3, 'residual', true],
      ['mixed, K % BK != 0', 2 * b.m - 1, tile.bk + 4, b.n + 4, 'quick_gelu', false],
      ['1×1×1', 1, 1, 1, 'gelu_tanh', false],
    ];
    for (const [what, M, K, N, epilogue, single] of forms)
      for (const buffers of single ? ([undefined, 1] as const) : ([undefined] as const)) {
        const t: GemmTile = buffers ? { ...tile, buffers } : tile;
        it(`loop ${tileName}${buffers ? ' buffers 1' : ''}: ${what} M=${M} K=${K} N=${N} epilogue=${epilogue}`, async () => {
          const device = await testDevice();
          if (tileWorkgroupBytes(tile) > device.limits.maxComputeWorkgroupStorageSize) return; // refused: the error test below
          await checkGemm(M, K, N, epilogue, M * 3 + K + N, t);
        });
      }
  }

  it('double buffering: two copies where they fit, one where not; an explicit 2 that does not fit is refused', async () => {
    const device = await testDevice();
    const limits = { maxComputeWorkgroupStorageSize: 32768 };
    expect(tileBuffers(limits, GEMM_TILES['128x128k8']!)).toBe(2); // 16896 bytes doubled
    expect(tileBuffers(limits, GEMM_TILES['128x128k16']!)).toBe(1); // 33792 doubled
    expect(tileBuffers({ maxComputeWorkgroupStorageSize: 16384 }, GEMM_TILES['128x128k8']!)).toBe(1);
    expect(tileBuffers(limits, { ...GEMM_TILES['128x128k8']!, buffers: 1 })).toBe(1);
    expect(tileWorkgroupBytes({ ...GEMM_TILES['128x128k8']!, buffers: 2 })).toBe(
      2 * tileWorkgroupBytes(GEMM_TILES['128x128k8']!),
    );
    expect(tileQuad(GEMM_TILES['64x64k16']!, 7)).toBe(false);
    expect(tileQuad(GEMM_TILES['64x64k16']!, 8)).toBe(true);
    expect(tileQuad(GEMM_TILES['128x128k8p']!, 8)).toBe(false); // 4 prefetch vec4s per operand, not 1
    const over = { wgX: 16, wgY: 16, bk: 16, buffers: 2 as const };
    if (tileWorkgroupBytes(over) > device.limits.maxComputeWorkgroupStorageSize) {
      const args = {
        x: upload(device, new Float32Array(4), [1, 4]),
        w: upload(device, new Float32Array(4), [1, 4]),
        bias: null,
        y: poisoned(device, [1, 1]),
      };
      expect(() => gemm(device, { ...args, tile: over })).toThrow(
        /tile 128x128k16b2 needs 33792 bytes of workgroup memory \(2 copies\)/,
      );
    }
    expect(() => checkTile(device, 'gemm', { wgX: 8, wgY: 8, bk: 6 })).toThrow(/bk must be a multiple of 4/);
  });

  it('a tile over the device limits is refused, naming the tile and the limit', async () => {
    const device = await testDevice();
    const args = {
      x: upload(device, new Float32Array(4), [1, 4]),
      w: upload(device, new Float32Array(4), [1, 4]),
      bias: null,
      y: poisoned(device, [1, 1]),
    };
    expect(() => gemm(device, { ...args, tile: { wgX: 64, wgY: 64, bk: 8 } })).toThrow(
      /tile 512x512k8 needs 64×64 invocations/,
    );
    expect(() => gemm(device, { ...args, tile: { wgX: 16, wgY: 16, bk: 512 } })).toThrow(
      /maxComputeWorkgroupStorageSize/,
    );
    expect(() => gemm(device, { ...args, tile: { wgX: 0, wgY: 8, bk: 8 } })).toThrow(KernelArgumentError);
    expect(() => gemm(device, { ...args, tile: { wgX: 4, wgY: 4, bk: 64, prefetch: true } })).toThrow(
      /32x32k64p would prefetch 32 vec4s/,
    );
  });
});

describe('gemm tile choice (gemmTileFor)', () => {
  it('picks a runnable tile per shape: the largest block for a large output, the smallest for a tiny one; setGemmTile overrides', async () => {
    const device = await testDevice();
    const area = (t: { wgX: number; wgY: number }) => t.wgX * t.wgY;
    const big = gemmTileFor(device, { m: 100000, n: 100000 });
    const tiny = gemmTileFor(device, { m: 1, n: 1 });
    for (const t of [big, tiny]) expect(() => checkTile(device, 'gemm', t)).not.toThrow();
    expect(area(big)).toBeGreaterThan(area(tiny));
    try {
      setGemmTile(device, GEMM_TILES['64x128k16']!);
      expect(gemmTileFor(device, { m: 100000, n: 100000 })).toBe(GEMM_TILES['64x128k16']);
      expect(() => setGemmTile(device, { wgX: 64, wgY: 64, bk: 8 })).toThrow(/tile 512x512k8/);
    } finally {
      setGemmTile(device, null);
    }
    expect(gemmTileFor(device, { m: 100000, n: 100000 })).toBe(big);
  });
});

// f16 and q8 weights (weight-format.ts) through both buffer variants, shapes that are not tile or
// step multiples (K odd or not a multiple of 8 / 16: padded packed rows), each epilogue (the q8 scale
// is applied in the store, before bias and activation), each against the float64 reference of the
// dequantized weight. One epilogue per shape: the weight decoding does not depend on it, and each
// specialisation costs a shader compile. f16 both ways: packed u32 words (every device) and the
// native_f16 builds (WGSL f16, where the device has shader-f16).
for (const [dtype, f16Loads] of [
  ['f16', 'packed'],
  ['f16', 'native'],
  ['q8', undefined],
] as const) {
  describe(`gemm with ${dtype} weights${f16Loads ? ` (${f16Loads} loads)` : ''}`, () => {
    const cases: [number, number, number, GemmEpilogue][] = [
      [1, 192, 576, 'none'],
      [37, 288, 288, 'gelu'],
      [197, 1076, 193, 'residual'],
      [5, 538, 144, 'gelu_tanh'],
      [130, 7, 3, 'residual'],
      [17, 12, 33, 'quick_gelu'],
      [128, 256, 128, 'gelu'], // interior-only for every 64×64 and 128×128 block: the compare-free w_quad
    ];
    const skipNative = async (ctx: { skip(note: string): void }) => {
      const device = await testDevice();
      if (f16Loads === 'native' && !device.features.has('shader-f16')) {
        ctx.skip('no shader-f16 on this adapter: native f16 loads not run');
        return true;
      }
      return false;
    };
    for (const [M, K, N, epilogue] of cases) {
      const seed = M * 7 + K * 13 + N + epilogue.length + dtype.length;
      it(`tiled: M=${M} K=${K} N=${N} epilogue=${epilogue}`, async (ctx) => {
        if (await skipNative(ctx)) return;
        await checkGemm(M, K, N, epilogue, seed, undefined, 'tiled', dtype, f16Loads);
      });
      it(`subgroup: M=${M} K=${K} N=${N} epilogue=${epilogue}`, async (ctx) => {
        const device = await testDevice();
        if (!canRunSubgroupGemm(device))
          return ctx.skip('no 8-lane subgroups on this adapter: subgroup variant not run');
        if (await skipNative(ctx)) return;
        await checkGemm(M, K, N, epilogue, seed, undefined, 'subgroup', dtype, f16Loads);
      });
    }
    // A plain and a prefetching tile (fetch_tiles reads w through the same decoder).
    for (const tileName of ['64x64k16', '128x128k8p'] as const) {
      const tile = GEMM_TILES[tileName]!;
      it(`tile ${tileName}: M=197 K=1076 N=193 epilogue=residual`, async (ctx) => {
        const device = await testDevice();
        if (tileWorkgroupBytes(tile) > device.limits.maxComputeWorkgroupStorageSize) return;
        if (await skipNative(ctx)) return;
        await checkGemm(197, 1076, 193, 'residual', 5, tile, 'tiled', dtype, f16Loads);
      });
    }
  });
}

it('f16Loads: an unknown value is refused, naming the argument', async () => {
  const device = await testDevice();
  const K = 8;
  const w = uploadWeight(device, new Uint16Array(2 * K), 2, K);
  expect(() =>
    gemm(device, {
      x: upload(device, new Float32Array(K), [1, K]),
      w,
      bias: null,
      y: poisoned(device, [1, 2]),
      f16Loads: 'fast' as F16Loads,
    }),
  ).toThrow(/argument 'f16Loads': must be 'native' or 'packed', got "fast"/);
});
