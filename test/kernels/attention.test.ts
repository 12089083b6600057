import { describe, expect, it } from 'vitest';
import {
  attention,
  attentionVariantFor,
  flashWorkgroupBytes,
  setAttentionVariant,
  ATTENTION_MAX_HEAD_DIM,
  ATTENTION_VARIANTS,
  type AttentionVariant,
} from '../../src/kernels/attention.js';
import { attentionTexture } from '../../src/kernels/attention-texture.js';
import { adapterTraits } from '../../src/kernels/choose/adapter.js';
import { ATTENTION_FLASH_WORKGROUP_BYTES } from '../../src/kernels/choose/choose.js';
import { ATTENTION_FAMILY, variantProblem } from '../../src/kernels/choose/variants.js';
import { uploadMatrixTexture } from '../../src/kernels/program/texture-matrix.js';
import { attentionRef } from '../../reference/attention.js';
import { poisoned, readback, rng, run, testDevice, trackBuffers, upload, worstRatio } from '../helpers/gpu.js';

/**
 * One attention call of `variant` on a [B, N, 3W] qkv; 'texture' takes qkv as a matrix texture and
 * is run one sequence per call (batch0 = b) when B > 1, as the graph runs a tall qkv in chunks.
 */
function attentionCall(
  device: GPUDevice,
  qkv: Float32Array,
  [B, N, W]: [number, number, number],
  out: ReturnType<typeof poisoned>,
  heads: number,
  variant: AttentionVariant,
  permuteLanes: boolean,
  causal = false,
) {
  if (variant !== 'texture')
    return [attention(device, { qkv: upload(device, qkv, [B, N, 3 * W]), out, heads, variant, permuteLanes, causal })];
  const per = N * 3 * W;
  return B === 1
    ? [attentionTexture(device, { qkv: uploadMatrixTexture(device, qkv, N, 3 * W), tokens: N, out, heads, causal })]
    : Array.from({ length: B }, (_, b) =>
        attentionTexture(device, {
          qkv: uploadMatrixTexture(device, qkv.subarray(b * per, (b + 1) * per), N, 3 * W),
          tokens: N,
          out,
          heads,
          batch0: b,
          causal,
        }),
      );
}

// Each variant, and the tiled and flash ones' test builds whose workgroup exchanges cross lockstep
// groups (on CPU adapters the only way a missing barrier in them changes a result).
const builds: [string, AttentionVariant, boolean][] = [
  ...(Object.keys(ATTENTION_VARIANTS) as AttentionVariant[]).map((v): [string, AttentionVariant, boolean] => [
    v,
    v,
    false,
  ]),
  ['tiled, lanes permuted', 'tiled', true],
  ['flash, lanes permuted', 'flash', true],
];
/**
 * A variant the adapter lacks a need for (ATTENTION_FAMILY: 'subgroup', 'texture' need 8-lane
 * subgroups) is skipped, and reported skipped (GPUs; lavapipe at LP_NATIVE_VECTOR_WIDTH=128).
 */
function skipWithoutSubgroupsOf8(
  ctx: { skip(note?: string): void },
  device: GPUDevice,
  variant: AttentionVariant,
): void {
  const problem = variantProblem(ATTENTION_FAMILY.variants[variant], variant, adapterTraits(device));
  if (problem) ctx.skip(`${problem}, which this adapter lacks: ${variant} not run`);
}

