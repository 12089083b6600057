// Test helpers: one Dawn device per test file, upload / readback of f32 tensors.
import { requestDevice } from '../../src/device.js';
import { elementCount } from '../../src/shape.js';
import { unusedBinding, type Dispatch, type TensorRef } from '../../src/kernels/program.js';
import { seededNormal } from '../../src/model/random.js';

let devicePromise: Promise<GPUDevice> | null = null;

export function testDevice(): Promise<GPUDevice> {
  devicePromise ??= requestDevice().then((d) => d.device);
  return devicePromise;
}

export function upload(device: GPUDevice, data: Float32Array, shape: number[]): TensorRef {
  const buffer = device.createBuffer({
    size: Math.max(16, Math.ceil(data.byteLength / 4) * 4),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(buffer, 0, data as Float32Array<ArrayBuffer>);
  return { buffer, shape, dtype: 'f32' };
}

/** An output tensor filled with NaN so that any element the kernel fails to write shows up. */
export function poisoned(device: GPUDevice, shape: number[]): TensorRef {
  const n = elementCount(shape);
  return upload(device, new Float32Array(n).fill(NaN), shape);
}

/** Encodes the dispatches into one pass and waits; any WebGPU validation error fails the test. */
export async function run(device: GPUDevice, ...dispatches: Dispatch[]): Promise<void> {
  device.pushErrorScope('validation');
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  for (const d of dispatches) d.encode(pass);
  pass.end();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  const err = await device.popErrorScope();
  if (err) throw new Error(`WebGPU validation error: ${err.message}`);
}

export async function readback(device: GPUDevice, t: TensorRef): Promise<Float32Array> {
  const n = elementCount(t.shape);
  const staging = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(t.buffer, t.offset ?? 0, staging, 0, n * 4);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return out;
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
 * Tracks the GPU buffers created on `device` from now on and which of them are still alive (not
 * destroyed). The buffers stay the device's own objects, so they can be bound as usual. The
 * device's shared 16-byte "unused binding" buffer (program.ts; it lives as long as the device) is
 * made first, so that it is not counted.
 */
export function trackBuffers(device: GPUDevice): { live(): number; created(): number; stop(): void } {
  unusedBinding(device);
  const live = new Set<GPUBuffer>();
  let created = 0;
  const create = device.createBuffer.bind(device);
  let proto: { destroy: (this: GPUBuffer) => void } | null = null;
  let destroy: ((this: GPUBuffer) => void) | null = null;
  device.createBuffer = function (this: GPUDevice, desc: GPUBufferDescriptor) {
    const b = create(desc);
    if (!proto) {
      proto = Object.getPrototypeOf(b) as { destroy: (this: GPUBuffer) => void };
      destroy = proto.destroy;
      proto.destroy = function (this: GPUBuffer) {
        live.delete(this);
        return destroy!.call(this);
      };
    }
    live.add(b);
    created++;
    return b;
  };
  return {
    live: () => live.size,
    created: () => created,
    stop() {
      device.createBuffer = create;
      if (proto && destroy) proto.destroy = destroy;
    },
  };
}
