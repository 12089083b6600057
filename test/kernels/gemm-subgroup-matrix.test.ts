// The 'subgroup_matrix' GEMM (src/wgsl/gemm_subgroup_matrix.wgsl, src/kernels/gemm-subgroup-matrix.ts):
// the configuration choice and the template step (pure, run everywhere), the refusal on a device
// without the feature, and the kernel against the float64 reference (reference/gemm.ts) on a device
// with chromium-experimental-subgroup-matrix — skipped, and named so, everywhere else (lavapipe has
// no such feature: the GPU kit's `vitest` step runs it, docs/gpu.md).
import { describe, expect, it, vi } from 'vitest';
import { gemm, gemmVariantFor, type GemmEpilogue } from '../../src/kernels/gemm.js';
import {
  gemmSubgroupMatrixKernel,
  gemmSubgroupMatrixTemplate,
  specialiseSubgroupMatrix,
  subgroupMatrixBlock,
} from '../../src/kernels/gemm-subgroup-matrix.js';
import {
  chooseSubgroupMatrixConfig,
  subgroupMatrixConfigFor,
  type SubgroupMatrixConfig,
} from '../../src/kernels/choose/subgroup-matrix.js';
import { signatureOf } from '../../src/kernels/program/reflect.js';
import { uploadWeight } from '../../src/kernels/program/harness.js';
import type { WeightDType } from '../../src/kernels/program/types.js';
import { KernelArgumentError } from '../../src/errors.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/half.js';
import { gemmRef, subgroupMatrixBoundAt } from '../../reference/gemm.js';
import { poisoned, readback, rng, run, testDeviceInfo, upload, weightAs, worstRatio } from '../helpers/gpu.js';

const cfg = (
  componentType: SubgroupMatrixConfig['componentType'],
  resultComponentType: SubgroupMatrixConfig['resultComponentType'],
  M: number,
  N: number,
  K: number,
): SubgroupMatrixConfig => ({ componentType, resultComponentType, M, N, K });

describe('subgroup-matrix configuration choice (chooseSubgroupMatrixConfig)', () => {
  it('takes f16 operands with an f32 result where offered (NVIDIA on Vulkan: 16x16x16), in the adapter’s order', () => {
    const nvidia = [cfg('f16', 'f16', 16, 16, 16), cfg('f16', 'f32', 16, 16, 16), cfg('f16', 'f32', 16, 8, 16)];
    expect(chooseSubgroupMatrixConfig(nvidia)).toEqual(cfg('f16', 'f32', 16, 16, 16));
    expect(chooseSubgroupMatrixConfig([cfg('u8', 'u32', 16, 16, 32), cfg('f16', 'f32', 8, 16, 16)])).toEqual(
      cfg('f16', 'f32', 8, 16, 16),
    );
  });
  it('else an f16 result (Apple: f32 operands are not taken, x and w are staged as f16)', () => {
    const apple = [cfg('f32', 'f32', 8, 8, 8), cfg('f16', 'f16', 8, 8, 8)];
    expect(chooseSubgroupMatrixConfig(apple)).toEqual(cfg('f16', 'f16', 8, 8, 8));
  });
  it('none where no configuration fits: none offered, integer ones only, sides past 32', () => {
    expect(chooseSubgroupMatrixConfig([])).toBeNull();
    expect(chooseSubgroupMatrixConfig([cfg('i8', 'i32', 8, 8, 32), cfg('f32', 'f32', 8, 8, 8)])).toBeNull();
    expect(chooseSubgroupMatrixConfig([cfg('f16', 'f32', 64, 64, 16)])).toBeNull();
  });
});

