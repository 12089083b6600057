// Peer: ONNX Runtime Web's WebGPU execution provider inside Node, on the same Dawn adapter, running
// the same model exported to ONNX by src/onnx/export.ts. Three steps make it run in Node (found on
// this machine, see docs/peers.md): import the WebGPU build by file, give it
// `navigator.gpu` from the `webgpu` package, and copy SharedArrayBuffer-backed data before
// GPUQueue.writeBuffer (dawn.node rejects views over shared memory).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { nodeGpu } from '../../src/device.js';

type Ort = typeof import('onnxruntime-web');
let ortPromise: Promise<Ort> | null = null;

async function loadOrt(flags: string[]): Promise<Ort> {
  ortPromise ??= (async () => {
    const gpu = await nodeGpu(flags);
    (globalThis as { navigator?: unknown }).navigator ??= { gpu };
    const proto = (globalThis as unknown as { GPUQueue: { prototype: GPUQueue } }).GPUQueue.prototype;
    // eslint-disable-next-line @typescript-eslint/unbound-method -- patched below and called with .call(this)
    const write = proto.writeBuffer;
    proto.writeBuffer = function (
      this: GPUQueue,
      buffer: GPUBuffer,
      offset: number,
      data: BufferSource,
      dataOffset?: number,
      size?: number,
    ) {
      const view = data as ArrayBufferView;
      if (view.buffer instanceof SharedArrayBuffer) {
        const copy = new Uint8Array(view.byteLength);
        copy.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
        const bpe = (data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
        return write.call(
          this,
          buffer,
          offset,
          copy,
          dataOffset === undefined ? undefined : dataOffset * bpe,
          size === undefined ? undefined : size * bpe,
        );
      }
      return write.call(this, buffer, offset, data, dataOffset, size);
    };
    const require = createRequire(import.meta.url);
    const dist = dirname(require.resolve('onnxruntime-web')); // …/onnxruntime-web/dist
    const ort = (await import(pathToFileURL(join(dist, 'ort.webgpu.min.mjs')).href)) as Ort;
    ort.env.wasm.wasmPaths = dist + '/';
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = 'error';
    return ort;
  })();
  return ortPromise;
}

export interface PeerRun {
  name: string;
  msPerBatch: number;
  firstRunMs: number;
  embedding: Float32Array;
}

/**
 * The timing both ONNX Runtime peers share: the first run (from `start`, session creation included),
 * `warmup` runs, then the median of `iters` runs of session.run with the embedding read back on the CPU.
 */
export async function timeSession<O>(
  run: (names: string[]) => Promise<O>,
  start: number,
  iters: number,
  warmup: number,
): Promise<{ out: O; firstRunMs: number; msPerBatch: number }> {
  let out = await run(['embedding']);
  const firstRunMs = performance.now() - start;
  for (let i = 0; i < warmup; i++) out = await run(['embedding']);
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t = performance.now();
    out = await run(['embedding']); // outputs on the CPU: resolves after the work and the readback
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { out, firstRunMs, msPerBatch: times[Math.floor(times.length / 2)]! };
}

/** Creates a session on a device of its own (same adapter), times `iters` runs after `warmup`. */
export async function runOrtWebGpu(
  model: Uint8Array,
  pixels: Float32Array,
  shape: number[],
  iters: number,
  warmup: number,
  flags: string[] = [],
): Promise<PeerRun> {
  const ort = await loadOrt(flags);
  const t = performance.now();
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['webgpu'],
    graphOptimizationLevel: 'all',
  });
  const feeds = { image: new ort.Tensor('float32', pixels, shape) };
  const r = await timeSession((names) => session.run(feeds, names), t, iters, warmup);
  const embedding = Float32Array.from(r.out.embedding!.data as Float32Array);
  await session.release();
  return { name: 'ORT Web 1.30 WebGPU EP', msPerBatch: r.msPerBatch, firstRunMs: r.firstRunMs, embedding };
}