describe.each(builds)('attention (%s)', (_, variant, permuteLanes) => {
  // [B, N, heads, head_dim]: the family's head dims 64 (Ti..L), 72 (So400m), 80 (H), 88 (g), and
  // 8 and 128 (the smallest and largest allowed), 100 (25 vec4s: attention_broadcast's two slices
  // differ); N = 1, and N not a multiple of any query or key block (64/16 and 32/8 broadcast,
  // 32/32 tiled).
  const cases: [number, number, number, number][] = [
    [2, 37, 3, 64],
    [1, 1, 2, 64],
    [2, 197, 2, 72],
    [1, 257, 2, 80],
    [1, 401, 1, 88],
    [3, 17, 4, 8],
    [1, 70, 1, 128],
    [1, 45, 1, 100],
  ];
  it.for(cases)('B=%i N=%i heads=%i head_dim=%i', async ([B, N, heads, D], ctx) => {
    const device = await testDevice();
    skipWithoutSubgroupsOf8(ctx, device, variant);
    const W = heads * D;
    const r = rng(B * 100000 + N * 100 + D);
    // q and k with std 1 give scores of std ~1 after scaling: a peaked but not one-hot softmax.
    const qkv = r.normals(B * N * 3 * W);
    const out = poisoned(device, [B, N, W]);
    await run(device, ...attentionCall(device, qkv, [B, N, W], out, heads, variant, permuteLanes));
    const got = await readback(device, out);
    const ref = attentionRef(qkv, B, N, W, heads);
    const { ratio, index } = worstRatio(got, ref.out, (i) => ref.bound[i]!);
    expect(ratio, `worst at ${index}: got ${got[index]}, want ${ref.out[index]}`).toBeLessThanOrEqual(1);
  });

  // The causal mask (OpenAI-layout text towers): N = 77 (their context), N = 1, N crossing several
  // query and key blocks of every variant and not a multiple of any, head dims 8 … 128.
  const causalCases: [number, number, number, number][] = [
    [2, 77, 1, 64],
    [1, 1, 2, 64],
    [2, 37, 3, 64],
    [1, 197, 2, 72],
    [3, 17, 4, 8],
    [1, 70, 1, 128],
    [1, 45, 1, 100],
  ];
  it.for(causalCases)('causal: B=%i N=%i heads=%i head_dim=%i', async ([B, N, heads, D], ctx) => {
    const device = await testDevice();
    skipWithoutSubgroupsOf8(ctx, device, variant);
    const W = heads * D;
    const qkv = rng(B * 100000 + N * 100 + D + 7).normals(B * N * 3 * W);
    const out = poisoned(device, [B, N, W]);
    await run(device, ...attentionCall(device, qkv, [B, N, W], out, heads, variant, permuteLanes, true));
    const got = await readback(device, out);
    const ref = attentionRef(qkv, B, N, W, heads, undefined, true);
    const { ratio, index } = worstRatio(got, ref.out, (i) => ref.bound[i]!);
    expect(ratio, `worst at ${index}: got ${got[index]}, want ${ref.out[index]}`).toBeLessThanOrEqual(1);
  });

  it('causal: the keys after a query block are never read (NaN there leaves the earlier rows exact)', async (ctx) => {
    // Rows 128 .. 199 of q, k and v are NaN. Every variant's query blocks (64, 32, 16, 8 queries)
    // end at 128, so the rows before it must come out exact: a kernel that scored those keys and
    // masked them would still multiply their NaN values by p = 0 and write NaN.
    const device = await testDevice();
    skipWithoutSubgroupsOf8(ctx, device, variant);
    const B = 1,
      N = 200,
      heads = 2,
      W = 128,
      cut = 128;
    const qkv = rng(29).normals(B * N * 3 * W);
    const poisonedQkv = qkv.slice();
    poisonedQkv.fill(NaN, cut * 3 * W);
    const out = poisoned(device, [B, N, W]);
    await run(device, ...attentionCall(device, poisonedQkv, [B, N, W], out, heads, variant, permuteLanes, true));
    const got = (await readback(device, out)).subarray(0, cut * W);
    const ref = attentionRef(qkv, B, N, W, heads, undefined, true);
    expect(got.every(Number.isFinite)).toBe(true);
    const { ratio, index } = worstRatio(got, ref.out.subarray(0, cut * W), (i) => ref.bound[i]!);
    expect(ratio, `worst at ${index}: got ${got[index]}, want ${ref.out[index]}`).toBeLessThanOrEqual(1);
  });

  it('stays finite with large scores (softmax is max-subtracted)', async (ctx) => {
    const device = await testDevice();
    skipWithoutSubgroupsOf8(ctx, device, variant);
    const B = 1,
      N = 40,
      heads = 1,
      W = 64;
    const qkv = rng(3).normals(B * N * 3 * W, 30);
    const out = poisoned(device, [B, N, W]);
    await run(device, ...attentionCall(device, qkv, [B, N, W], out, heads, variant, permuteLanes));
    const got = await readback(device, out);
    const ref = attentionRef(qkv, B, N, W, heads);
    expect(got.every(Number.isFinite)).toBe(true);
    expect(worstRatio(got, ref.out, (i) => ref.bound[i]!).ratio).toBeLessThanOrEqual(1);
  });
});

