import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/graph/graph.js';
import { planBuffers } from '../../src/graph/planner.js';
import { buildViTGraph } from '../../src/model/vit.js';
import { presetConfig } from '../../src/model/config.js';

const noop = () => {
  throw new Error('not bound in planner tests');
};

describe('buffer planner', () => {
  it('reuses the buffer of a tensor that is dead, never one that is live', () => {
    const g = new Graph();
    const x = g.input('x', [4]);
    const a = g.activation('a', [4]);
    g.kernel('k1', [x], [a], noop);
    const b = g.activation('b', [4]);
    g.kernel('k2', [a], [b], noop); // a dies here: b must not share a's buffer (k2 reads a)
    const c = g.activation('c', [4]);
    g.kernel('k3', [b], [c], noop); // a's buffer is free: c takes it
    g.output('c', c);
    const plan = planBuffers(g);
    expect(plan.slotOf.get(a)).not.toBe(plan.slotOf.get(b));
    expect(plan.slotOf.get(c)).toBe(plan.slotOf.get(a));
    expect(plan.slotBytes.length).toBe(2);
    expect(plan.plannedBytes).toBe(32);
    expect(plan.unplannedBytes).toBe(48);
  });

  it('keeps outputs alive to the end', () => {
    const g = new Graph();
    const x = g.input('x', [4]);
    const a = g.activation('a', [4]);
    g.kernel('k1', [x], [a], noop);
    g.output('a', a);
    const b = g.activation('b', [4]);
    g.kernel('k2', [x], [b], noop);
    const c = g.activation('c', [4]);
    g.kernel('k3', [b], [c], noop);
    const plan = planBuffers(g);
    expect(new Set([plan.slotOf.get(a), plan.slotOf.get(b)]).size).toBe(2);
    expect(plan.slotOf.get(c)).not.toBe(plan.slotOf.get(a));
  });

  it('plans a ViT-B/16 forward pass in a few buffers, independent of depth', () => {
    const cfg = presetConfig('b-16');
    const shallow = planBuffers(buildViTGraph({ ...cfg, layers: 2 }, 8, 224, ['tokens', 'pooled', 'embedding']));
    const deep = planBuffers(buildViTGraph(cfg, 8, 224, ['tokens', 'pooled', 'embedding']));
    expect(deep.plannedBytes).toBe(shallow.plannedBytes);
    // x, the MLP hidden state (largest), qkv / attention out, and small tensors: far below one buffer each.
    expect(deep.plannedBytes).toBeLessThan(deep.unplannedBytes / 10);
    const n = 197,
      W = 768,
      B = 8;
    expect(deep.plannedBytes).toBeGreaterThanOrEqual(4 * B * n * (W + 4 * W)); // x and the MLP hidden live together
  });
});
