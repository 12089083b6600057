// forward with device-resident data (issue 26, "no host stalls"): pixels already in a GPU buffer
// (copied on the device, in the forward's own command buffer) and outputs kept in GPU buffers
// (copied there, nothing mapped) give the same values, bit for bit, as host arrays, chunked or not;
// a buffer too small or without COPY_SRC is refused by name, and a refused call leaks nothing.
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/errors.js';
import { VisionTransformer } from '../../src/model/vit.js';
import { fixture } from '../helpers/fixtures.js';
import { readback as readTensor, rng, testDevice, trackBuffers } from '../helpers/gpu.js';

const NAME = 'ov1-ti16-224-d1';

describe('forward on device-resident data', () => {
  it('a GPUBuffer input and onDevice outputs equal the host arrays bit for bit, chunked too', async () => {
    const device = await testDevice();
    const model = await VisionTransformer.load(device, {
      weights: fixture(`${NAME}.safetensors`),
      config: fixture(`${NAME}.open_clip_config.json`),
    });
    try {
      const S = model.config.imageSize,
        B = 3;
      const pixels = rng(7).normals(B * 3 * S * S);
      const input = device.createBuffer({
        size: pixels.byteLength,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      device.queue.writeBuffer(input, 0, pixels as Float32Array<ArrayBuffer>);
      const outputs = ['embedding', 'tokens'] as const;
      for (const maxBatch of [undefined, 2]) {
        const host = await model.forward(pixels, B, { outputs, maxBatch });
        const fromGpu = await model.forward(input, B, { outputs, maxBatch });
        expect(fromGpu.embedding).toEqual(host.embedding);
        expect(fromGpu.tokens).toEqual(host.tokens);
        const kept = await model.forward(input, B, { outputs, maxBatch, onDevice: true });
        expect(kept.chunks).toEqual(maxBatch ? [2, 1] : [3]);
        expect(kept.embedding).toBeUndefined();
        for (const k of outputs) {
          const buf = kept.buffers![k]!;
          const values = await readTensor(device, { buffer: buf, shape: [buf.size / 4], dtype: 'f32' });
          expect(values).toEqual(host[k]);
          buf.destroy();
        }
      }
      input.destroy();
    } finally {
      model.destroy();
    }
  });

  it('a buffer too small or without COPY_SRC is refused by name; a refused call leaks nothing', async () => {
    const device = await testDevice();
    const model = await VisionTransformer.load(device, {
      weights: fixture(`${NAME}.safetensors`),
      config: fixture(`${NAME}.open_clip_config.json`),
    });
    const S = model.config.imageSize;
    const small = device.createBuffer({ size: 3 * S * S * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const noCopy = device.createBuffer({ size: 2 * 3 * S * S * 4, usage: GPUBufferUsage.STORAGE });
    const tracked = trackBuffers(device);
    try {
      await expect(model.forward(small, 2)).rejects.toThrow(
        new ArgumentError(
          'forward',
          'pixels',
          `is a GPUBuffer of ${3 * S * S * 4} bytes; [2, 3, ${S}, ${S}] float32 needs ${2 * 3 * S * S * 4}`,
        ),
      );
      await expect(model.forward(noCopy, 2, { onDevice: true })).rejects.toThrow(/without COPY_SRC usage/);
      expect(tracked.live()).toBe(0);
    } finally {
      tracked.stop();
      small.destroy();
      noCopy.destroy();
      model.destroy();
    }
  });
});