describe('attention causal argument', () => {
  it('is refused unless a boolean, naming the argument', async () => {
    const device = await testDevice();
    const qkv = upload(device, new Float32Array(2 * 3 * 8), [1, 2, 24]);
    const out = poisoned(device, [1, 2, 8]);
    expect(() => attention(device, { qkv, out, heads: 1, causal: 'yes' as never })).toThrow(
      /argument 'causal': must be true or false, got "yes"/,
    );
    expect(() =>
      attentionTexture(device, {
        qkv: uploadMatrixTexture(device, new Float32Array(2 * 24), 2, 24),
        tokens: 2,
        out,
        heads: 1,
        causal: 1 as never,
      }),
    ).toThrow(/argument 'causal': must be true or false, got 1/);
  });
});

describe('attention variant choice', () => {
  it('setAttentionVariant overrides the per-adapter default and rejects unknown names', async () => {
    const device = await testDevice();
    const dflt = attentionVariantFor(device);
    try {
      setAttentionVariant(device, dflt === 'tiled' ? 'broadcast' : 'tiled');
      expect(attentionVariantFor(device)).not.toBe(dflt);
      expect(() => setAttentionVariant(device, 'fast' as AttentionVariant)).toThrow(/unknown variant 'fast'/);
    } finally {
      setAttentionVariant(device, null);
    }
    expect(attentionVariantFor(device)).toBe(dflt);
  });
});

describe('attention (flash): shapes, head dims and the split over keys', () => {
  // Token counts that are no multiple of its 32-query tiles or 32/16-key blocks (5, 50, 197, 257,
  // 785: Ti..g at 224 px / patch 16 or 14, batch 1 at 448 px / patch 16), the family's head dims
  // 64 / 72 / 80 / 88 / 128, several batch × heads; keySplits 1 (none), the chooser's (undefined),
  // and forced counts whose ranges are uneven (N = 197 in 3: 96, 96, 5 keys).
  // [B, N, heads, head_dim, keySplits, causal]
  const cases: [number, number, number, number, number | undefined, boolean][] = [
    [1, 5, 2, 64, 1, false],
    [3, 50, 2, 72, 2, false],
    [2, 197, 3, 64, 3, false],
    [1, 197, 2, 80, 4, true],
    [1, 257, 2, 88, 5, false],
    [1, 257, 1, 128, 7, true],
    [1, 785, 2, 64, 4, false],
    [1, 785, 1, 80, undefined, true],
    [2, 50, 2, 128, 4, false],
    [1, 197, 1, 128, 13, false],
    [2, 77, 2, 64, 2, true],
    [1, 785, 1, 88, 1, true],
  ];
  it.for(cases)(
    'B=%i N=%i heads=%i head_dim=%i keySplits=%s causal=%s',
    async ([B, N, heads, D, keySplits, causal]) => {
      const device = await testDevice();
      const W = heads * D;
      const qkv = rng(B * 7001 + N * 31 + D + (keySplits ?? 0)).normals(B * N * 3 * W);
      const out = poisoned(device, [B, N, W]);
      await run(
        device,
        attention(device, { qkv: upload(device, qkv, [B, N, 3 * W]), out, heads, variant: 'flash', keySplits, causal }),
      );
      const got = await readback(device, out);
      const ref = attentionRef(qkv, B, N, W, heads, undefined, causal);
      const { ratio, index } = worstRatio(got, ref.out, (i) => ref.bound[i]!);
      expect(ratio, `worst at ${index}: got ${got[index]}, want ${ref.out[index]}`).toBeLessThanOrEqual(1);
    },
  );
});

