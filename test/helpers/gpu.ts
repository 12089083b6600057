// Test helpers: one device per test file (Dawn in Node; under Deno its own wgpu, or Dawn with
// WGSL_VIT_WEBGPU=dawn: docs/runtimes.md), upload / readback of f32 tensors.
import { requestDevice, type DeviceInfo } from '../../src/device.js';
import { poisonedTensor, readTensor, runDispatches, uploadTensor } from '../../src/kernels/program/harness.js';
import {
  unusedBinding,
  unusedOutput,
  unusedTexture,
  type Dispatch,
  type TensorRef,
} from '../../src/kernels/program/index.js';
import { seededNormal } from '../../src/model/random.js';
import { dequantize, quantizeQ8, toF16, type Q8Weight } from '../../src/kernels/program/weight-format.js';
import type { WeightDType } from '../../src/kernels/program/types.js';

let devicePromise: Promise<DeviceInfo> | null = null;

/** The test file's device, with what requestDevice() reported of it (its runtime, features). */
export function testDeviceInfo(): Promise<DeviceInfo> {
  devicePromise ??= requestDevice();
  return devicePromise;
}

export function testDevice(): Promise<GPUDevice> {
  return testDeviceInfo().then((d) => d.device);
}

// Upload, NaN-poisoned outputs, run and readback: the harness the kernel benchmark uses too.
export const upload = (device: GPUDevice, data: Float32Array, shape: number[]): TensorRef =>
  uploadTensor(device, data, shape);
export const poisoned = (device: GPUDevice, shape: number[]): TensorRef => poisonedTensor(device, shape);
export const run = (device: GPUDevice, ...dispatches: Dispatch[]): Promise<void> =>
  withinGpuWaitLimit(runDispatches(device, ...dispatches), [...new Set(dispatches.map((d) => d.kernel))].join(', '));
export const readback = (device: GPUDevice, t: TensorRef): Promise<Float32Array> =>
  withinGpuWaitLimit(readTensor(device, t), 'the read-back of an output');

/**
 * How long a test waits for the GPU (a submit to finish, a map) before failing with the kernels
 * named, instead of running into vitest's anonymous 120 s timeout. The first dispatch of a pipeline
 * on lavapipe includes LLVM's compile of it when Mesa's shader cache is cold (a fresh machine): the
 * slowest kernel here compiles in ~8 s on an idle 2-core machine, 4× that with other work beside
 * it (docs/cpu-adapters.md), so 100 s is a hang, not a slow compile.
 */
export const GPU_WAIT_LIMIT_MS = 100_000;

export function withinGpuWaitLimit<T>(p: Promise<T>, what: string, limitMs = GPU_WAIT_LIMIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `${what}: the GPU had not finished after ${limitMs / 1000} s (a hang, or a pipeline compile far slower than any seen)`,
          ),
        ),
      limitMs,
    );
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** Seeded random numbers (src/model/random.ts): tests are reproducible. */
export function rng(seed: number) {
  const normal = seededNormal(seed);
  return {
    normal,
    normals(n: number, std = 1, mean = 0): Float32Array {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = mean + std * normal();
      return a;
    },
  };
}

/** Max over elements of |got - want| / bound, where bound[i] is the allowed error; NaN counts as ∞. */
export function worstRatio(
  got: Float32Array,
  want: ArrayLike<number>,
  bound: (i: number) => number,
): { ratio: number; index: number } {
  let ratio = 0,
    index = -1;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i]! - want[i]!);
    const r = Number.isNaN(e) ? Infinity : e / bound(i);
    if (r > ratio) {
      ratio = r;
      index = i;
    }
  }
  return { ratio, index };
}

/**
 * Tracks the GPU buffers and textures created on `device` from now on and which of them are still
 * alive (not destroyed). They stay the device's own objects, so they can be bound as usual. The
 * device's shared placeholders for switched-off bindings (pipelines.ts: unusedBinding, unusedOutput,
 * unusedTexture; they live as long as the device) are made first, so that they are not counted.
 */
export function trackBuffers(device: GPUDevice): { live(): number; created(): number; stop(): void } {
  unusedBinding(device);
  unusedOutput(device);
  unusedTexture(device);
  const live = new Set<object>();
  let created = 0;
  const restore: (() => void)[] = [];
  const patched = new Set<object>();
  const track = <D, T extends { destroy(): void }>(create: (desc: D) => T) =>
    function (this: GPUDevice, desc: D): T {
      const o = create(desc);
      const proto = Object.getPrototypeOf(o) as { destroy: (this: T) => void };
      if (!patched.has(proto)) {
        patched.add(proto);
        const destroy = proto.destroy;
        proto.destroy = function (this: T) {
          live.delete(this);
          return destroy.call(this);
        };
        restore.push(() => (proto.destroy = destroy));
      }
      live.add(o);
      created++;
      return o;
    };
  const createBuffer = device.createBuffer.bind(device);
  const createTexture = device.createTexture.bind(device);
  device.createBuffer = track(createBuffer);
  device.createTexture = track(createTexture);
  return {
    live: () => live.size,
    created: () => created,
    stop() {
      device.createBuffer = createBuffer;
      device.createTexture = createTexture;
      for (const r of restore) r();
    },
  };
}

/**
 * A seeded f32 weight in `dtype`: what to upload (`stored`: the f32 values, their binary16 bits, or a
 * Q8Weight) and the values it stands for (`values`, dequantized): the float64 reference takes
 * `values`, so a kernel's tolerance stays the f32 one and the quantization error is measured apart
 * (test/model/dtypes.test.ts, the benchmark's accuracy columns).
 */
export function weightAs(
  dtype: WeightDType,
  w: Float32Array,
  rows: number,
  K: number,
): { stored: Float32Array | Uint16Array | Q8Weight; values: Float32Array } {
  const stored = dtype === 'f16' ? toF16(w) : dtype === 'q8' ? quantizeQ8(w, rows, K) : w;
  return { stored, values: dequantize(stored, rows, K) };
}
