// Graph-level ops: each adds one kernel node and returns its output tensor. These are the only
// place where graph tensors meet the kernel wrappers of src/kernels.
import { attention as attentionDispatch } from '../kernels/attention.js';
import { attentionTexture } from '../kernels/attention-texture.js';
import { embedding as embeddingDispatch } from '../kernels/embedding.js';
import { gemm, type GemmEpilogue } from '../kernels/gemm.js';
import { gemmSplitKReduce } from '../kernels/gemm-splitk-reduce.js';
import { chooseGemmSplit, chooseGemmVariant } from '../kernels/choose/choose.js';
import { bufferFormOf, GEMM_FAMILY } from '../kernels/choose/variants.js';
import { gemmTexture } from '../kernels/gemm-texture.js';
import { texturePack } from '../kernels/texture-pack.js';
import { MATRIX_TEXTURE_ROWS } from '../kernels/program/texture-matrix.js';
import { elementCount } from '../shape.js';
import { layerNorm as layerNormDispatch, layerNormTexture } from '../kernels/layernorm.js';
import { meanPool as meanPoolDispatch } from '../kernels/mean-pool.js';
import { patchEmbed as patchEmbedDispatch, patchEmbedTexture, patchPack } from '../kernels/patch-embed.js';
import type { Graph, Resolve, ResolveTexture, Tensor, TensorStorage } from './graph.js';
import { attentionReads, gemmReads } from './placement.js';

/** Rows a matrix texture of this graph may have (KernelChoices.textureRows, default MATRIX_TEXTURE_ROWS). */
const textureRows = (g: Graph) => g.kernels.textureRows ?? MATRIX_TEXTURE_ROWS;
/**
 * Calls `add(start, count, part)` for consecutive chunks of at most `chunk` of `total` items (rows,
 * patches, sequences); `part` names the chunk's nodes (`name` itself when there is one chunk).
 */
function chunked(
  total: number,
  chunk: number,
  name: string,
  add: (start: number, count: number, part: string) => void,
) {
  for (let start = 0; start < total; start += chunk) {
    const count = Math.min(chunk, total - start);
    add(start, count, total > chunk ? `${name}[${start}:${start + count}]` : name);
  }
}

/** Rows of a [..., K] tensor, or of a [M, K] matrix texture. */
const rowsOf = (t: Tensor) => elementCount(t.shape.slice(0, -1));

export function patchEmbed(g: Graph, name: string, image: Tensor, weight: Tensor, cls: Tensor, pos: Tensor): Tensor {
  const [B] = image.shape as [number];
  const out = g.activation(name, [B, pos.shape[0]!, weight.shape[0]!]);
  if (weight.storage === 'texture') {
    // The patches into matrix textures (im2col, in chunks of textureRows), each multiplied by the
    // weight texture into its rows of out.
    const [, , S] = image.shape as [number, number, number];
    const K = weight.shape[1]!;
    const p = Math.round(Math.sqrt(K / 3));
    const patches = B * (S / p) ** 2;
    chunked(patches, textureRows(g), name, (patch0, rows, part) => {
      const xt = g.activation(`${part}.patches`, [rows, K], 'texture');
      g.kernel(`${part}.patch_pack`, [image], [xt], (d, r, rt) =>
        patchPack(d, { image: r(image), patchSize: p, out: rt(xt), patch0 }),
      );
      g.kernel(part, patch0 === 0 ? [xt, weight, cls, pos] : [xt, weight, cls, pos, out], [out], (d, r, rt) =>
        patchEmbedTexture(d, { patches: rt(xt), weight: rt(weight), cls: r(cls), pos: r(pos), out: r(out), patch0 }),
      );
    });
    return out;
  }
  g.kernel(name, [image, weight, cls, pos], [out], (d, r) =>
    patchEmbedDispatch(d, {
      image: r(image),
      weight: r(weight),
      cls: r(cls),
      pos: r(pos),
      out: r(out),
      tile: g.kernels.gemmTile,
      f16Loads: g.kernels.f16Loads,
    }),
  );
  return out;
}

/**
 * LayerNorm over the last axis, a new tensor. `into: 'texture'` asks for a [rows, dim] matrix texture
 * (layernorm_texture) for a consumer that reads one; it is honoured where the rows fit one texture,
 * else the result is a buffer (the consumer packs it).
 */