describe('the template step (specialiseSubgroupMatrix)', () => {
  const configs = [cfg('f16', 'f32', 16, 16, 16), cfg('f16', 'f16', 8, 8, 8), cfg('f16', 'f32', 8, 16, 32)];
  it.for(configs.map((c) => [`${c.resultComponentType} ${c.M}x${c.N}x${c.K}`, c] as const))(
    '%s: every placeholder replaced, the matrix types in Dawn’s order (left<T, K, M>, right<T, N, K>, result<T, N, M>)',
    ([, c]) => {
      const wgsl = gemmSubgroupMatrixKernel(c).wgsl;
      expect(wgsl.replace(/\/\/.*$/gm, '')).not.toMatch(/\bSGM_/);
      const types = new Set(wgsl.replace(/\/\/.*$/gm, '').match(/subgroup_matrix_\w+<[^<>]*>/g));
      expect([...types].sort()).toEqual([
        `subgroup_matrix_left<f16, ${c.K}, ${c.M}>`,
        `subgroup_matrix_result<${c.resultComponentType}, ${c.N}, ${c.M}>`,
        `subgroup_matrix_right<f16, ${c.N}, ${c.K}>`,
      ]);
      expect(wgsl).toMatch(/^enable chromium_experimental_subgroup_matrix;$/m);
      expect(wgsl).toMatch(/^diagnostic\(off, chromium\.subgroup_matrix_uniformity\);$/m);
      expect(wgsl).toMatch(new RegExp(`var<workgroup> Cs: array<${c.resultComponentType}, BM \\* BN>;`));
      expect(wgsl.match(/\{/g)!.length).toBe(wgsl.match(/\}/g)!.length);
      // Its signature is the GEMM's (the same bindings as gemm.wgsl) plus the workgroup size.
      const sig = signatureOf(gemmSubgroupMatrixKernel(c));
      expect(sig.storage.map((s) => s.name)).toEqual(['x', 'w', 'bias', 'y', 'w_scale']);
      expect(sig.uniform?.members.map((m) => m.name)).toEqual(['M', 'N', 'K']);
      expect(sig.overrides).toEqual(expect.arrayContaining(['EPILOGUE', 'HAS_BIAS', 'W_DTYPE', 'WG']));
    },
  );
  it('one kernel (pipeline-cache name) per configuration', () => {
    const a = gemmSubgroupMatrixKernel(configs[0]!);
    expect(gemmSubgroupMatrixKernel({ ...configs[0]! })).toBe(a);
    expect(gemmSubgroupMatrixKernel(configs[1]!).name).not.toBe(a.name);
    expect(a.name).toBe('gemm_subgroup_matrix/f16->f32/16x16x16');
  });
  it('refuses a configuration it does not take, and a template without a placeholder', () => {
    expect(() => specialiseSubgroupMatrix(gemmSubgroupMatrixTemplate.wgsl, cfg('f32', 'f32', 8, 8, 8))).toThrow(
      /f16 operands/,
    );
    expect(() => specialiseSubgroupMatrix(gemmSubgroupMatrixTemplate.wgsl, cfg('f16', 'i32', 8, 8, 8))).toThrow(
      /f16 operands/,
    );
    expect(() => specialiseSubgroupMatrix('const A = SGM_M;', cfg('f16', 'f32', 8, 8, 8))).toThrow(/has no SGM_RESULT/);
  });
  it('the workgroup block: 4 matrices a side, k 2 matrices deep; its workgroup memory', () => {
    // 8x8x8 f16: As, Bs 32 × 16 halves each, Cs 32 × 32 halves; 16x16x16 f32: 64 × 32 halves twice, 64 × 64 floats.
    expect(subgroupMatrixBlock(cfg('f16', 'f16', 8, 8, 8))).toEqual({ m: 32, n: 32, k: 16, bytes: 4096 });
    expect(subgroupMatrixBlock(cfg('f16', 'f32', 16, 16, 16))).toEqual({ m: 64, n: 64, k: 32, bytes: 24576 });
  });
});

const info = await testDeviceInfo();
const config = subgroupMatrixConfigFor(info.device);
const NEEDS = 'needs chromium-experimental-subgroup-matrix';

