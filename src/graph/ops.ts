// Graph-level ops: each adds one kernel node and returns its output tensor. These are the only
// place where graph tensors meet the kernel wrappers of src/kernels.
import { attention as attentionDispatch } from '../kernels/attention.js';
import { embedding as embeddingDispatch } from '../kernels/embedding.js';
import { gemm, type GemmEpilogue } from '../kernels/gemm.js';
import { gemmTexture } from '../kernels/gemm-texture.js';
import { texturePack } from '../kernels/texture-pack.js';
import { MATRIX_TEXTURE_ROWS } from '../kernels/texture-matrix.js';
import { elementCount } from '../shape.js';
import { layerNorm as layerNormDispatch } from '../kernels/layernorm.js';
import { meanPool as meanPoolDispatch } from '../kernels/mean-pool.js';
import { patchEmbed as patchEmbedDispatch } from '../kernels/patch-embed.js';
import { DTYPE_BYTES } from '../kernels/program.js';
import type { Graph, Tensor } from './graph.js';

export function patchEmbed(g: Graph, name: string, image: Tensor, weight: Tensor, cls: Tensor, pos: Tensor): Tensor {
  const [B] = image.shape as [number];
  const out = g.activation(name, [B, pos.shape[0]!, weight.shape[0]!]);
  g.kernel(name, [image, weight, cls, pos], [out], (d, r) =>
    patchEmbedDispatch(d, {
      image: r(image),
      weight: r(weight),
      cls: r(cls),
      pos: r(pos),
      out: r(out),
      tile: g.kernels.gemmTile,
    }),
  );
  return out;
}

export function layerNorm(g: Graph, name: string, x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor {
  const y = g.activation(name, x.shape);
  g.kernel(name, [x, gamma, beta], [y], (d, r) =>
    layerNormDispatch(d, { x: r(x), gamma: r(gamma), beta: r(beta), y: r(y), eps }),
  );
  return y;
}

/** The model's GEMM variant for weight `w` [N, K]: 'subgroup' needs K % 4 == 0 (else the kernel's default). */
const gemmVariant = (g: Graph, w: Tensor) =>
  g.kernels.gemmVariant === 'subgroup' && w.shape[1]! % 4 !== 0
    ? undefined
    : g.kernels.gemmVariant === 'texture'
      ? undefined
      : g.kernels.gemmVariant;

/**
 * y = epilogue(x·wᵀ + b) (y read too for 'residual'): with a buffer weight, one gemm node; with a
 * texture-stored weight, x is packed into a matrix texture (texture_pack) and gemm_texture reads
 * both, in chunks of MATRIX_TEXTURE_ROWS rows.
 */
function addGemm(g: Graph, name: string, x: Tensor, w: Tensor, b: Tensor | null, y: Tensor, epilogue: GemmEpilogue) {
  const reads = [x, w, ...(b ? [b] : []), ...(epilogue === 'residual' ? [y] : [])];
  if (w.storage === 'buffer') {
    g.kernel(name, reads, [y], (d, r) =>
      gemm(d, {
        x: r(x),
        w: r(w),
        bias: b ? r(b) : null,
        y: r(y),
        epilogue,
        tile: g.kernels.gemmTile,
        variant: gemmVariant(g, w),
      }),
    );
    return;
  }
  const K = w.shape[1]!;
  const M = elementCount(x.shape) / K;
  const chunk = Math.min(M, MATRIX_TEXTURE_ROWS);
  for (let row0 = 0; row0 < M; row0 += chunk) {
    const rows = Math.min(chunk, M - row0);
    const part = M > chunk ? `${name}[${row0}:${row0 + rows}]` : name;
    const xt = g.activation(`${part}.x`, [rows, K], 'texture');
    g.kernel(`${part}.texture_pack`, [x], [xt], (d, r, rt) => texturePack(d, { x: r(x), out: rt(xt), row0 }));
    g.kernel(part, [xt, ...reads.slice(1)], [y], (d, r, rt) =>
      gemmTexture(d, { x: rt(xt), w: rt(w), bias: b ? r(b) : null, y: r(y), epilogue, row0 }),
    );
  }
}

/** y = act(x·wᵀ + b), a new tensor. */
export function linear(
  g: Graph,
  name: string,
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  epilogue: Exclude<GemmEpilogue, 'residual'> = 'none',
): Tensor {
  const y = g.activation(name, [...x.shape.slice(0, -1), w.shape[0]!]);
  addGemm(g, name, x, w, b, y, epilogue);
  return y;
}

/** residual += x·wᵀ + b, in place; returns `residual`. */
export function linearAddInto(g: Graph, name: string, residual: Tensor, x: Tensor, w: Tensor, b: Tensor): Tensor {
  addGemm(g, name, x, w, b, residual, 'residual');
  return residual;
}

export function attention(g: Graph, name: string, qkv: Tensor, heads: number): Tensor {
  const [B, N, W3] = qkv.shape as [number, number, number];
  const out = g.activation(name, [B, N, W3 / 3]);
  g.kernel(name, [qkv], [out], (d, r) =>
    attentionDispatch(d, { qkv: r(qkv), out: r(out), heads, variant: g.kernels.attentionVariant }),
  );
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
  const e = DTYPE_BYTES[x.dtype];
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
  const e = DTYPE_BYTES[x.dtype];
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
    embeddingDispatch(d, { ids: r(ids), table: r(table), pos: r(pos), out: r(out) }),
  );
  return out;
}

/** A snapshot of x at this point of the graph (for debugging outputs such as block0). */
export function snapshot(g: Graph, name: string, x: Tensor): Tensor {
  const y = g.activation(name, x.shape);
  g.copy(name, x, y, [{ src: 0, dst: 0, bytes: x.bytes }]);
  return y;
}