export function layerNorm(
  g: Graph,
  name: string,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  eps: number,
  into: TensorStorage = 'buffer',
): Tensor {
  const M = rowsOf(x);
  if (into === 'texture' && M <= textureRows(g)) {
    const yt = g.activation(name, [M, x.shape[x.shape.length - 1]!], 'texture');
    g.kernel(name, [x, gamma, beta], [yt], (d, r, rt) =>
      layerNormTexture(d, { x: r(x), gamma: r(gamma), beta: r(beta), y: rt(yt), eps }),
    );
    return yt;
  }
  const y = g.activation(name, x.shape);
  g.kernel(name, [x, gamma, beta], [y], (d, r) =>
    layerNormDispatch(d, { x: r(x), gamma: r(gamma), beta: r(beta), y: r(y), eps }),
  );
  return y;
}

/**
 * The buffer GEMM's variant for weight `w` [N, K]: the model's, except 'subgroup' where K % 4 != 0 and
 * a texture-reading one (a buffer-stored weight under it, placement.ts), where gemm() takes its own default.
 */
const gemmVariant = (g: Graph, w: Tensor) => {
  const v = g.kernels.gemmVariant;
  return gemmReads(g.kernels) === 'texture' || (v === 'subgroup' && w.shape[1]! % 4 !== 0) ? undefined : v;
};

/**
 * The split-K count of a buffer GEMM node (1: none): the model's `gemmSplitK`, else the built-in
 * choice for the shape where the graph knows its adapter; only where the node runs the 'tiled'
 * variant (the model's, or gemm()'s default for the adapter: 'tiled' on GPUs).
 */
function gemmSplitOf(g: Graph, w: Tensor, M: number): number {
  const [N, K] = w.shape as [number, number];
  const asked = gemmVariant(g, w);
  const k4 = w.dtype !== 'f32' || K % 4 === 0;
  const runs =
    asked ??
    (g.kernels.gemmTile || !k4
      ? 'tiled'
      : g.adapter
        ? bufferFormOf(GEMM_FAMILY, chooseGemmVariant(g.adapter))
        : undefined);
  if (g.kernels.gemmSplitK !== undefined) return runs === 'tiled' || runs === undefined ? g.kernels.gemmSplitK : 1;
  if (runs !== 'tiled' || !g.adapter) return 1;
  return chooseGemmSplit(g.adapter, { m: M, n: N, k: K }, g.kernels.gemmTile);
}

/**
 * y = epilogue(x·wᵀ + b) (y read too for 'residual'): with a buffer weight, one gemm node (split-K:
 * a gemm node into an [S, M, N] workspace, then a gemm_splitk_reduce node); with a
 * texture-stored weight, gemm_texture, x packed into a matrix texture first (texture_pack) unless it
 * is one already, in chunks of textureRows rows; y a buffer or (y.storage 'texture') a matrix texture.
 */
