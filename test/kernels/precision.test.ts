// precision 'f16': the f16 builds of the tiled GEMM and of flash attention (tools/embed-wgsl.mjs
// //!math; operands rounded to f16 in workgroup memory, products summed in f16 over 8 terms, then in
// f32), against the float64 references (reference/gemm.ts, reference/attention.ts).
//
// Two kinds of case, each with its tolerance:
// - exact data: small dyadic values (x in halves up to 1, f32 / f16 weights in eighths up to 1/2, q8
//   codes up to 127, v in quarters) whose f16 roundings, products and 8-term f16 sums are all exact
//   (chunk sums ≤ 4 in steps of 1/16, or ≤ 1016 in halves for q8: inside f16's 11 significant bits),
//   so the f16 build must meet the f32 kernels' own bound (gemmRef, attentionRef with precision
//   'f32'). A wrong index, a lost k-step or a missed chunk flush errs by at least one step, 1/16 —
//   thousands of times that bound.
// - random normal data: the f16 bounds (f16PrecisionBoundAt, attentionRef's 'f16' precision), which
//   hold for any rounding direction; these check what the exact data cannot: the roundings themselves,
//   and no overflow or NaN at the magnitudes of a ViT's activations.
import { describe, expect, it } from 'vitest';
import { gemm, type GemmEpilogue } from '../../src/kernels/gemm.js';
import { gemmSplitKReduce } from '../../src/kernels/gemm-splitk-reduce.js';
import { attention } from '../../src/kernels/attention.js';
import { GEMM_TILES, type GemmTile } from '../../src/kernels/gemm-tile.js';
import { KernelArgumentError } from '../../src/errors.js';
import { f16PrecisionBoundAt, gemmRef } from '../../reference/gemm.js';
import { attentionRef } from '../../reference/attention.js';
import { uploadWeight } from '../../src/kernels/program/harness.js';
import type { WeightDType } from '../../src/kernels/program/types.js';
import { poisoned, readback, rng, run, testDevice, upload, weightAs, worstRatio } from '../helpers/gpu.js';

const hasF16 = async () => (await testDevice()).features.has('shader-f16');
const NEEDS = 'needs shader-f16';

/** Seeded integers in [-r, r], divided by `div`. */
function dyadic(seed: number, n: number, r: number, div: number): Float32Array {
  const g = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.max(-r, Math.min(r, Math.round(g.normal() * (r / 2)))) / div;
  return a;
}

interface GemmCase {
  M: number;
  K: number;
  N: number;
  epilogue: GemmEpilogue;
  tile?: GemmTile;
  dtype?: WeightDType;
  splitK?: number;
  exact: boolean;
  seed: number;
}

async function checkGemm(c: GemmCase): Promise<void> {
  const device = await testDevice();
  const { M, K, N, epilogue, tile, dtype = 'f32', splitK = 1, exact, seed } = c;
  const r = rng(seed);
  // q8 codes are the weight's values / its row scale (up to 127): x then in halves keeps the sums exact.
  const x = exact ? dyadic(seed, M * K, 2, 2) : r.normals(M * K);
  const wRaw = exact ? dyadic(seed + 1, N * K, 4, 8) : r.normals(N * K, 1 / Math.sqrt(K));
  const wq = weightAs(dtype, wRaw, N, K);
  const b = exact ? dyadic(seed + 2, N, 8, 4) : r.normals(N, 0.5);
  const y0 = exact ? dyadic(seed + 3, M * N, 8, 4) : r.normals(M * N);
  const w = uploadWeight(device, wq.stored, N, K);
  const xt = upload(device, x, [M, K]);
  const bt = upload(device, b, [N]);
  const y = epilogue === 'residual' ? upload(device, y0, [M, N]) : poisoned(device, [M, N]);
  if (splitK > 1) {
    const partials = poisoned(device, [splitK, M, N]);
    await run(
      device,
      gemm(device, { x: xt, w, bias: null, y: partials, tile, splitK, precision: 'f16' }),
      gemmSplitKReduce(device, { partials, bias: bt, y, epilogue, scale: w.scale ?? null }),
    );
  } else {
    await run(device, gemm(device, { x: xt, w, bias: bt, y, epilogue, tile, variant: 'tiled', precision: 'f16' }));
  }
  const got = await readback(device, y);
  const ref = gemmRef(x, M, K, wq.values, N, b, epilogue, y0);
  // q8: the kernel sums x·code, the scale applied after; the bound of x·(code·scale) is that sum's, scaled.
  const bound = (i: number) =>
    exact ? ref.bound[i]! : f16PrecisionBoundAt(x, K, wq.values, epilogue, ref.bound[i]!, Math.floor(i / N), i % N);
  const { ratio, index } = worstRatio(got, ref.y, bound);
  expect(ratio, `worst at ${index}: got ${got[index]}, want ${ref.y[index]}`).toBeLessThanOrEqual(1);
}

