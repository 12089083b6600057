// program.ts: pipelines created ahead of time (Dispatch.prepare / pipelineForAsync) and override checks.
import { describe, expect, it } from 'vitest';
import { gemm, gemmKernel } from '../../src/kernels/gemm.js';
import { createDispatch, pipelineFor, pipelineForAsync } from '../../src/kernels/program/index.js';
import { gemmRef } from '../../reference/gemm.js';
import { poisoned, readback, rng, run, testDevice, testDeviceInfo, upload, worstRatio } from '../helpers/gpu.js';

describe('program', () => {
  it('prepare() creates one pipeline per key, shared by concurrent callers, and the prepared dispatch computes the same result', async () => {
    const device = await testDevice();
    const r = rng(5);
    const M = 9,
      K = 12,
      N = 5;
    const x = r.normals(M * K),
      w = r.normals(N * K);
    const tile = { wgX: 4, wgY: 4, bk: 4 }; // a key no other test uses, so this test creates it
    const make = () => {
      const y = poisoned(device, [M, N]);
      return {
        y,
        d: gemm(device, { x: upload(device, x, [M, K]), w: upload(device, w, [N, K]), bias: null, y, tile }),
      };
    };
    const a = make(),
      b = make();
    const overrides = { EPILOGUE: 0, HAS_BIAS: false, WG_X: 4, WG_Y: 4, BK: 4, PREFETCH: false };
    const [p1, p2] = await Promise.all([
      pipelineForAsync(device, gemmKernel, overrides),
      pipelineForAsync(device, gemmKernel, overrides),
      a.d.prepare!(),
      b.d.prepare!(),
    ]);
    expect(p1).toBe(p2);
    expect(pipelineFor(device, gemmKernel, overrides)).toBe(p1);
    await run(device, a.d);
    const got = await readback(device, a.y);
    const ref = gemmRef(x, M, K, w, N, null, 'none');
    expect(worstRatio(got, ref.y, (i) => ref.bound[i]!).ratio).toBeLessThanOrEqual(1);
  });

  it('a pipeline the device refuses rejects prepare() with a message naming the kernel', async () => {
    const { device, runtime } = await testDeviceInfo();
    // A workgroup of 0 invocations along x, caught only when the pipeline is made.
    await expect(pipelineForAsync(device, gemmKernel, { WG_X: 0, WG_Y: 1, BK: 8 })).rejects.toThrow(
      /kernel gemm: could not create its pipeline/,
    );
    // 2048 along x, over maxComputeWorkgroupSizeX: Dawn refuses it; Deno's wgpu does not check an
    // overridden workgroup size against the limits (docs/runtimes.md), so the kernels' own tile
    // checks (tileProblem) are what keep such a pipeline from being made there.
    if (runtime !== 'deno-wgpu')
      await expect(pipelineForAsync(device, gemmKernel, { WG_X: 2048, WG_Y: 1, BK: 8 })).rejects.toThrow(
        /kernel gemm: could not create its pipeline/,
      );
  });

  it('an unknown override constant is refused before anything is created', async () => {
    const device = await testDevice();
    const t = upload(device, new Float32Array(4), [1, 4]);
    expect(() =>
      createDispatch(device, gemmKernel, {
        overrides: { TILE: 3 },
        uniforms: { M: 1, N: 1, K: 4 },
        tensors: { x: t, w: t, bias: t, y: poisoned(device, [1, 1]), w_scale: t },
        workgroups: [1],
      }),
    ).toThrow(/unknown override constant TILE/);
  });
});

describe('wgslConst: numbers the host shares with a shader are read from the WGSL', () => {
  it('reads module-scope u32 constants and names the kernel when one is missing', async () => {
    const { wgslConst } = await import('../../src/kernels/program/index.js');
    const { gemmKernel } = await import('../../src/kernels/gemm.js');
    const { ATTENTION_MAX_HEAD_DIM, ATTENTION_VARIANTS } = await import('../../src/kernels/attention.js');
    expect(wgslConst(gemmKernel, 'EPILOGUE_GELU_TANH')).toBe(3);
    expect(wgslConst(gemmKernel, 'PER_INVOCATION')).toBe(8);
    expect(ATTENTION_MAX_HEAD_DIM).toBe(128);
    expect([ATTENTION_VARIANTS.broadcast.queryBlock, ATTENTION_VARIANTS.tiled.queryBlock]).toEqual([64, 32]);
    expect(() => wgslConst(gemmKernel, 'NOPE')).toThrow(/kernel gemm: no 'const NOPE: u32 = …;' in its WGSL/);
  });

  it('wgslWorkgroupSize reads @workgroup_size literals and consts, and refuses an override', async () => {
    const { wgslWorkgroupSize } = await import('../../src/kernels/program/index.js');
    const { texturePackKernel } = await import('../../src/kernels/texture-pack.js');
    const { layerNormTextureKernel } = await import('../../src/kernels/layernorm.js');
    const { attentionBroadcastKernel } = await import('../../src/kernels/attention.js');
    expect(wgslWorkgroupSize(texturePackKernel)).toEqual([64, 1, 1]);
    expect(wgslWorkgroupSize(layerNormTextureKernel)).toEqual([8, 1, 1]);
    expect(wgslWorkgroupSize(attentionBroadcastKernel)).toEqual([64, 1, 1]); // WG, a const
    const k = (wgsl: string) => ({ name: 'k', wgsl });
    expect(wgslWorkgroupSize(k('@compute @workgroup_size(8, 4u)\nfn main() {}'))).toEqual([8, 4, 1]);
    expect(() => wgslWorkgroupSize(k('override WG_X: u32 = 8u;\n@compute @workgroup_size(WG_X)'))).toThrow(
      /kernel k: its workgroup size WG_X is an override/,
    );
  });

  it("the W_DTYPE codes are _weight_format.wgsl's, the same in every kernel that includes it", async () => {
    const { wgslConst, W_DTYPE_CODE } = await import('../../src/kernels/program/index.js');
    const sources = await import('../../src/wgsl/sources.generated.js');
    const users = Object.entries(sources).filter(([, wgsl]) => /^const W_F32\b/m.test(wgsl));
    expect(users.map(([name]) => name)).toEqual(
      expect.arrayContaining(['gemmWgsl', 'embeddingWgsl', 'patchEmbedWgsl']),
    );
    for (const [name, wgsl] of users) {
      const code = (c: string) => wgslConst({ name, wgsl }, c);
      expect({ f32: code('W_F32'), f16: code('W_F16'), q8: code('W_Q8') }, name).toEqual(W_DTYPE_CODE);
    }
    expect(new Set(Object.values(W_DTYPE_CODE)).size).toBe(3);
  });
});

describe('encodeAlone', () => {
  it('records one dispatch in its own pass (mean_pool of a 1×2×4 tensor)', async () => {
    const { encodeAlone } = await import('../../src/kernels/program/index.js');
    const { meanPool } = await import('../../src/kernels/mean-pool.js');
    const { poisoned, readback, testDevice, upload } = await import('../helpers/gpu.js');
    const device = await testDevice();
    const y = poisoned(device, [1, 4]);
    const d = meanPool(device, {
      x: upload(device, Float32Array.from([9, 9, 9, 9, 1, 2, 3, 4]), [1, 2, 4]),
      y,
      skip: 1,
    });
    const enc = device.createCommandEncoder();
    encodeAlone(enc, d);
    device.queue.submit([enc.finish()]);
    expect(Array.from(await readback(device, y))).toEqual([1, 2, 3, 4]);
    d.destroy();
  });
});