function addGemm(g: Graph, name: string, x: Tensor, w: Tensor, b: Tensor | null, y: Tensor, epilogue: GemmEpilogue) {
  const reads = [x, w, ...(b ? [b] : []), ...(epilogue === 'residual' ? [y] : [])];
  if (w.storage === 'buffer') {
    if (x.storage === 'texture') throw new Error(`graph: ${name}: a texture input needs a texture-stored weight`);
    const M = rowsOf(x),
      N = w.shape[0]!;
    const S = gemmSplitOf(g, w, M);
    if (S > 1) {
      const partials = g.activation(`${name}.partials`, [S, M, N]);
      g.kernel(name, [x, w], [partials], (d, r) =>
        gemm(d, {
          x: { ...r(x), shape: [M, w.shape[1]!] },
          w: r(w),
          bias: null,
          y: r(partials),
          tile: g.kernels.gemmTile,
          variant: 'tiled',
          f16Loads: g.kernels.f16Loads,
          splitK: S,
          precision: g.kernels.precision,
        }),
      );
      g.kernel(`${name}.splitk_reduce`, [partials, w, ...reads.slice(2)], [y], (d, r) =>
        gemmSplitKReduce(d, {
          partials: r(partials),
          bias: b ? r(b) : null,
          y: { ...r(y), shape: [M, N] },
          epilogue,
          scale: r(w).scale ?? null,
        }),
      );
      return;
    }
    g.kernel(name, reads, [y], (d, r) =>
      gemm(d, {
        x: r(x),
        w: r(w),
        bias: b ? r(b) : null,
        y: r(y),
        epilogue,
        tile: g.kernels.gemmTile,
        variant: gemmVariant(g, w),
        f16Loads: g.kernels.f16Loads,
        precision: g.kernels.precision,
      }),
    );
    return;
  }
  const bias = (r: Resolve) => (b ? r(b) : null);
  const out = (r: Resolve, rt: ResolveTexture) => (y.storage === 'texture' ? rt(y) : r(y));
  if (x.storage === 'texture') {
    g.kernel(name, reads, [y], (d, r, rt) =>
      gemmTexture(d, { x: rt(x), w: rt(w), bias: bias(r), y: out(r, rt), epilogue }),
    );
    return;
  }
  const K = w.shape[1]!;
  const M = rowsOf(x);
  const chunk = Math.min(M, textureRows(g));
  if (y.storage === 'texture' && chunk < M) throw new Error(`graph: ${name}: a texture output must fit one texture`);
  chunked(M, chunk, name, (row0, rows, part) => {
    const xt = g.activation(`${part}.x`, [rows, K], 'texture');
    g.kernel(`${part}.texture_pack`, [x], [xt], (d, r, rt) => texturePack(d, { x: r(x), out: rt(xt), row0 }));
    g.kernel(part, [xt, ...reads.slice(1)], [y], (d, r, rt) =>
      gemmTexture(d, { x: rt(xt), w: rt(w), bias: bias(r), y: out(r, rt), epilogue, row0 }),
    );
  });
}

/**
 * y = act(x·wᵀ + b), a new tensor: [..., N] in a buffer, or with `into: 'texture'` and a texture-stored
 * weight a [rows, N] matrix texture where the rows fit one (for a consumer that reads textures).
 */
export function linear(
  g: Graph,
  name: string,
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  epilogue: Exclude<GemmEpilogue, 'residual'> = 'none',
  into: TensorStorage = 'buffer',
): Tensor {
  const M = rowsOf(x);
  const y =
    into === 'texture' && w.storage === 'texture' && M <= textureRows(g)
      ? g.activation(name, [M, w.shape[0]!], 'texture')
      : g.activation(name, [...(x.storage === 'texture' ? [M] : x.shape.slice(0, -1)), w.shape[0]!]);
  addGemm(g, name, x, w, b, y, epilogue);
  return y;
}

/** residual += x·wᵀ + b, in place; returns `residual`. */
export function linearAddInto(g: Graph, name: string, residual: Tensor, x: Tensor, w: Tensor, b: Tensor): Tensor {
  addGemm(g, name, x, w, b, residual, 'residual');
  return residual;
}

/**
 * Multi-head self-attention of a packed qkv of `tokens`-long sequences: a [B, N, 3W] buffer, or a
 * [B·N, 3W] matrix texture (the 'texture' in_proj output). With the 'texture' variant a buffer qkv is
 * packed into matrix textures of whole sequences (at most textureRows rows each) first. `causal`:
 * query i attends to keys 0 .. i only (OpenAI-layout text towers).
 */
export function attention(
  g: Graph,
  name: string,
  qkv: Tensor,
  heads: number,
  tokens = qkv.shape[1]!,
  causal = false,
): Tensor {
  const W3 = qkv.shape[qkv.shape.length - 1]!;
  const N = tokens;
  const B = rowsOf(qkv) / N;
  const out = g.activation(name, [B, N, W3 / 3]);
  if (qkv.storage === 'texture') {
    g.kernel(name, [qkv], [out], (d, r, rt) =>
      attentionTexture(d, { qkv: rt(qkv), tokens: N, out: r(out), heads, causal }),
    );
    return out;
  }
  if (attentionReads(g.kernels) === 'buffer') {
    // A [B·N, 3W] buffer (a GEMM that read a texture x) is viewed as [B, N, 3W].
    g.kernel(name, [qkv], [out], (d, r) =>
      attentionDispatch(d, {
        qkv: { ...r(qkv), shape: [B, N, W3] },
        out: r(out),
        heads,
        causal,
        variant: g.kernels.attentionVariant,
        precision: g.kernels.precision,
      }),
    );
    return out;
  }
  const seqs = Math.max(1, Math.min(B, Math.floor(textureRows(g) / N)));
  chunked(B, seqs, name, (b0, nb, part) => {
    const qt = g.activation(`${part}.qkv`, [nb * N, W3], 'texture');
    g.kernel(`${part}.texture_pack`, [qkv], [qt], (d, r, rt) =>
      texturePack(d, { x: r(qkv), out: rt(qt), row0: b0 * N }),
    );
    g.kernel(part, b0 === 0 ? [qt] : [qt, out], [out], (d, r, rt) =>
      attentionTexture(d, { qkv: rt(qt), tokens: N, out: r(out), heads, batch0: b0, causal }),
    );
  });
  return out;
}

