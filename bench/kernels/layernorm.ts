// The LayerNorm rows (and texture_pack, at the same shapes): checked in full against the float64
// reference (worst |err| / bound ≤ 1); rates in GB/s of the bytes each must move at least.
import { layerNorm, layerNormTexture } from '../../src/kernels/layernorm.js';
import { texturePack } from '../../src/kernels/texture-pack.js';
import { createMatrixTexture, readMatrixTexture } from '../../src/kernels/program/texture-matrix.js';
import { layerNormBound, layerNormRef } from '../../reference/layernorm.js';
import { fullCheck, runsTextures, type Bench } from './context.js';

export const LAYERNORM_SHAPES = [
  ['197×192', 197, 192],
  ['1576×768', 1576, 768],
] as const;

export async function layerNormRows(b: Bench): Promise<void> {
  const { device } = b;
  for (const [name, rowsN, dim] of LAYERNORM_SHAPES) {
    if (!b.want(`layernorm ${name}`) && !b.want(`texture_pack ${name}`)) continue;
    const xv = b.data(rowsN * dim),
      gv = b.data(dim, 0.2),
      bv = b.data(dim, 0.1);
    const y = b.tensor([rowsN, dim]);
    const d = layerNorm(device, {
      x: b.tensor([rowsN, dim], xv),
      gamma: b.tensor([dim], gv),
      beta: b.tensor([dim], bv),
      y,
      eps: 1e-6,
    });
    await b.runOnce(d);
    const ref = { y: layerNormRef(xv, rowsN, dim, gv, bv, 1e-6), bound: layerNormBound(xv, rowsN, dim, gv, bv, 1e-6) };
    await b.record('layernorm', name, '', d, 0, 8 * rowsN * dim, 'GB/s', fullCheck(await b.read(y), ref.y, ref.bound));
    if (runsTextures(b)) {
      // layernorm_texture: the same rows into a matrix texture (what the 'texture' GEMM reads next).
      const yt = createMatrixTexture(device, rowsN, dim);
      const dt = layerNormTexture(device, {
        x: b.tensor([rowsN, dim], xv),
        gamma: b.tensor([dim], gv),
        beta: b.tensor([dim], bv),
        y: yt,
        eps: 1e-6,
      });
      await b.runOnce(dt);
      const check = fullCheck(await readMatrixTexture(device, yt), ref.y, ref.bound);
      await b.record('layernorm_texture', name, '', dt, 0, 8 * rowsN * dim, 'GB/s', check);
      yt.texture.destroy();
    }
    if (b.want(`texture_pack ${name}`)) {
      // texture_pack: a buffer's rows into a matrix texture (a copy: must be exact).
      const xt = createMatrixTexture(device, rowsN, dim);
      const dp = texturePack(device, { x: b.tensor([rowsN, dim], xv), out: xt });
      await b.runOnce(dp);
      const got = await readMatrixTexture(device, xt);
      const same = got.every((v, i) => v === xv[i]);
      await b.record('texture_pack', name, '', dp, 0, 8 * rowsN * dim, 'GB/s', {
        ok: same,
        text: same ? 'exact' : 'differs',
      });
      xt.texture.destroy();
    }
  }
}