describe('gemm subgroup_matrix on a device without the feature', () => {
  // What Tint can check here: with the enable removed it parses the module up to the first
  // subgroup-matrix type, and knows the uniformity rule the module turns off (an unknown rule warns).
  it.skipIf(config !== null || !info.runtime.endsWith('-dawn'))(
    'Tint (Dawn) parses it up to its first matrix type and knows its diagnostic rule',
    async () => {
      const wgsl = gemmSubgroupMatrixKernel(cfg('f16', 'f32', 8, 8, 8)).wgsl;
      const messages = async (code: string) => {
        info.device.pushErrorScope('validation');
        const m = await info.device.createShaderModule({ code }).getCompilationInfo();
        await info.device.popErrorScope();
        return m.messages.map((x) => ({ type: x.type, line: x.lineNum, text: x.message.split('\n')[0]! }));
      };
      const stripped = wgsl.replace(/^enable chromium_experimental_subgroup_matrix;$/m, '');
      const firstType = stripped.split('\n').findIndex((l) => /^[^/]*subgroup_matrix_result</.test(l)) + 1;
      expect(await messages(stripped)).toEqual([
        {
          type: 'error',
          line: firstType,
          text: "use of 'subgroup_matrix_*' requires enabling extension 'chromium_experimental_subgroup_matrix'",
        },
      ]);
      const bogus = await messages(stripped.replace('chromium.subgroup_matrix_uniformity', 'chromium.no_such_rule'));
      expect(bogus.map((m) => m.type)).toEqual(['warning', 'error']);
    },
  );

  it.skipIf(config !== null)('is refused, naming what it needs (lavapipe, and GPUs without it)', () => {
    const d = info.device;
    const t = (shape: number[]) => upload(d, new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
    expect(() => gemm(d, { x: t([4, 8]), w: t([3, 8]), bias: null, y: t([4, 3]), variant: 'subgroup_matrix' })).toThrow(
      KernelArgumentError,
    );
    expect(() => gemm(d, { x: t([4, 8]), w: t([3, 8]), bias: null, y: t([4, 3]), variant: 'subgroup_matrix' })).toThrow(
      /'subgroup_matrix' needs chromium-experimental-subgroup-matrix/,
    );
    expect(gemmVariantFor(d)).not.toBe('subgroup_matrix');
  });
});

// The tolerance: subgroupMatrixBoundAt (reference/gemm.ts) has it with its derivation.

async function checkSubgroupMatrixGemm(
  M: number,
  K: number,
  N: number,
  epilogue: GemmEpilogue,
  seed: number,
  dtype: WeightDType = 'f32',
  bias = true,
): Promise<void> {
  const device = info.device;
  const r = rng(seed);
  const x = r.normals(M * K),
    wq = weightAs(dtype, r.normals(N * K, 1 / Math.sqrt(K)), N, K),
    w = wq.values,
    b = bias ? r.normals(N, 0.5) : null;
  const y0 = r.normals(M * N);
  const y = epilogue === 'residual' ? upload(device, y0, [M, N]) : poisoned(device, [M, N]);
  await run(
    device,
    gemm(device, {
      x: upload(device, x, [M, K]),
      w: uploadWeight(device, wq.stored, N, K),
      bias: b ? upload(device, b, [N]) : null,
      y,
      epilogue,
      variant: 'subgroup_matrix',
    }),
  );
  const got = await readback(device, y);
  const ref = gemmRef(x, M, K, w, N, b, epilogue, y0);
  const bound = subgroupMatrixBound(x, w, M, K, N, epilogue, ref.bound, config!.resultComponentType as 'f32' | 'f16');
  const { ratio, index } = worstRatio(got, ref.y, (i) => bound[i]!);
  expect(ratio, `worst at ${index}: got ${got[index]}, want ${ref.y[index]}`).toBeLessThanOrEqual(1);
}

/** The allowed |error| of each element (subgroupMatrixBoundAt), given gemmRef's f32 bound `f32Bound`. */
function subgroupMatrixBound(
  x: Float32Array,
  w: Float32Array,
  M: number,
  K: number,
  N: number,
  epilogue: GemmEpilogue,
  f32Bound: Float64Array,
  accumulator: 'f32' | 'f16',
): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++)
      out[m * N + n] = subgroupMatrixBoundAt(x, K, w, epilogue, accumulator, f32Bound[m * N + n]!, m, n);
  return out;
}