describe('attention (flash): split over keys, causal, with NaN after a query block', () => {
  it.for([2, 3, 7])('keySplits=%i: the keys after a query block are never read', async (keySplits) => {
    // As the causal NaN test above, with the keys split: a split whose range starts after a query
    // tile's last query must read nothing (its workgroups write an empty partial).
    const device = await testDevice();
    const B = 1,
      N = 200,
      heads = 2,
      W = 128,
      cut = 128;
    const qkv = rng(31 + keySplits).normals(B * N * 3 * W);
    const poisonedQkv = qkv.slice();
    poisonedQkv.fill(NaN, cut * 3 * W);
    const out = poisoned(device, [B, N, W]);
    const qt = upload(device, poisonedQkv, [B, N, 3 * W]);
    await run(device, attention(device, { qkv: qt, out, heads, variant: 'flash', causal: true, keySplits }));
    const got = (await readback(device, out)).subarray(0, cut * W);
    const ref = attentionRef(qkv, B, N, W, heads, undefined, true);
    expect(got.every(Number.isFinite)).toBe(true);
    const { ratio, index } = worstRatio(got, ref.out.subarray(0, cut * W), (i) => ref.bound[i]!);
    expect(ratio, `worst at ${index}: got ${got[index]}, want ${ref.out[index]}`).toBeLessThanOrEqual(1);
  });

  it('stays finite with large scores, split', async () => {
    const device = await testDevice();
    const B = 1,
      N = 100,
      heads = 1,
      W = 64;
    const qkv = rng(4).normals(B * N * 3 * W, 30);
    const out = poisoned(device, [B, N, W]);
    await run(
      device,
      attention(device, { qkv: upload(device, qkv, [B, N, 3 * W]), out, heads, variant: 'flash', keySplits: 3 }),
    );
    const got = await readback(device, out);
    const ref = attentionRef(qkv, B, N, W, heads);
    expect(got.every(Number.isFinite)).toBe(true);
    expect(worstRatio(got, ref.out, (i) => ref.bound[i]!).ratio).toBeLessThanOrEqual(1);
  });
});

describe('attention (flash): arguments and workgroup memory', () => {
  it('refuses keySplits outside 1 … key blocks, and on other variants, naming it', async () => {
    const device = await testDevice();
    const qkv = upload(device, new Float32Array(50 * 3 * 64), [1, 50, 192]);
    const out = poisoned(device, [1, 50, 64]);
    for (const keySplits of [0, 3, 1.5])
      expect(() => attention(device, { qkv, out, heads: 1, variant: 'flash', keySplits })).toThrow(
        /argument 'keySplits': must be an integer from 1 to the 2 key blocks of 32 \(N = 50\)/,
      );
    expect(() => attention(device, { qkv, out, heads: 1, variant: 'broadcast', keySplits: 2 })).toThrow(
      /argument 'keySplits': only the 'flash' variant splits its keys/,
    );
  });

  it('needs at most ATTENTION_FLASH_WORKGROUP_BYTES of workgroup memory, at every head dim', () => {
    const dims = Array.from({ length: ATTENTION_MAX_HEAD_DIM / 4 }, (_, i) => 4 * (i + 1));
    expect(Math.max(...dims.map((d) => flashWorkgroupBytes(d)))).toBe(ATTENTION_FLASH_WORKGROUP_BYTES);
    expect(flashWorkgroupBytes(64)).toBe(22528);
    expect(flashWorkgroupBytes(128)).toBe(28416);
  });

  it('frees its split-key workspace with the last dispatch that uses it', async () => {
    const device = await testDevice();
    const tracked = trackBuffers(device);
    try {
      const qkv = upload(device, rng(5).normals(100 * 3 * 64), [1, 100, 192]);
      const out = poisoned(device, [1, 100, 64]);
      const before = tracked.live();
      const a = attention(device, { qkv, out, heads: 1, variant: 'flash', keySplits: 2 });
      const b = attention(device, { qkv, out, heads: 1, variant: 'flash', keySplits: 3 });
      await run(device, a, b);
      a.destroy();
      b.destroy();
      expect(tracked.live()).toBe(before);
    } finally {
      tracked.stop();
    }
  });
});
