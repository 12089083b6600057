// The machinery every kernel wrapper shares: reflection of a WGSL source (bindings and the uniform
// struct come from the shader itself, never from a second table), pipeline caching by
// (device, kernel, specialisation), argument checks, and the `Dispatch` a wrapper returns.
import { ResourceType, WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { KernelArgumentError } from '../errors.js';
import { elementCount } from '../shape.js';

/** Element types a kernel argument may have: f32 activations and weights, u32 indices (token ids). */
export type DType = 'f32' | 'u32';

export const DTYPE_BYTES: Record<DType, number> = { f32: 4, u32: 4 };

/** A typed view of (part of) a GPU buffer: what every kernel wrapper takes as an argument. */
export interface TensorRef {
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Byte offset into `buffer`; a multiple of the device's minStorageBufferOffsetAlignment. */
  readonly offset?: number;
}

/** One recorded kernel invocation with its pipeline, uniforms and bind group already built. */
export interface Dispatch {
  readonly kernel: string;
  /** Records the dispatch into a compute pass the caller owns. */
  encode(pass: GPUComputePassEncoder): void;
  /** Frees the uniform buffer this dispatch owns (its tensors belong to the caller). */
  destroy(): void;
  /**
   * Creates the pipeline ahead of encode() with createComputePipelineAsync, so that many pipelines
   * compile concurrently without blocking (graph compilation awaits all of them at once). Optional:
   * encode() creates the pipeline synchronously when prepare() was not awaited.
   */
  prepare?(): Promise<void>;
}

type UniformScalar = 'u32' | 'i32' | 'f32';

interface UniformLayout {
  readonly binding: number;
  readonly size: number;
  readonly members: readonly { name: string; offset: number; type: UniformScalar }[];
}

interface StorageBinding {
  readonly name: string;
  readonly binding: number;
  readonly writable: boolean;
}

/** What reflection tells us about one kernel's WGSL: its bindings, uniforms and overrides. */
export interface KernelSignature {
  readonly storage: readonly StorageBinding[];
  readonly uniform: UniformLayout | null;
  readonly overrides: readonly string[];
}

/** A kernel's WGSL source and name, as exported by each module in src/kernels. */
export interface KernelSource {
  readonly name: string;
  readonly wgsl: string;
}

const signatures = new Map<string, KernelSignature>();

/** Reflects a kernel's WGSL once: group 0 holds at most one uniform struct and any storage arrays. */
export function signatureOf(src: KernelSource): KernelSignature {
  const cached = signatures.get(src.name);
  if (cached) return cached;
  const r = new WgslReflect(src.wgsl);
  const storage: StorageBinding[] = [];
  let uniform: UniformLayout | null = null;
  for (const [group, bindings] of r.getBindGroups().entries()) {
    for (const b of bindings ?? []) {
      if (!b) continue;
      if (group !== 0)
        throw new Error(`kernel ${src.name}: binding ${b.name} is in group ${group}; kernels use group 0 only`);
      if (b.resourceType === ResourceType.Uniform) {
        if (uniform) throw new Error(`kernel ${src.name}: more than one uniform binding`);
        const members =
          (b.type as { members?: { name: string; offset: number; type: { name: string } }[] }).members ?? [];
        uniform = {
          binding: b.binding,
          size: Math.max(16, Math.ceil(b.size / 16) * 16),
          members: members.map((m) => {
            if (!['u32', 'i32', 'f32'].includes(m.type.name)) {
              throw new Error(
                `kernel ${src.name}: uniform member ${m.name} has type ${m.type.name}; only u32/i32/f32 scalars are supported`,
              );
            }
            return { name: m.name, offset: m.offset, type: m.type.name as UniformScalar };
          }),
        };
      } else if (b.resourceType === ResourceType.Storage) {
        storage.push({ name: b.name, binding: b.binding, writable: b.access === 'read_write' });
      } else {
        throw new Error(`kernel ${src.name}: binding ${b.name} is not a buffer`);
      }
    }
  }
  const sig: KernelSignature = { storage, uniform, overrides: r.overrides.map((o) => o.name) };
  signatures.set(src.name, sig);
  return sig;
}

interface DeviceCache {
  pipelines: Map<string, GPUComputePipeline>;
  pending: Map<string, Promise<GPUComputePipeline>>;
  layouts: Map<string, GPUBindGroupLayout>;
  modules: Map<string, GPUShaderModule>;
  dummy?: GPUBuffer;
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

export type Overrides = Record<string, number | boolean>;

function bindGroupLayout(device: GPUDevice, src: KernelSource): GPUBindGroupLayout {
  const cache = cacheFor(device);
  let layout = cache.layouts.get(src.name);
  if (!layout) {
    const sig = signatureOf(src);
    const entries: GPUBindGroupLayoutEntry[] = sig.storage.map((s) => ({
      binding: s.binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: s.writable ? 'storage' : 'read-only-storage' },
    }));
    if (sig.uniform)
      entries.push({ binding: sig.uniform.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
    layout = device.createBindGroupLayout({ label: src.name, entries });
    cache.layouts.set(src.name, layout);
  }
  return layout;
}

function pipelineKey(src: KernelSource, overrides: Overrides): string {
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

export { elementCount };

/**
 * The value of a module-scope `const NAME: u32 = <n>u;` in a kernel's WGSL: numbers the host must
 * agree with (block sizes, limits, epilogue codes) are read from the shader, not restated.
 */
export function wgslConst(src: KernelSource, name: string): number {
  const m = new RegExp(`^const ${name}\\s*(?::\\s*u32)?\\s*=\\s*(\\d+)u?\\s*;`, 'm').exec(src.wgsl);
  if (!m) throw new Error(`kernel ${src.name}: no 'const ${name}: u32 = …;' in its WGSL`);
  return Number(m[1]);
}
export const byteSize = (t: { shape: readonly number[]; dtype: DType }): number =>
  elementCount(t.shape) * DTYPE_BYTES[t.dtype];

/** Throws unless `t` has exactly `expected` shape (a `-1` entry matches anything) and the dtype (default f32). */
export function expectShape(
  kernel: string,
  arg: string,
  t: TensorRef,
  expected: readonly number[],
  dtype: DType = 'f32',
): void {
  const ok = t.shape.length === expected.length && expected.every((d, i) => d === -1 || d === t.shape[i]);
  if (!ok)
    throw new KernelArgumentError(kernel, arg, `expected shape [${expected.join(', ')}], got [${t.shape.join(', ')}]`);
  if (t.dtype !== dtype) throw new KernelArgumentError(kernel, arg, `expected dtype ${dtype}, got ${String(t.dtype)}`);
}

/** Throws unless `n` is a positive integer (a size a kernel can work with). */
export function expectPositiveInt(kernel: string, arg: string, n: number): void {
  if (!Number.isInteger(n) || n <= 0)
    throw new KernelArgumentError(kernel, arg, `must be a positive integer, got ${n}`);
}

/** Splits `n` workgroups into an (x, y) grid within maxComputeWorkgroupsPerDimension. */
export function grid2d(device: GPUDevice, kernel: string, n: number): [number, number] {
  const max = device.limits.maxComputeWorkgroupsPerDimension;
  if (n <= max) return [n, 1];
  const y = Math.ceil(n / max);
  if (y > max) throw new KernelArgumentError(kernel, 'shape', `needs ${n} workgroups, over the device limit ${max}²`);
  return [Math.ceil(n / y), y];
}

export interface DispatchSpec {
  readonly overrides?: Overrides;
  readonly uniforms?: Record<string, number>;
  readonly tensors: Record<string, TensorRef>;
  readonly workgroups: readonly [number, number?, number?];
}

/**
 * Validates the arguments of one invocation against the kernel's reflected signature and the
 * device's limits, then builds its uniform buffer and bind group. Nothing is created on bad input.
 */
export function createDispatch(device: GPUDevice, src: KernelSource, spec: DispatchSpec): Dispatch {
  const sig = signatureOf(src);
  const limits = device.limits;
  const given = Object.keys(spec.tensors);
  for (const s of sig.storage) {
    if (!spec.tensors[s.name]) throw new KernelArgumentError(src.name, s.name, 'missing tensor argument');
  }
  for (const g of given) {
    if (!sig.storage.some((s) => s.name === g))
      throw new KernelArgumentError(
        src.name,
        g,
        `not a binding of this kernel (has: ${sig.storage.map((s) => s.name).join(', ')})`,
      );
  }
  for (const s of sig.storage) {
    const t = spec.tensors[s.name]!;
    const offset = t.offset ?? 0;
    const bytes = byteSize(t);
    if (offset % limits.minStorageBufferOffsetAlignment !== 0) {
      throw new KernelArgumentError(
        src.name,
        s.name,
        `offset ${offset} is not a multiple of minStorageBufferOffsetAlignment ${limits.minStorageBufferOffsetAlignment}`,
      );
    }
    if (offset + bytes > t.buffer.size) {
      throw new KernelArgumentError(
        src.name,
        s.name,
        `buffer of ${t.buffer.size} bytes is too small for shape [${t.shape.join(', ')}] at offset ${offset} (needs ${offset + bytes})`,
      );
    }
    if (bytes > limits.maxStorageBufferBindingSize) {
      throw new KernelArgumentError(
        src.name,
        s.name,
        `${bytes} bytes exceeds the device's maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize}`,
      );
    }
    const usage = t.buffer.usage;
    if ((usage & GPUBufferUsage.STORAGE) === 0)
      throw new KernelArgumentError(src.name, s.name, 'buffer was not created with STORAGE usage');
  }
  for (let i = 0; i < sig.storage.length; i++) {
    for (let j = i + 1; j < sig.storage.length; j++) {
      const a = sig.storage[i]!,
        b = sig.storage[j]!;
      if ((a.writable || b.writable) && spec.tensors[a.name]!.buffer === spec.tensors[b.name]!.buffer) {
        throw new KernelArgumentError(
          src.name,
          `${a.name}/${b.name}`,
          'a written tensor shares its buffer with another argument',
        );
      }
    }
  }
  const overrides = spec.overrides ?? {};
  pipelineKey(src, overrides); // unknown override names fail here, before anything is created
  const [wx, wy = 1, wz = 1] = spec.workgroups;
  for (const w of [wx, wy, wz]) {
    if (!Number.isInteger(w) || w < 0 || w > limits.maxComputeWorkgroupsPerDimension) {
      throw new KernelArgumentError(
        src.name,
        'shape',
        `workgroup count ${w} outside 0..${limits.maxComputeWorkgroupsPerDimension}`,
      );
    }
  }
  let uniformBuffer: GPUBuffer | null = null;
  if (sig.uniform) {
    const data = new ArrayBuffer(sig.uniform.size);
    const view = new DataView(data);
    const values = spec.uniforms ?? {};
    for (const m of sig.uniform.members) {
      const v = values[m.name];
      if (v === undefined) throw new KernelArgumentError(src.name, m.name, 'missing uniform value');
      if (m.type === 'f32') view.setFloat32(m.offset, v, true);
      else {
        const lo = m.type === 'u32' ? 0 : -(2 ** 31),
          hi = m.type === 'u32' ? 2 ** 32 - 1 : 2 ** 31 - 1;
        if (!Number.isInteger(v) || v < lo || v > hi)
          throw new KernelArgumentError(src.name, m.name, `${v} is not a valid ${m.type}`);
        if (m.type === 'u32') view.setUint32(m.offset, v, true);
        else view.setInt32(m.offset, v, true);
      }
    }
    for (const k of Object.keys(values)) {
      if (!sig.uniform.members.some((m) => m.name === k))
        throw new KernelArgumentError(src.name, k, 'not a uniform of this kernel');
    }
    uniformBuffer = device.createBuffer({
      label: `${src.name} uniforms`,
      size: sig.uniform.size,
      usage: GPUBufferUsage.UNIFORM,
      mappedAtCreation: true,
    });
    new Uint8Array(uniformBuffer.getMappedRange()).set(new Uint8Array(data));
    uniformBuffer.unmap();
  }
  let pipeline: GPUComputePipeline | undefined;
  const entries: GPUBindGroupEntry[] = sig.storage.map((s) => {
    const t = spec.tensors[s.name]!;
    return { binding: s.binding, resource: { buffer: t.buffer, offset: t.offset ?? 0, size: byteSize(t) } };
  });
  if (sig.uniform && uniformBuffer) entries.push({ binding: sig.uniform.binding, resource: { buffer: uniformBuffer } });
  const bindGroup = device.createBindGroup({ label: src.name, layout: bindGroupLayout(device, src), entries });
  return {
    kernel: src.name,
    async prepare() {
      pipeline ??= await pipelineForAsync(device, src, overrides);
    },
    encode(pass) {
      pipeline ??= pipelineFor(device, src, overrides);
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      if (wx > 0 && wy > 0 && wz > 0) pass.dispatchWorkgroups(wx, wy, wz);
    },
    destroy() {
      uniformBuffer?.destroy();
    },
  };
}

/**
 * Records one dispatch into its own compute pass on `encoder`: a convenience exported for kernel
 * users running a single kernel (the model records all of its dispatches into shared passes).
 */
export function encodeAlone(encoder: GPUCommandEncoder, d: Dispatch): void {
  const pass = encoder.beginComputePass({ label: d.kernel });
  d.encode(pass);
  pass.end();
}
