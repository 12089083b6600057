// Buffer planning: activations whose lifetimes do not overlap share a buffer.
// A tensor lives from the first node that writes it to the last node that touches it (outputs to
// the end of the graph). Walking the nodes in order, each new tensor takes the best-fitting free
// buffer (growing the largest free one if none fits) and frees its buffer after its last use.
// Texture-stored activations are planned the same way among textures of the same size (a texture
// cannot grow, and a matrix only fits a texture of its own width and at least its rows).
import { matrixTextureWidth } from '../kernels/program/texture-matrix.js';
import type { Graph, Tensor } from './graph.js';

export interface BufferPlan {
  /** Buffer index of every activation tensor. */
  readonly slotOf: ReadonlyMap<Tensor, number>;
  /** Byte size of each buffer. */
  readonly slotBytes: readonly number[];
  /** Sum of the buffers: the activation memory the graph needs. */
  readonly plannedBytes: number;
  /** What one buffer per activation would take, for comparison. */
  readonly unplannedBytes: number;
  /** Texture index of every texture-stored activation. */
  readonly textureSlotOf: ReadonlyMap<Tensor, number>;
  /** Each texture's matrix shape [rows, cols] (its size: matrixTextureWidth(cols) × rows texels). */
  readonly textureSlots: readonly (readonly [number, number])[];
}

export function planBuffers(graph: Graph): BufferPlan {
  const first = new Map<Tensor, number>();
  const last = new Map<Tensor, number>();
  graph.nodes.forEach((n, i) => {
    for (const t of [...n.reads, ...n.writes]) {
      if (t.kind !== 'activation') continue;
      if (!first.has(t)) {
        if (!n.writes.includes(t)) throw new Error(`graph: node ${n.name} reads ${t.name} before anything writes it`);
        first.set(t, i);
      }
      last.set(t, i);
    }
  });
  const end = graph.nodes.length;
  for (const t of graph.outputs.values()) if (t.kind === 'activation') last.set(t, end);

  const slotBytes: number[] = [];
  const free = new Set<number>();
  const slotOf = new Map<Tensor, number>();
  const textureSlots: [number, number][] = [];
  const freeTextures = new Set<number>();
  const textureSlotOf = new Map<Tensor, number>();
  const sameTexture = (s: number, t: Tensor) =>
    textureSlots[s]![0] === t.shape[0] && matrixTextureWidth(textureSlots[s]![1]) === matrixTextureWidth(t.shape[1]!);
  const releaseAt = new Map<number, Tensor[]>();
  for (const [t, i] of last) releaseAt.set(i, [...(releaseAt.get(i) ?? []), t]);

  graph.nodes.forEach((n, i) => {
    for (const t of n.writes) {
      if (t.kind !== 'activation' || first.get(t) !== i || slotOf.has(t) || textureSlotOf.has(t)) continue;
      if (t.storage === 'texture') {
        let s = [...freeTextures].find((f) => sameTexture(f, t));
        if (s === undefined) {
          s = textureSlots.length;
          textureSlots.push([t.shape[0]!, t.shape[1]!]);
        } else freeTextures.delete(s);
        textureSlotOf.set(t, s);
        continue;
      }
      let best = -1;
      for (const s of free) if (slotBytes[s]! >= t.bytes && (best < 0 || slotBytes[s]! < slotBytes[best]!)) best = s;
      if (best < 0) for (const s of free) if (best < 0 || slotBytes[s]! > slotBytes[best]!) best = s;
      if (best < 0) {
        best = slotBytes.length;
        slotBytes.push(0);
      } else {
        free.delete(best);
      }
      slotBytes[best] = Math.max(slotBytes[best]!, t.bytes);
      slotOf.set(t, best);
    }
    for (const t of releaseAt.get(i) ?? []) {
      if (t.storage === 'texture') freeTextures.add(textureSlotOf.get(t)!);
      else free.add(slotOf.get(t)!);
    }
  });
  let unplanned = 0;
  for (const t of first.keys()) if (t.storage === 'buffer') unplanned += t.bytes;
  return {
    slotOf,
    slotBytes,
    plannedBytes: slotBytes.reduce((a, b) => a + b, 0),
    unplannedBytes: unplanned,
    textureSlotOf,
    textureSlots,
  };
}
