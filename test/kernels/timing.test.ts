// Timings you can trust: timestamp queries without Dawn's 65.536 µs quantization where asked
// (requestDevice({ preciseTimestamps: true }), what the benchmarks, profiles and `tune` use), and
// short dispatches timed as repeats in one pass (timeDispatch).
import { describe, expect, it } from 'vitest';
import { requestDevice } from '../../src/device.js';
import { layerNorm } from '../../src/kernels/layernorm.js';
import { MIN_TIMED_MS, timeDispatch, uploadTensor } from '../../src/kernels/program/harness.js';
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

  it('timeDispatch times a dispatch shorter than MIN_TIMED_MS as repeats in one pass', async () => {
    const { device } = await requestDevice({ preciseTimestamps: true });
    try {
      const r = await timeDispatch(device, smallLayerNorm(device), 3);
      expect(r.ms).toBeGreaterThan(0);
      // A 64×256 LayerNorm (16K values) takes microseconds, far under MIN_TIMED_MS = 0.5 ms.
      expect(MIN_TIMED_MS).toBe(0.5);
      expect(r.repeats).toBeGreaterThan(1);
    } finally {
      device.destroy();
    }
  });
});
