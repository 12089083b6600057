// Native reference: the same exported ONNX model on onnxruntime-node's CPU execution provider (native
// code, multi-threaded, on the same cores as the CPU adapter): how far our WebGPU kernels are from
// what these cores do natively. onnxruntime-node is optional — its install script downloads CUDA
// parts and fails offline (docs/peers.md) — so `npm run setup:native` installs it without
// scripts and without touching package.json; when it is absent the benchmark says so and skips it.
import { timeSession, type PeerRun } from './ort-web.js';

interface OrtNode {
  InferenceSession: {
    create(
      model: Uint8Array,
      opts: object,
    ): Promise<{
      run(feeds: object, names: string[]): Promise<Record<string, { data: Float32Array }>>;
      release(): Promise<void>;
    }>;
  };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => object;
  env: { versions?: { common?: string } };
}

let loaded: Promise<OrtNode | null> | null = null;

/** onnxruntime-node if installed (npm run setup:native), else null. */
export function loadOrtNode(): Promise<OrtNode | null> {
  const name = 'onnxruntime-node'; // not a dependency: resolved at run time only
  loaded ??= import(name).then(
    (m: { default?: OrtNode } & OrtNode) => m.default ?? m,
    () => null,
  );
  return loaded;
}

export const NATIVE_MISSING =
  'onnxruntime-node is not installed: `npm run setup:native` installs it (no install script, package.json untouched)';

/** Times `iters` CPU-EP runs after `warmup` (all cores, as ORT's default thread pool). */
export async function runOrtNodeCpu(
  model: Uint8Array,
  pixels: Float32Array,
  shape: number[],
  iters: number,
  warmup: number,
): Promise<PeerRun> {
  const ort = await loadOrtNode();
  if (!ort) throw new Error(NATIVE_MISSING);
  const t = performance.now();
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
  });
  const feeds = { image: new ort.Tensor('float32', pixels, shape) };
  const r = await timeSession((names) => session.run(feeds, names), t, iters, warmup);
  const embedding = Float32Array.from(r.out.embedding!.data);
  await session.release();
  const version = ort.env.versions?.common ?? '';
  return {
    name: `onnxruntime-node ${version} CPU EP`.replace('  ', ' '),
    msPerBatch: r.msPerBatch,
    firstRunMs: r.firstRunMs,
    embedding,
  };
}
