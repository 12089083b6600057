// Timings you can trust: timestamp queries without Dawn's 65.536 µs quantization where asked
// (requestDevice({ preciseTimestamps: true }), what the benchmarks, profiles and `tune` use), and
// short dispatches timed as repeats in one pass (timeDispatch).
import { describe, expect, it } from 'vitest';
import { requestDevice } from '../../src/device.js';
import { layerNorm } from '../../src/kernels/layernorm.js';
import {
  MAX_REPEATS,
  MIN_TIMED_MS,
  timeDispatch,
  timingRepeats,
  uploadTensor,
} from '../../src/kernels/program/harness.js';
import type { Dispatch } from '../../src/kernels/program/index.js';

/** Raw timestamp deltas (ns) of `n` single-dispatch passes. */
async function deltas(device: GPUDevice, d: Dispatch, n: number): Promise<bigint[]> {
  const qs = device.createQuerySet({ type: 'timestamp', count: 2 });
  const res = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const read = device.createBuffer({ size: 16, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass({
      timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
    });
    d.encode(pass);
    pass.end();
    enc.resolveQuerySet(qs, 0, 2, res, 0);
    enc.copyBufferToBuffer(res, 0, read, 0, 16);
    device.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const ts = new BigUint64Array(read.getMappedRange());
    out.push(ts[1]! - ts[0]!);
    read.destroy();
  }
  qs.destroy();
  res.destroy();
  return out;
}

function smallLayerNorm(device: GPUDevice): Dispatch {
  const t = (shape: number[]) => uploadTensor(device, new Float32Array(shape.reduce((a, b) => a * b)), shape);
  return layerNorm(device, { x: t([64, 256]), gamma: t([256]), beta: t([256]), y: t([64, 256]), eps: 1e-6 });
}

const QUANTUM = 65536n; // Dawn's default timestamp step, ns

describe('timestamp queries', () => {
  it("preciseTimestamps lifts Dawn's 65.536 µs quantization in Node; the default keeps it", async (ctx) => {
    const precise = await requestDevice({ preciseTimestamps: true });
    const plain = await requestDevice();
    try {
      if (!precise.features.includes('timestamp-query')) return ctx.skip('no timestamp-query on this adapter');
      if (!precise.runtime.endsWith('-dawn')) return ctx.skip(`runtime ${precise.runtime}: not Dawn`);
      expect(precise.timestamps).toBe('precise');
      expect(plain.timestamps).toBe('quantized');
      const p = await deltas(precise.device, smallLayerNorm(precise.device), 8);
      const q = await deltas(plain.device, smallLayerNorm(plain.device), 8);
      // Quantized readings are all whole steps; precise ones are not (8 readings all landing on a
      // multiple of 65,536 ns by chance: ~2^-128).
      expect(q.every((v) => v % QUANTUM === 0n)).toBe(true);
      expect(p.some((v) => v % QUANTUM !== 0n)).toBe(true);
    } finally {
      precise.device.destroy();
      plain.device.destroy();
    }
  });

  it("Deno's wgpu does not quantize timestamps: the device says 'precise' without being asked", async (ctx) => {
    const d = await requestDevice();
    try {
      if (d.runtime !== 'deno-wgpu') return ctx.skip(`runtime ${d.runtime}: not Deno's wgpu`);
      if (!d.features.includes('timestamp-query')) return ctx.skip('no timestamp-query on this adapter');
      expect(d.timestamps).toBe('precise');
      const p = await deltas(d.device, smallLayerNorm(d.device), 8);
      expect(p.some((v) => v % QUANTUM !== 0n)).toBe(true);
    } finally {
      d.device.destroy();
    }
  });

  it('timingRepeats: one dispatch at or above the threshold, else enough to fill it, at most MAX_REPEATS', () => {
    expect(MIN_TIMED_MS).toBe(0.5);
    expect(timingRepeats(0.5)).toBe(1);
    expect(timingRepeats(3)).toBe(1);
    expect(timingRepeats(0.1)).toBe(5);
    expect(timingRepeats(0.3)).toBe(2);
    expect(timingRepeats(0)).toBe(MAX_REPEATS);
    expect(timingRepeats(1e-6)).toBe(MAX_REPEATS);
    expect(timingRepeats(0.2, 2)).toBe(10);
    expect(() => timingRepeats(0.1, -1)).toThrow(/argument 'minMs': must be a number >= 0, got -1/);
    expect(() => timingRepeats(0.1, Number.NaN)).toThrow(/minMs/);
  });

  // Which branch runs is chosen by the threshold, not by how fast this machine is today: a 64×256
  // LayerNorm never takes 10^6 ms, and every dispatch takes at least 0 ms.
  it('timeDispatch times a dispatch shorter than the threshold as repeats in one pass, a longer one alone', async () => {
    const { device } = await requestDevice({ preciseTimestamps: true });
    try {
      const short = await timeDispatch(device, smallLayerNorm(device), 3, { minMs: 1e6 });
      expect(short.ms).toBeGreaterThan(0);
      expect(short.repeats).toBe(MAX_REPEATS);
      const long = await timeDispatch(device, smallLayerNorm(device), 3, { minMs: 0 });
      expect(long.ms).toBeGreaterThan(0);
      expect(long.repeats).toBe(1);
      await expect(timeDispatch(device, smallLayerNorm(device), 3, { minMs: -1 })).rejects.toThrow(/minMs/);
    } finally {
      device.destroy();
    }
  });
});
