// fp16 and q8 models (the `dtype` load option, dtype.ts) against the PyTorch fixtures, the converter
// (convert.ts) against an in-memory conversion, and every bad dtype input named.
import { afterAll, describe, expect, it } from 'vitest';
import { ArgumentError, CheckpointError } from '../../src/errors.js';
import { CLIPModel } from '../../src/model/clip.js';
import { convertToBytes } from '../../src/model/convert.js';
import { Q8_METADATA_KEY, type ModelDType } from '../../src/model/dtype.js';
import { DTYPE_MIN_COSINE, measureAccuracy, readExpected } from '../../src/model/verify.js';
import { VisionTransformer } from '../../src/model/vit.js';
import { weightRowWords } from '../../src/kernels/program/weight-format.js';
import { openCheckpoint } from '../../src/weights/index.js';
import { hasSubgroupsOf8 } from '../../src/kernels/choose/adapter.js';
import { CASES, fixture } from '../helpers/fixtures.js';
import { testDevice, trackBuffers } from '../helpers/gpu.js';

const CLIP_CASE = 'ov1-clip-ti16-224-t2';
const clipFiles = { weights: fixture(`${CLIP_CASE}.bin`), config: fixture(`${CLIP_CASE}.open_clip_config.json`) };

/** A safetensors file's header and data section, to edit and write back (bad-input cases). */
function splitSafetensors(bytes: Uint8Array): { header: Record<string, any>; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, any>;
  return { header, data: bytes.subarray(8 + n) };
}
function joinSafetensors(header: Record<string, unknown>, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('fp16 and q8 models against the PyTorch fixtures', () => {
  const models: { destroy(): void }[] = [];
  afterAll(() => models.forEach((m) => m.destroy()));

  // Per image, the embedding's cosine to PyTorch's float32 output ≥ DTYPE_MIN_COSINE (fp16 0.99999,
  // q8 0.999; verify.ts says why), with the adapter's default kernels.
  for (const dtype of ['fp16', 'q8'] as const) {
    it.each(CASES)(`%s as ${dtype}: embedding cosine per image within the dtype tolerance`, async (name) => {
      const device = await testDevice();
      const exp = await readExpected(fixture(`${name}.expected.safetensors`));
      const model = await VisionTransformer.load(device, {
        weights: fixture(exp.meta.weights!),
        config: fixture(exp.meta.config!),
        dtype,
        profile: false,
      });
      models.push(model);
      expect(model.dtype).toBe(dtype);
      const a = await measureAccuracy(model, exp);
      expect(a.embedding.minCosine, `${name} ${dtype}: max abs ${a.embedding.maxAbs}`).toBeGreaterThanOrEqual(
        DTYPE_MIN_COSINE[dtype],
      );
      expect(a.pass).toBe(true);
    });
  }

  // The other GEMM and attention forms (buffers: 'tiled' is what GPUs run; 'subgroup' buffers).
  // fp16 both ways: packed u32 words and WGSL f16 (where the device has shader-f16).
  it.for([
    ['fp16', 'tiled', 'packed'],
    ['fp16', 'tiled', 'native'],
    ['q8', 'tiled', undefined],
    ['fp16', 'subgroup', 'packed'],
    ['fp16', 'subgroup', 'native'],
    ['q8', 'subgroup', undefined],
  ] as const)('ov1-so14-84-d2 as %s with the %s GEMM (%s f16 loads)', async ([dtype, gemmVariant, f16Loads], ctx) => {
    const device = await testDevice();
    if (gemmVariant === 'subgroup' && !hasSubgroupsOf8(device)) return ctx.skip('no 8-lane subgroups: not run');
    if (f16Loads === 'native' && !device.features.has('shader-f16')) return ctx.skip('no shader-f16: not run');
    const exp = await readExpected(fixture('ov1-so14-84-d2.expected.safetensors'));
    const model = await VisionTransformer.load(device, {
      weights: fixture(exp.meta.weights!),
      config: fixture(exp.meta.config!),
      dtype,
      kernels: { gemmVariant, attentionVariant: gemmVariant === 'tiled' ? 'tiled' : undefined, f16Loads },
    });
    models.push(model);
    expect((await measureAccuracy(model, exp)).pass).toBe(true);
  });

  it.each(['fp16', 'q8'] as const)(
    'CLIP as %s: text and image embeddings within the tolerance, zero-shot ranking unchanged',
    async (dtype) => {
      const clip = await CLIPModel.load(await testDevice(), { ...clipFiles, dtype });
      models.push(clip);
      expect([clip.vision.dtype, clip.text.dtype]).toEqual([dtype, dtype]);
      const a = await measureAccuracy(clip, await readExpected(fixture(`${CLIP_CASE}.expected.safetensors`)));
      expect(a.text!.minCosine).toBeGreaterThanOrEqual(DTYPE_MIN_COSINE[dtype]);
      expect(a.probs!.sameRanking).toBe(true);
      expect(a.pass).toBe(true);
    },
  );

  it('holds the matrices in 2 (fp16) or 1 byte (q8, plus a float32 scale per row) per weight', async () => {
    const device = await testDevice();
    const exp = await readExpected(fixture('ov1-ti16-224-d1.expected.safetensors'));
    const bytes: Record<string, number> = {};
    for (const dtype of ['fp32', 'fp16', 'q8'] as const) {
      const m = await VisionTransformer.load(device, {
        weights: fixture(exp.meta.weights!),
        config: fixture(exp.meta.config!),
        dtype,
        kernels: { gemmVariant: 'tiled' }, // buffers: f32 rows unpadded, so the arithmetic below is exact
      });
      bytes[dtype] = m.weightBytes();
      m.destroy();
    }
    // The matrices of this config: 1 block (in_proj, out_proj, c_fc, c_proj), conv1 and proj.
    const ckpt = await openCheckpoint(fixture(exp.meta.weights!));
    let f32 = 0,
      f16 = 0,
      q8 = 0;
    for (const [k, t] of ckpt.tensors) {
      const key = k.replace(/^visual\./, '');
      if (!/(in_proj_weight|out_proj\.weight|c_fc\.weight|c_proj\.weight)$|^(proj|conv1\.weight)$/.test(key)) continue;
      const n = t.shape.reduce((a, b) => a * b, 1);
      const [rows, K] = key === 'proj' ? [t.shape[1]!, t.shape[0]!] : [t.shape[0]!, n / t.shape[0]!];
      f32 += 4 * n;
      f16 += 4 * rows * weightRowWords(K, 'f16');
      q8 += 4 * rows * weightRowWords(K, 'q8') + 4 * rows;
    }
    expect(bytes.fp32! - bytes.fp16!).toBe(f32 - f16);
    expect(bytes.fp32! - bytes.q8!).toBe(f32 - q8);
  });
});

describe('wgsl-vit convert (convertCheckpoint)', () => {
  it.each(['fp16', 'q8'] as const)(
    'a %s file loads to the same bits as an in-memory conversion (CLIP: both towers)',
    async (dtype) => {
      const device = await testDevice();
      const file = await convertToBytes(await openCheckpoint(clipFiles.weights), dtype);
      const { header } = splitSafetensors(file);
      // Matrices in the dtype under their own keys and shapes, the rest float32.
      expect(header['visual.transformer.resblocks.0.attn.in_proj_weight'].dtype).toBe(dtype === 'fp16' ? 'F16' : 'I8');
      expect(header['visual.proj'].dtype).toBe(dtype === 'fp16' ? 'F16' : 'I8');
      expect(header['visual.transformer.resblocks.0.attn.in_proj_bias'].dtype).toBe('F32');
      expect(header.__metadata__['wgsl-vit.dtype']).toBe(dtype);
      if (dtype === 'q8') expect(header['visual.proj.q8_scale'].shape).toEqual([header['visual.proj'].shape[1]]);
      const fromFile = await CLIPModel.load(device, {
        weights: await openCheckpoint(file, 'converted.safetensors'),
        config: clipFiles.config,
      });
      const inMemory = await CLIPModel.load(device, { ...clipFiles, dtype });
      try {
        expect(fromFile.vision.dtype).toBe(dtype); // the file's dtype is the default
        expect(fromFile.vision.weightBytes()).toBe(inMemory.vision.weightBytes());
        const exp = await readExpected(fixture(`${CLIP_CASE}.expected.safetensors`));
        const [a, b] = await Promise.all(
          [fromFile, inMemory].map((m) => m.vision.forward(exp.input, 4, { outputs: ['embedding', 'tokens'] })),
        );
        expect(Buffer.from(a!.embedding!.buffer).equals(Buffer.from(b!.embedding!.buffer))).toBe(true);
        expect(Buffer.from(a!.tokens!.buffer).equals(Buffer.from(b!.tokens!.buffer))).toBe(true);
        const ids = new Uint32Array(80 * 2).fill(7);
        const [ta, tb] = await Promise.all([fromFile, inMemory].map((m) => m.text.forward(ids, 2)));
        expect(Buffer.from(ta!.embedding!.buffer).equals(Buffer.from(tb!.embedding!.buffer))).toBe(true);
        // Asked for another dtype, a converted file converts again (q8 → fp32: its dequantized values).
        const back = await VisionTransformer.load(device, {
          weights: await openCheckpoint(file, 'converted.safetensors'),
          config: clipFiles.config,
          dtype: 'fp32',
        });
        expect(back.dtype).toBe('fp32');
        back.destroy();
      } finally {
        fromFile.destroy();
        inMemory.destroy();
      }
    },
  );

  it('an F16 or BF16 checkpoint loads as fp16 without a float32 copy, equal to converting its float32 values', async () => {
    const device = await testDevice();
    const exp = await readExpected(fixture('ov1-ti16-224-d1.expected.safetensors'));
    const f16 = await convertToBytes(await openCheckpoint(fixture(exp.meta.weights!)), 'fp16');
    // The same file with every F16 matrix as BF16 of the same values (bf16 = the top half of f32).
    const { header, data } = splitSafetensors(f16);
    const bf = new Uint8Array(data);
    for (const [k, v] of Object.entries(header)) {
      if (k === '__metadata__' || v.dtype !== 'F16') continue;
      const [b0, b1] = v.data_offsets as [number, number];
      const h = new Uint16Array(data.slice(b0, b1).buffer);
      const out = new Uint16Array(h.length);
      const f = new Float32Array(1),
        u = new Uint32Array(f.buffer);
      for (let i = 0; i < h.length; i++) {
        const x = h[i]!;
        const e = (x >> 10) & 31,
          m = x & 1023,
          s = x & 0x8000 ? -1 : 1;
        f[0] = e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
        out[i] = u[0]! >>> 16; // exact when the half has ≤ 7 mantissa bits; else rounded by bf16 itself
      }
      bf.set(new Uint8Array(out.buffer), b0);
      v.dtype = 'BF16';
    }
    const bfFile = joinSafetensors(header, bf);
    const m16 = await VisionTransformer.load(device, { weights: f16, config: fixture(exp.meta.config!) });
    const mbf = await VisionTransformer.load(device, {
      weights: bfFile,
      config: fixture(exp.meta.config!),
      dtype: 'fp16',
    });
    try {
      expect(m16.dtype).toBe('fp16');
      for (const m of [m16, mbf]) expect((await measureAccuracy(m, exp)).pass).toBe(true);
    } finally {
      m16.destroy();
      mbf.destroy();
    }
  });

  it('refuses non-finite weights, naming the tensor, and values beyond float16 for fp16', async () => {
    const ckpt = await openCheckpoint(fixture('ov1-ti16-224-d1.safetensors'));
    const key = 'visual.transformer.resblocks.0.mlp.c_fc.weight';
    const bad = (v: number) => ({
      ...ckpt,
      read: async (k: string) => {
        const d = await ckpt.read(k);
        if (k === key) d[3] = v;
        return d;
      },
      readRaw: undefined,
    });
    await expect(convertToBytes(bad(NaN), 'q8')).rejects.toThrow(
      new RegExp(`'${key.replace(/\./g, '\\.')}'.*non-finite value NaN at flat index 3`),
    );
    await expect(convertToBytes(bad(1e6), 'fp16')).rejects.toThrow(/not a finite float16.*1000000|Infinity/);
    await expect(convertToBytes(bad(1e6), 'fp16')).rejects.toBeInstanceOf(CheckpointError);
  });
});

describe('bad dtype input', () => {
  it('an unknown dtype is refused naming the option, and nothing is left on the GPU', async () => {
    const device = await testDevice();
    const tracker = trackBuffers(device);
    try {
      for (const load of [
        () =>
          VisionTransformer.load(device, {
            weights: fixture('ov1-ti16-224-d1.safetensors'),
            config: fixture('ov1-ti16-224-d1.open_clip_config.json'),
            dtype: 'int4' as ModelDType,
          }),
        () => CLIPModel.load(device, { ...clipFiles, dtype: 'bf16' as ModelDType }),
      ]) {
        const e = await load().catch((x: unknown) => x);
        expect(e).toBeInstanceOf(ArgumentError);
        expect(String(e)).toMatch(/'dtype'.*must be one of fp32, fp16, q8, got "(int4|bf16)"/);
      }
      const e = await VisionTransformer.load(device, {
        weights: fixture('ov1-ti16-224-d1.safetensors'),
        config: fixture('ov1-ti16-224-d1.open_clip_config.json'),
        kernels: { f16Loads: 'fast' as 'native' },
      }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ArgumentError);
      expect(String(e)).toMatch(/argument 'kernels\.f16Loads': must be 'native' or 'packed', got "fast"/);
      expect(tracker.live()).toBe(0);
    } finally {
      tracker.stop();
    }
  });

  it('a q8 file with int8 tensors of another layout, missing or non-finite scales, or -128 is refused naming the tensor', async () => {
    const device = await testDevice();
    const q8 = await convertToBytes(await openCheckpoint(fixture('ov1-ti16-224-d1.safetensors')), 'q8');
    const key = 'visual.transformer.resblocks.0.attn.out_proj.weight';
    const load = (bytes: Uint8Array) =>
      VisionTransformer.load(device, { weights: bytes, config: fixture('ov1-ti16-224-d1.open_clip_config.json') });
    const edit = (f: (h: Record<string, any>, d: Uint8Array) => Uint8Array | void) => {
      const { header, data } = splitSafetensors(q8);
      const d = new Uint8Array(data);
      return joinSafetensors(header, f(header, d) ?? d);
    };
    // A tensor removed with its bytes (the others' offsets moved down).
    const drop = (h: Record<string, any>, d: Uint8Array, k: string) => {
      const [b0, b1] = h[k].data_offsets as [number, number];
      delete h[k];
      for (const [name, v] of Object.entries(h))
        if (name !== '__metadata__' && v.data_offsets[0] >= b1)
          v.data_offsets = v.data_offsets.map((o: number) => o - (b1 - b0));
      return new Uint8Array([...d.subarray(0, b0), ...d.subarray(b1)]);
    };
    const tracker = trackBuffers(device);
    try {
      // Another tool's int8 (no layout declared in __metadata__).
      await expect(
        load(
          edit((h) => {
            delete h.__metadata__[Q8_METADATA_KEY];
          }),
        ),
      ).rejects.toThrow(/'visual\.[\w.]+': is stored as I8, but the file does not declare the wgsl-vit q8 layout/);
      // The scales: missing, of the wrong shape, non-finite.
      await expect(load(edit((h, d) => drop(h, d, `${key}.q8_scale`)))).rejects.toThrow(
        new RegExp(`'${key.replace(/\./g, '\\.')}': is stored as I8 but its scales '.*q8_scale' are missing`),
      );
      await expect(
        load(
          edit((h, d) => {
            const d2 = drop(h, d, `${key}.q8_scale`);
            // A [1] scale in place of [W]: appended at the end of the data.
            h[`${key}.q8_scale`] = { dtype: 'F32', shape: [1], data_offsets: [d2.length, d2.length + 4] };
            return new Uint8Array([...d2, 0, 0, 128, 63]);
          }),
        ),
      ).rejects.toThrow(/q8_scale': must be F32 \[\d+\] \(one scale per output channel/);
      await expect(
        load(
          edit((h, d) => {
            const [b0] = h[`${key}.q8_scale`].data_offsets as [number];
            new DataView(d.buffer).setFloat32(b0 + 4, Infinity, true);
          }),
        ),
      ).rejects.toThrow(new RegExp(`'${key.replace(/\./g, '\\.')}\\.q8_scale': scale Infinity at index 1`));
      await expect(
        load(
          edit((h, d) => {
            const [b0] = h[key].data_offsets as [number];
            d[b0 + 5] = 0x80;
          }),
        ),
      ).rejects.toThrow(new RegExp(`'${key.replace(/\./g, '\\.')}': value -128 at flat index 5`));
      expect(tracker.live()).toBe(0);
    } finally {
      tracker.stop();
    }
  });
});