describe("gemm precision 'f16' (the tiled variant's f16 build)", () => {
  // Tiles of every k-step depth (BK 32, 16, 8: 4, 2 and 1 f16 chunks per step), with and without
  // prefetch, one and two tile copies, 64- to 512-invocation workgroups, on a shape with edge
  // workgroups in M and N and K not a multiple of BK (nor of 4 on two of them: the scalar staging
  // path); the epilogues spread over the tiles. The f16 build shares the f32 one's indexing, which
  // gemm.test.ts checks on every tile; what differs is the product and the chunk flush, which
  // depend on BK and the loop form only.
  const EPILOGUES: GemmEpilogue[] = ['none', 'gelu', 'residual', 'gelu_tanh', 'quick_gelu'];
  const tiles = ['64x64k32', '64x64k16', '128x64k16p', '128x128k8p', '32x64k16p', '256x128k8', '64x64k32p'].map(
    (n) => [n, GEMM_TILES[n]!] as const,
  );
  for (const [i, [name, tile]] of tiles.entries()) {
    const K = i % 3 === 1 ? 201 : 200;
    const epilogue = EPILOGUES[i % EPILOGUES.length]!;
    it(`exact data, tile ${name}: M=70 K=${K} N=77 epilogue=${epilogue}`, async (ctx) => {
      if (!(await hasF16())) return ctx.skip(NEEDS);
      await checkGemm({ M: 70, K, N: 77, epilogue, tile, exact: true, seed: 10 + i });
    });
  }
  it('exact data, one copy of the tiles (buffers 1), interior workgroups only: M=128 K=256 N=128', async (ctx) => {
    if (!(await hasF16())) return ctx.skip(NEEDS);
    await checkGemm({
      M: 128,
      K: 256,
      N: 128,
      epilogue: 'none',
      tile: { ...GEMM_TILES['64x64k16']!, buffers: 1 },
      exact: true,
      seed: 40,
    });
  });
  for (const dtype of ['f16', 'q8'] as const) {
    it(`exact data, ${dtype} weights: M=33 K=136 N=40`, async (ctx) => {
      if (!(await hasF16())) return ctx.skip(NEEDS);
      await checkGemm({ M: 33, K: 136, N: 40, epilogue: 'gelu', dtype, exact: true, seed: 41 });
    });
  }
  it('exact data, split-K S=3 + gemm_splitk_reduce: M=37 K=300 N=70', async (ctx) => {
    if (!(await hasF16())) return ctx.skip(NEEDS);
    await checkGemm({
      M: 37,
      K: 300,
      N: 70,
      epilogue: 'residual',
      tile: GEMM_TILES['64x64k16'],
      splitK: 3,
      exact: true,
      seed: 42,
    });
  });
  // ViT-B's qkv and fc2 shapes (fewer rows): K = 768 and 3072 of normal data, the f16 bound.
  for (const [M, K, N, epilogue, dtype] of [
    [50, 768, 96, 'none', 'f32'],
    [20, 3072, 64, 'residual', 'f16'],
    [45, 770, 33, 'gelu', 'q8'],
  ] as const) {
    it(`normal data, ${dtype} weights: M=${M} K=${K} N=${N} epilogue=${epilogue}`, async (ctx) => {
      if (!(await hasF16())) return ctx.skip(NEEDS);
      await checkGemm({ M, K, N, epilogue, dtype, exact: false, seed: M + K });
    });
  }

  it('refuses an unknown precision, the subgroup variant and native f16 loads with f16, by name', async () => {
    const device = await testDevice();
    const x = upload(device, new Float32Array(8 * 16), [8, 16]);
    const w = upload(device, new Float32Array(4 * 16), [4, 16]);
    const y = poisoned(device, [8, 4]);
    const call = (extra: object) => () => gemm(device, { x, w, bias: null, y, ...extra });
    expect(call({ precision: 'f64' })).toThrow(KernelArgumentError);
    expect(call({ precision: 'f64' })).toThrow(/gemm: argument 'precision': must be 'f32' or 'f16', got "f64"/);
    if (!device.features.has('shader-f16')) {
      expect(call({ precision: 'f16' })).toThrow(/argument 'precision': 'f16' needs the shader-f16 feature/);
      return;
    }
    expect(call({ precision: 'f16', variant: 'subgroup' })).toThrow(
      /argument 'variant': 'subgroup' has no f16 precision build/,
    );
    expect(call({ precision: 'f16', f16Loads: 'native' })).toThrow(
      /argument 'f16Loads': precision 'f16' reads f16 weights packed/,
    );
  });
});

