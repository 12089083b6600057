// The ONNX export computes the same model: each fixture case exported and run by ONNX Runtime
// (its CPU/wasm execution provider, independent of our kernels) matches the PyTorch outputs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { exportOnnx } from '../../src/onnx/export.js';
import { configFromOpenClip } from '../../src/model/config.js';
import { compare, readExpected } from '../../src/model/verify.js';
import { openCheckpoint } from '../../src/weights/index.js';
import { CASES, fixture } from '../helpers/fixtures.js';

ort.env.wasm.numThreads = 1;

describe('ONNX export', () => {
  it.each(CASES)('%s: exported model run by ONNX Runtime (wasm) matches PyTorch', async (name) => {
    const exp = await readExpected(fixture(`${name}.expected.safetensors`));
    const cfg = configFromOpenClip(JSON.parse(readFileSync(fixture(exp.meta.config!), 'utf8')));
    const [B, , S] = exp.inputShape as [number, number, number];
    const bytes = await exportOnnx(cfg, await openCheckpoint(fixture(exp.meta.weights!)), { batch: B, resolution: S });
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const out = await session.run({ image: new ort.Tensor('float32', exp.input, exp.inputShape) });
    await session.release();
    for (const k of ['embedding', 'tokens'] as const) {
      expect(out[k]!.dims).toEqual(exp.outputs[k]!.shape);
      const c = compare(k, out[k]!.data as Float32Array, exp.outputs[k]!.data);
      expect(c.pass, `${k}: max abs ${c.maxAbs}, cosine ${c.cosine}`).toBe(true);
    }
  });
});
