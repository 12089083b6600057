// The patch-embedding rows: patch_embed on buffers, and where the adapter runs the texture variants,
// patch_pack then patch_embed_texture (what a model on a CPU adapter runs); checked in full.
import { patchEmbed, patchEmbedTexture, patchPack } from '../../src/kernels/patch-embed.js';
import { createMatrixTexture, uploadMatrixTexture } from '../../src/kernels/program/texture-matrix.js';
import { patchEmbedRef } from '../../reference/patch-embed.js';
import { fullCheck, runsTextures, type Bench } from './context.js';

/** [label, B, S, patch, W]. */
export const PATCH_EMBED_SHAPES = [
  ['b16 1×224', 1, 224, 16, 768],
  ['b8 1×224', 1, 224, 8, 768],
  ['so14 1×224', 1, 224, 14, 1152],
] as const;

export async function patchEmbedRows(b: Bench): Promise<void> {
  const { device } = b;
  for (const [name, B, S, p, W] of PATCH_EMBED_SHAPES) {
    if (!b.want(`patch_embed ${name}`)) continue;
    const g = S / p,
      n = 1 + g * g;
    const iv = b.data(B * 3 * S * S),
      wv = b.data(W * 3 * p * p, 1 / Math.sqrt(3 * p * p)),
      cv = b.data(W),
      pv = b.data(n * W, 0.1);
    const out = b.tensor([B, n, W]);
    const d = patchEmbed(device, {
      image: b.tensor([B, 3, S, S], iv),
      weight: b.tensor([W, 3, p, p], wv),
      cls: b.tensor([W], cv),
      pos: b.tensor([n, W], pv),
      out,
    });
    await b.runOnce(d);
    const ref = patchEmbedRef(iv, B, S, wv, W, p, cv, pv);
    const flops = 2 * B * g * g * 3 * p * p * W;
    await b.record('patch_embed', name, '', d, 0, flops, 'GFLOP/s', fullCheck(await b.read(out), ref.out, ref.bound));
    if (runsTextures(b)) {
      // Patches and conv weight as matrix textures; one row each, both checked (the pack through
      // the embedding's result).
      const wt = uploadMatrixTexture(device, wv, W, 3 * p * p);
      const xt = createMatrixTexture(device, B * g * g, 3 * p * p);
      const dp = patchPack(device, { image: b.tensor([B, 3, S, S], iv), patchSize: p, out: xt });
      const dt = patchEmbedTexture(device, {
        patches: xt,
        weight: wt,
        cls: b.tensor([W], cv),
        pos: b.tensor([n, W], pv),
        out,
      });
      await b.runOnce(dp, dt);
      const check = fullCheck(await b.read(out), ref.out, ref.bound);
      await b.record('patch_pack', name, '', dp, 0, 8 * B * 3 * S * S, 'GB/s', check);
      await b.record('patch_embed_texture', name, '', dt, 0, flops, 'GFLOP/s', check);
      wt.texture.destroy();
      xt.texture.destroy();
    }
  }
}
