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

  it('split-K: a gemm node into a planned [S, M, N] workspace, then a gemm_splitk_reduce node', () => {
    const cfg = { ...presetConfig('b-16'), layers: 2 };
    const names = (g: Graph) => g.nodes.map((n) => n.name);
    const gemms = (g: Graph) => names(g).filter((n) => /(in_proj|out_proj|c_fc|c_proj)$/.test(n));
    // Forced: every block GEMM (qkv, proj, fc, fc2) split, its workspace an activation like the others.
    const forced = buildViTGraph(cfg, 1, 224, ['embedding'], undefined, { gemmVariant: 'tiled', gemmSplitK: 3 });
    expect(gemms(forced)).toHaveLength(8);
    for (const n of gemms(forced)) expect(names(forced)).toContain(`${n}.splitk_reduce`);
    const ws = forced.tensors.find((t) => t.name.endsWith('c_fc.partials'))!;
    expect(ws.shape).toEqual([3, 197, 3072]);
    expect(planBuffers(forced).slotOf.has(ws)).toBe(true);
    // Built-in: a GPU splits batch 1's GEMMs (too few 128×128 blocks for 132 SMs), not a CPU
    // adapter, and not without traits.
    const limits = {
      maxComputeInvocationsPerWorkgroup: 256,
      maxComputeWorkgroupSizeX: 256,
      maxComputeWorkgroupSizeY: 256,
      maxComputeWorkgroupStorageSize: 16384,
    };
    const gpu = buildViTGraph(cfg, 1, 224, ['embedding'], undefined, {}, { cpu: false, subgroupsOf8: false, limits });
    for (const n of gemms(gpu)) expect(names(gpu)).toContain(`${n}.splitk_reduce`);
    const cpu = buildViTGraph(
      cfg,
      1,
      224,
      ['embedding'],
      undefined,
      { gemmVariant: 'tiled' },
      {
        cpu: true,
        subgroupsOf8: false,
        limits,
      },
    );
    expect(names(cpu).some((n) => n.endsWith('.splitk_reduce'))).toBe(false);
    expect(names(buildViTGraph(cfg, 1, 224, ['embedding'])).some((n) => n.endsWith('.splitk_reduce'))).toBe(false);
    // gemmSplitK 1: none, whatever the adapter.
    const off = buildViTGraph(
      cfg,
      1,
      224,
      ['embedding'],
      undefined,
      { gemmSplitK: 1 },
      { cpu: false, subgroupsOf8: false, limits },
    );
    expect(names(off).some((n) => n.endsWith('.splitk_reduce'))).toBe(false);
  });
});