describe('the tolerance (checked on a CPU model of the kernel’s arithmetic)', () => {
  // x and w rounded to f16, the products summed in f32 (or f16) in k order, bias added in f32.
  const emulate = (
    x: Float32Array,
    w: Float32Array,
    b: Float32Array,
    M: number,
    K: number,
    N: number,
    result: 'f32' | 'f16',
    skipK = -1,
  ) => {
    const round = result === 'f32' ? Math.fround : (v: number) => f16BitsToF32(f32ToF16Bits(v));
    const h = (v: number) => f16BitsToF32(f32ToF16Bits(v));
    const y = new Float32Array(M * N);
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let acc = 0;
        for (let k = 0; k < K; k++) if (k !== skipK) acc = round(acc + h(x[m * K + k]!) * h(w[n * K + k]!));
        y[m * N + n] = Math.fround(acc + b[n]!);
      }
    return y;
  };
  it.for(['f32', 'f16'] as const)('%s accumulation: passes the model, fails it with one k term dropped', (result) => {
    const [M, K, N] = [9, 300, 7];
    const r = rng(3);
    const x = r.normals(M * K),
      w = r.normals(N * K, 1 / Math.sqrt(K)),
      b = r.normals(N, 0.5);
    const ref = gemmRef(x, M, K, w, N, b, 'none');
    const bound = subgroupMatrixBound(x, w, M, K, N, 'none', ref.bound, result);
    expect(worstRatio(emulate(x, w, b, M, K, N, result), ref.y, (i) => bound[i]!).ratio).toBeLessThanOrEqual(1);
    if (result === 'f32')
      expect(worstRatio(emulate(x, w, b, M, K, N, result, 17), ref.y, (i) => bound[i]!).ratio).toBeGreaterThan(1);
  });
});

describe(`gemm subgroup_matrix (${config ? `on ${config.componentType}->${config.resultComponentType} ${config.M}x${config.N}x${config.K}` : NEEDS})`, () => {
  // Shapes that are and are not multiples of every block (32 × 32 × 16 at 8x8x8, 64 × 64 × 32 at 16x16x16).
  const shapes: [number, number, number][] = [
    [1, 8, 1],
    [37, 72, 45],
    [64, 64, 64],
    [197, 300, 130],
    [130, 17, 67],
    [5, 768, 96],
  ];
  const epilogues: GemmEpilogue[] = ['none', 'gelu', 'residual', 'gelu_tanh', 'quick_gelu'];
  const cases = shapes.flatMap(([M, K, N], i) => epilogues.map((e) => [`${M}x${K}x${N} ${e}`, M, K, N, e, i] as const));
  it.skipIf(!config).for(cases)(`%s matches the float64 reference (${NEEDS})`, async ([, M, K, N, e, i]) => {
    await checkSubgroupMatrixGemm(M, K, N, e, 100 + i);
  });
  it.skipIf(!config).for(['f16', 'q8'] as const)(`%s weights, and no bias (${NEEDS})`, async (dtype) => {
    await checkSubgroupMatrixGemm(37, 72, 45, 'gelu', 7, dtype);
    await checkSubgroupMatrixGemm(130, 17, 67, 'residual', 8, dtype, false);
  });
  it.skipIf(!config)(
    `is the GEMM chosen on this device with WGSL_VIT_SUBGROUP_MATRIX=on, not without (${NEEDS})`,
    () => {
      vi.stubEnv('WGSL_VIT_SUBGROUP_MATRIX', 'on');
      try {
        expect(gemmVariantFor(info.device)).toBe('subgroup_matrix');
      } finally {
        vi.unstubAllEnvs();
      }
      vi.stubEnv('WGSL_VIT_SUBGROUP_MATRIX', 'auto');
      try {
        expect(gemmVariantFor(info.device)).toBe('tiled');
      } finally {
        vi.unstubAllEnvs();
      }
    },
  );
});