interface AttentionCase {
  B: number;
  N: number;
  heads: number;
  D: number;
  causal?: boolean;
  keySplits?: number;
  exact: boolean;
  seed: number;
}

async function checkAttention(c: AttentionCase): Promise<void> {
  const device = await testDevice();
  const { B, N, heads, D, causal = false, keySplits, exact, seed } = c;
  const W = heads * D;
  let qkv: Float32Array;
  if (exact) {
    // q = 0: every score 0, every p exactly 1; v in quarters up to 2 (k random): the output is the
    // mean of the values a row attends to, its f16 sums of 8 exact.
    qkv = rng(seed).normals(B * N * 3 * W);
    const v = dyadic(seed + 1, B * N * W, 8, 4);
    for (let t = 0; t < B * N; t++) {
      qkv.fill(0, t * 3 * W, t * 3 * W + W);
      qkv.set(v.subarray(t * W, (t + 1) * W), t * 3 * W + 2 * W);
    }
  } else {
    qkv = rng(seed).normals(B * N * 3 * W);
  }
  const out = poisoned(device, [B, N, W]);
  await run(
    device,
    attention(device, { qkv: upload(device, qkv, [B, N, 3 * W]), out, heads, causal, keySplits, precision: 'f16' }),
  );
  const got = await readback(device, out);
  const ref = attentionRef(qkv, B, N, W, heads, undefined, causal, exact ? 'f32' : 'f16');
  const { ratio, index } = worstRatio(got, ref.out, (i) => ref.bound[i]!);
  expect(ratio, `worst at ${index}: got ${got[index]}, want ${ref.out[index]}`).toBeLessThanOrEqual(1);
}

describe("attention precision 'f16' (the flash variant's f16 build)", () => {
  // Head dims 32, 64 (key blocks of 32) and 128 (blocks of 16), N not a multiple of the 32-query
  // tile, causal, and the split over keys with its combine pass.
  const cases: Omit<AttentionCase, 'exact' | 'seed'>[] = [
    { B: 2, N: 37, heads: 2, D: 32 },
    { B: 1, N: 197, heads: 3, D: 64 },
    { B: 1, N: 77, heads: 2, D: 64, causal: true },
    { B: 1, N: 50, heads: 1, D: 128 },
    { B: 1, N: 130, heads: 2, D: 64, keySplits: 3 },
  ];
  for (const [i, c] of cases.entries()) {
    for (const exact of [true, false]) {
      const what = `${exact ? 'exact' : 'normal'} data: B=${c.B} N=${c.N} heads=${c.heads} D=${c.D}${c.causal ? ' causal' : ''}${c.keySplits ? ` keySplits=${c.keySplits}` : ''}`;
      it(what, async (ctx) => {
        if (!(await hasF16())) return ctx.skip(NEEDS);
        await checkAttention({ ...c, exact, seed: 100 + i });
      });
    }
  }

  it('refuses an unknown precision and the variants without an f16 build, by name', async () => {
    const device = await testDevice();
    const qkv = upload(device, new Float32Array(4 * 3 * 64), [1, 4, 3 * 64]);
    const out = poisoned(device, [1, 4, 64]);
    expect(() => attention(device, { qkv, out, heads: 1, precision: 'half' as never })).toThrow(
      /attention: argument 'precision': must be 'f32' or 'f16', got "half"/,
    );
    if (!device.features.has('shader-f16')) return;
    expect(() => attention(device, { qkv, out, heads: 1, precision: 'f16', variant: 'tiled' })).toThrow(
      /argument 'variant': 'tiled' has no f16 precision build/,
    );
  });
});