export function meanPool(g: Graph, name: string, x: Tensor, skip: number): Tensor {
  const [B, , W] = x.shape as [number, number, number];
  const y = g.activation(name, [B, W]);
  g.kernel(name, [x], [y], (d, r) => meanPoolDispatch(d, { x: r(x), y: r(y), skip }));
  return y;
}

/** x[:, from:] of a [B, N, W] tensor, as a new [B, N - from, W] tensor (buffer copies, no kernel). */
export function sliceTokens(g: Graph, name: string, x: Tensor, from: number): Tensor {
  const [B, N, W] = x.shape as [number, number, number];
  const e = x.bytes / elementCount(x.shape);
  const y = g.activation(name, [B, N - from, W]);
  const regions = Array.from({ length: B }, (_, b) => ({
    src: (b * N + from) * W * e,
    dst: b * (N - from) * W * e,
    bytes: (N - from) * W * e,
  }));
  g.copy(name, x, y, regions);
  return y;
}

/** x[:, index] of a [B, N, W] tensor (the class token, the last text token), as a new [B, W] tensor (buffer copies, no kernel). */
export function tokenAt(g: Graph, name: string, x: Tensor, index: number): Tensor {
  const [B, N, W] = x.shape as [number, number, number];
  if (!Number.isInteger(index) || index < 0 || index >= N)
    throw new Error(`graph: token ${index} of ${name} is outside 0..${N - 1}`);
  const e = x.bytes / elementCount(x.shape);
  const y = g.activation(name, [B, W]);
  g.copy(
    name,
    x,
    y,
    Array.from({ length: B }, (_, b) => ({ src: (b * N + index) * W * e, dst: b * W * e, bytes: W * e })),
  );
  return y;
}

/** out[b, t] = table[ids[b, t]] + pos[t]: token embeddings of a [B, T] u32 id tensor. */
export function embedding(g: Graph, name: string, ids: Tensor, table: Tensor, pos: Tensor): Tensor {
  const [B, T] = ids.shape as [number, number];
  const out = g.activation(name, [B, T, table.shape[1]!]);
  g.kernel(name, [ids, table, pos], [out], (d, r) =>
    embeddingDispatch(d, { ids: r(ids), table: r(table), pos: r(pos), out: r(out), f16Loads: g.kernels.f16Loads }),
  );
  return out;
}

/**
 * x[b, rows[b] - b·N] of a [B, N, W] tensor as a new [B, W] tensor: one row per sequence at a
 * position known only at run time (`rows`: a [B, 1] u32 tensor of flat row indices b·N + position,
 * e.g. the `<|endoftext|>` token of each text). The embedding kernel without a position table (a
 * row gather over x viewed as [B·N, W]).
 */
export function gatherRows(g: Graph, name: string, x: Tensor, rows: Tensor): Tensor {
  const [B, N, W] = x.shape as [number, number, number];
  if (rows.dtype !== 'u32' || rows.shape.join() !== `${B},1`)
    throw new Error(
      `graph: ${name}: rows must be a [${B}, 1] u32 tensor, got [${rows.shape.join(', ')}] ${rows.dtype}`,
    );
  const y = g.activation(name, [B, W]);
  g.kernel(name, [rows, x], [y], (d, r) =>
    embeddingDispatch(d, {
      ids: r(rows),
      table: { ...r(x), shape: [B * N, W] },
      pos: null,
      out: { ...r(y), shape: [B, 1, W] },
    }),
  );
  return y;
}

/** A snapshot of x at this point of the graph (for debugging outputs such as block0). */
export function snapshot(g: Graph, name: string, x: Tensor): Tensor {
  const y = g.activation(name, x.shape);
  g.copy(name, x, y, [{ src: 0, dst: 0, bytes: x.bytes }]);
  return y;
}
