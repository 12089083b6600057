import { describe, expect, it } from 'vitest';
import { texturePack } from '../../src/kernels/texture-pack.js';
import {
  createMatrixTexture,
  matrixTextureWidth,
  readMatrixTexture,
} from '../../src/kernels/program/texture-matrix.js';
import { texturePackRef } from '../../reference/texture-pack.js';
import { rng, run, testDevice, upload } from '../helpers/gpu.js';

// texture_pack copies values, so the result must equal the reference exactly (no arithmetic).
describe('texture_pack', () => {
  for (const [M, K, row0, rows] of [
    [1, 1, 0, 1],
    [7, 3, 0, 7],
    [37, 192, 5, 20],
    [10, 1076, 9, 1],
    [130, 70, 0, 130],
  ] as const) {
    it(`rows ${row0}..${row0 + rows - 1} of [${M}, ${K}]`, async () => {
      const device = await testDevice();
      const x = rng(M + K).normals(M * K);
      const out = createMatrixTexture(device, rows, K);
      await run(device, texturePack(device, { x: upload(device, x, [M, K]), out, row0 }));
      const got = await readMatrixTexture(device, out);
      expect([...got]).toEqual([...texturePackRef(x, K, row0, rows)]);
    });
  }
  it('fills the row padding with zeros', async () => {
    const device = await testDevice();
    const K = 5; // 8 values per padded row: 3 zeros
    const out = createMatrixTexture(device, 2, 8); // read back as 8 columns to see the padding
    const pack = texturePack(device, {
      x: upload(device, new Float32Array(10).fill(7), [2, K]),
      out: { texture: out.texture, shape: [2, K] },
    });
    await run(device, pack);
    expect([...(await readMatrixTexture(device, out))]).toEqual([7, 7, 7, 7, 7, 0, 0, 0, 7, 7, 7, 7, 7, 0, 0, 0]);
    expect(matrixTextureWidth(K)).toBe(2);
  });
  it('refuses rows outside x and a texture of another width, naming the argument', async () => {
    const device = await testDevice();
    const x = upload(device, new Float32Array(12), [3, 4]);
    expect(() => texturePack(device, { x, out: createMatrixTexture(device, 2, 4), row0: 2 })).toThrow(
      /texture_pack: argument 'row0': rows 2 \.\. 3 are outside x's 3 rows/,
    );
    expect(() => texturePack(device, { x, out: createMatrixTexture(device, 2, 5) })).toThrow(
      /argument 'out': expected a \[rows, 4\] matrix/,
    );
  });
});
