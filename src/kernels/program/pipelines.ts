// Pipelines, bind group layouts and shader modules, cached per device and keyed by (kernel,
// specialisation); the shared unused-binding buffer.
import { signatureOf } from './reflect.js';
import { MATRIX_TEXTURE_FORMAT } from './types.js';
import type { KernelSource, Overrides, TensorRef, TextureRef } from './types.js';

interface DeviceCache {
  pipelines: Map<string, GPUComputePipeline>;
  pending: Map<string, Promise<GPUComputePipeline>>;
  layouts: Map<string, GPUBindGroupLayout>;
  modules: Map<string, GPUShaderModule>;
  dummy?: GPUBuffer;
  dummyOutput?: GPUBuffer;
  dummyTexture?: GPUTexture;
}
const deviceCaches = new WeakMap<GPUDevice, DeviceCache>();

function cacheFor(device: GPUDevice): DeviceCache {
  let c = deviceCaches.get(device);
  if (!c) {
    c = { pipelines: new Map(), pending: new Map(), layouts: new Map(), modules: new Map() };
    deviceCaches.set(device, c);
  }
  return c;
}

export function bindGroupLayout(device: GPUDevice, src: KernelSource): GPUBindGroupLayout {
  const cache = cacheFor(device);
  let layout = cache.layouts.get(src.name);
  if (!layout) {
    const sig = signatureOf(src);
    const entries: GPUBindGroupLayoutEntry[] = sig.storage.map((s) => ({
      binding: s.binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: s.writable ? 'storage' : 'read-only-storage' },
    }));
    for (const t of sig.textures) {
      entries.push({
        binding: t.binding,
        visibility: GPUShaderStage.COMPUTE,
        storageTexture: {
          access: t.writable ? 'write-only' : 'read-only',
          format: MATRIX_TEXTURE_FORMAT,
          viewDimension: '2d',
        },
      });
    }
    if (sig.uniform)
      entries.push({ binding: sig.uniform.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
    layout = device.createBindGroupLayout({ label: src.name, entries });
    cache.layouts.set(src.name, layout);
  }
  return layout;
}

export function pipelineKey(src: KernelSource, overrides: Overrides): string {
  const sig = signatureOf(src);
  for (const k of Object.keys(overrides)) {
    if (!sig.overrides.includes(k))
      throw new Error(`kernel ${src.name}: unknown override constant ${k} (has: ${sig.overrides.join(', ')})`);
  }
  return `${src.name}|${JSON.stringify(Object.entries(overrides).sort())}`;
}

function pipelineDescriptor(
  device: GPUDevice,
  src: KernelSource,
  overrides: Overrides,
  key: string,
): GPUComputePipelineDescriptor {
  const cache = cacheFor(device);
  let module = cache.modules.get(src.name);
  if (!module) {
    module = device.createShaderModule({ label: src.name, code: src.wgsl });
    cache.modules.set(src.name, module);
  }
  const constants: Record<string, number> = {};
  for (const [k, v] of Object.entries(overrides)) constants[k] = typeof v === 'boolean' ? Number(v) : v;
  return {
    label: key,
    layout: device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout(device, src)] }),
    compute: { module, entryPoint: 'main', constants },
  };
}

/**
 * The compute pipeline for a kernel specialised with `overrides`, created once per device and key.
 * Override names are checked against the WGSL's own `override` declarations.
 */
export function pipelineFor(device: GPUDevice, src: KernelSource, overrides: Overrides = {}): GPUComputePipeline {
  const key = pipelineKey(src, overrides);
  const cache = cacheFor(device);
  let p = cache.pipelines.get(key);
  if (!p) {
    p = device.createComputePipeline(pipelineDescriptor(device, src, overrides, key));
    cache.pipelines.set(key, p);
  }
  return p;
}

/**
 * pipelineFor without blocking: createComputePipelineAsync, shared by concurrent callers of the
 * same key, so a graph's pipelines compile side by side. Rejects with the implementation's
 * GPUPipelineError (the message names the kernel and key) when the pipeline cannot be created.
 */
export function pipelineForAsync(
  device: GPUDevice,
  src: KernelSource,
  overrides: Overrides = {},
): Promise<GPUComputePipeline> {
  const key = pipelineKey(src, overrides);
  const cache = cacheFor(device);
  const done = cache.pipelines.get(key);
  if (done) return Promise.resolve(done);
  let pending = cache.pending.get(key);
  if (!pending) {
    pending = device.createComputePipelineAsync(pipelineDescriptor(device, src, overrides, key)).then(
      (p) => {
        cache.pending.delete(key);
        if (!cache.pipelines.has(key)) cache.pipelines.set(key, p);
        return cache.pipelines.get(key)!;
      },
      (e: unknown) => {
        cache.pending.delete(key);
        throw new Error(
          `kernel ${src.name}: could not create its pipeline (${key}): ${(e as Error).message ?? String(e)}`,
        );
      },
    );
    cache.pending.set(key, pending);
  }
  return pending;
}

/** A 16-byte read-only buffer bound where a kernel's optional input (e.g. a bias) is switched off. */
export function unusedBinding(device: GPUDevice): TensorRef {
  const cache = cacheFor(device);
  if (!cache.dummy) {
    cache.dummy = device.createBuffer({ label: 'wgsl-vit unused binding', size: 16, usage: GPUBufferUsage.STORAGE });
  }
  return { buffer: cache.dummy, shape: [4], dtype: 'f32' };
}

/** A 16-byte buffer bound where a kernel's output buffer is switched off (distinct from unusedBinding, so a written binding never aliases a read one). */
export function unusedOutput(device: GPUDevice): TensorRef {
  const cache = cacheFor(device);
  if (!cache.dummyOutput) {
    cache.dummyOutput = device.createBuffer({
      label: 'wgsl-vit unused output',
      size: 16,
      usage: GPUBufferUsage.STORAGE,
    });
  }
  return { buffer: cache.dummyOutput, shape: [4], dtype: 'f32' };
}

/** A 2×1 matrix texture bound where a kernel's texture binding is switched off. */
export function unusedTexture(device: GPUDevice): TextureRef {
  const cache = cacheFor(device);
  cache.dummyTexture ??= device.createTexture({
    label: 'wgsl-vit unused texture',
    size: [2, 1],
    format: MATRIX_TEXTURE_FORMAT,
    usage: GPUTextureUsage.STORAGE_BINDING,
  });
  return { texture: cache.dummyTexture, shape: [1, 1] };
}
