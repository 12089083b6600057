import { describe, expect, it } from 'vitest';
import { embedding } from '../../src/kernels/embedding.js';
import { embeddingRef } from '../../reference/embedding.js';
import { poisoned, readback, rng, run, testDevice, upload, weightAs, worstRatio } from '../helpers/gpu.js';
import { uploadWeight } from '../../src/kernels/program/harness.js';

function uploadIds(device: GPUDevice, ids: Uint32Array<ArrayBuffer>, shape: number[]) {
  const buffer = device.createBuffer({
    size: Math.max(16, ids.byteLength),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(buffer, 0, ids);
  return { buffer, shape, dtype: 'u32' as const };
}

describe('embedding', () => {
  // [B, T, vocab, D]: D not a multiple of the 64-wide workgroup, B > 1, the text towers' T = 80.
  const cases: [number, number, number, number][] = [
    [1, 80, 1000, 64],
    [3, 80, 32000, 72],
    [2, 7, 50, 130],
    [1, 1, 3, 5],
  ];
  // Every case with an f32 table; f16 (packed u32 words, and WGSL f16 where the device has
  // shader-f16) and q8 tables (D = 72, 130, 5: padded packed rows) on three.
  const dtypeCases = (['f32', 'f16 packed', 'f16 native', 'q8'] as const).flatMap((d) =>
    (d === 'f32' ? cases : cases.slice(1)).map((c) => [...c, d] as const),
  );
  it.for(dtypeCases)('B=%i T=%i vocab=%i D=%i table %s', async ([B, T, vocab, D, kind], ctx) => {
    const device = await testDevice();
    const [dtype, f16Loads] = kind.split(' ') as ['f32' | 'f16' | 'q8', 'native' | 'packed' | undefined];
    if (f16Loads === 'native' && !device.features.has('shader-f16')) return ctx.skip('no shader-f16 on this adapter');
    const r = rng(B * 31 + T + D);
    const tq = weightAs(dtype, r.normals(vocab * D), vocab, D),
      table = tq.values,
      pos = r.normals(T * D, 0.1);
    const ids = Uint32Array.from({ length: B * T }, (_, i) => (i * 7919 + 13) % vocab);
    ids[0] = vocab - 1; // the last row of the table
    const out = poisoned(device, [B, T, D]);
    await run(
      device,
      embedding(device, {
        ids: uploadIds(device, ids, [B, T]),
        table: uploadWeight(device, tq.stored, vocab, D),
        pos: upload(device, pos, [T, D]),
        out,
        f16Loads,
      }),
    );
    const got = await readback(device, out);
    const ref = embeddingRef(ids, B, T, table, vocab, D, pos);
    expect(worstRatio(got, ref.out, (i) => ref.bound[i]!).ratio).toBeLessThanOrEqual(1);
  });

  // pos null: a plain row gather (the text towers' <|endoftext|> pooling: one row of the [B·T, W]
  // hidden state per text), every table dtype.
  it.for(['f32', 'f16', 'q8'] as const)('without pos: a row gather (table %s)', async (dtype) => {
    const device = await testDevice();
    const [B, vocab, D] = [5, 3 * 77, 66];
    const r = rng(vocab + D + dtype.length);
    const tq = weightAs(dtype, r.normals(vocab * D), vocab, D);
    const ids = Uint32Array.from([76, 77 + 5, 154 + 76, 0, vocab - 1]);
    const out = poisoned(device, [B, 1, D]);
    await run(
      device,
      embedding(device, {
        ids: uploadIds(device, ids, [B, 1]),
        table: uploadWeight(device, tq.stored, vocab, D),
        pos: null,
        out,
      }),
    );
    const got = await readback(device, out);
    const ref = embeddingRef(ids, B, 1, tq.values, vocab, D, null);
    expect(worstRatio(got, ref.out, (i) => ref.bound[i]!).ratio).toBeLessThanOrEqual(1);
  });

  it('an id outside the vocabulary gives a NaN row, never another row', async () => {
    const device = await testDevice();
    const out = poisoned(device, [1, 2, 4]);
    await run(
      device,
      embedding(device, {
        ids: uploadIds(device, Uint32Array.from([1, 9]), [1, 2]),
        table: upload(
          device,
          Float32Array.from({ length: 12 }, (_, i) => i),
          [3, 4],
        ),
        pos: upload(device, new Float32Array(8), [2, 4]),
        out,
      }),
    );
    const got = Array.from(await readback(device, out));
    expect(got.slice(0, 4)).toEqual([4, 5, 6, 7]);
    expect(got.slice(4).every(Number.isNaN)).toBe(true);
  });

  it('refuses f32 ids and mismatched shapes, naming the argument', async () => {
    const device = await testDevice();
    const t = upload(device, new Float32Array(12), [3, 4]);
    expect(() =>
      embedding(device, {
        ids: upload(device, new Float32Array(2), [1, 2]),
        table: t,
        pos: upload(device, new Float32Array(8), [2, 4]),
        out: poisoned(device, [1, 2, 4]),
      }),
    ).toThrow(/embedding: argument 'ids': expected dtype u32, got f32/);
    expect(() =>
      embedding(device, {
        ids: uploadIds(device, new Uint32Array(2), [1, 2]),
        table: t,
        pos: upload(device, new Float32Array(12), [3, 4]),
        out: poisoned(device, [1, 2, 4]),
      }),
    ).toThrow(/embedding: argument 'pos': expected shape \[2, 4\], got \[3, 4\]/);
  });
});
