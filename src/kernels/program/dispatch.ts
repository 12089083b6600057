// One kernel invocation: its arguments checked against the reflected signature and the device's
// limits, its uniforms packed, its bind group built, returned as a Dispatch.
import { KernelArgumentError } from '../../errors.js';
import { byteSize, expectDims } from './checks.js';
import { bindGroupLayout, pipelineFor, pipelineForAsync, pipelineKey } from './pipelines.js';
import { signatureOf } from './reflect.js';
import { matrixTextureWidth } from './texture-matrix.js';
import { MATRIX_TEXTURE_FORMAT } from './types.js';
import type { Dispatch, KernelSignature, KernelSource, Overrides, TensorRef, TextureRef } from './types.js';

export interface DispatchSpec {
  readonly overrides?: Overrides;
  readonly uniforms?: Record<string, number>;
  readonly tensors: Record<string, TensorRef>;
  /** The kernel's matrix-texture arguments (texture_storage_2d bindings), by binding name. */
  readonly textures?: Record<string, TextureRef>;
  readonly workgroups: readonly [number, number?, number?];
}

/** Every binding given, none unknown; offsets, sizes, limits, usage; no written tensor aliasing another. */
function checkTensors(
  device: GPUDevice,
  src: KernelSource,
  sig: KernelSignature,
  tensors: Record<string, TensorRef>,
): void {
  const limits = device.limits;
  for (const s of sig.storage) {
    if (!tensors[s.name]) throw new KernelArgumentError(src.name, s.name, 'missing tensor argument');
  }
  for (const g of Object.keys(tensors)) {
    if (!sig.storage.some((s) => s.name === g))
      throw new KernelArgumentError(
        src.name,
        g,
        `not a binding of this kernel (has: ${sig.storage.map((s) => s.name).join(', ')})`,
      );
  }
  for (const s of sig.storage) {
    const t = tensors[s.name]!;
    expectDims(src.name, s.name, t.shape);
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
    if ((t.buffer.usage & GPUBufferUsage.STORAGE) === 0)
      throw new KernelArgumentError(src.name, s.name, 'buffer was not created with STORAGE usage');
  }
  for (let i = 0; i < sig.storage.length; i++) {
    for (let j = i + 1; j < sig.storage.length; j++) {
      const a = sig.storage[i]!,
        b = sig.storage[j]!;
      if ((a.writable || b.writable) && tensors[a.name]!.buffer === tensors[b.name]!.buffer) {
        throw new KernelArgumentError(
          src.name,
          `${a.name}/${b.name}`,
          'a written tensor shares its buffer with another argument',
        );
      }
    }
  }
}

/** Every texture binding given, none unknown; MATRIX_TEXTURE_FORMAT, STORAGE_BINDING, big enough; a written one not read too. */
function checkTextures(src: KernelSource, sig: KernelSignature, textures: Record<string, TextureRef>): void {
  for (const t of sig.textures) {
    if (!textures[t.name]) throw new KernelArgumentError(src.name, t.name, 'missing texture argument');
  }
  for (const g of Object.keys(textures)) {
    if (!sig.textures.some((t) => t.name === g))
      throw new KernelArgumentError(
        src.name,
        g,
        `not a texture binding of this kernel (has: ${sig.textures.map((t) => t.name).join(', ') || 'none'})`,
      );
  }
  for (const b of sig.textures) {
    const { texture, shape, dtype } = textures[b.name]!;
    expectDims(src.name, b.name, shape);
    const [rows, cols] = shape;
    if (texture.format !== MATRIX_TEXTURE_FORMAT)
      throw new KernelArgumentError(
        src.name,
        b.name,
        `texture format ${texture.format}, expected ${MATRIX_TEXTURE_FORMAT}`,
      );
    if (b.writable && (dtype ?? 'f32') !== 'f32')
      throw new KernelArgumentError(src.name, b.name, `a written matrix texture holds f32, got dtype ${dtype}`);
    if ((texture.usage & GPUTextureUsage.STORAGE_BINDING) === 0)
      throw new KernelArgumentError(src.name, b.name, 'texture was not created with STORAGE_BINDING usage');
    const width = matrixTextureWidth(cols, dtype);
    if (texture.width < width || texture.height < rows || texture.dimension !== '2d') {
      throw new KernelArgumentError(
        src.name,
        b.name,
        `a ${texture.width}×${texture.height} texture cannot hold a [${rows}, ${cols}] matrix (needs ${width}×${rows}, matrixTextureWidth)`,
      );
    }
  }
  for (let i = 0; i < sig.textures.length; i++) {
    for (let j = i + 1; j < sig.textures.length; j++) {
      const a = sig.textures[i]!,
        b = sig.textures[j]!;
      if ((a.writable || b.writable) && textures[a.name]!.texture === textures[b.name]!.texture)
        throw new KernelArgumentError(src.name, `${a.name}/${b.name}`, 'a written texture is also another argument');
    }
  }
}

/** The workgroup grid, within the device's per-dimension limit. */
function checkWorkgroups(
  device: GPUDevice,
  src: KernelSource,
  workgroups: DispatchSpec['workgroups'],
): [number, number, number] {
  const [wx, wy = 1, wz = 1] = workgroups;
  const max = device.limits.maxComputeWorkgroupsPerDimension;
  for (const w of [wx, wy, wz]) {
    if (!Number.isInteger(w) || w < 0 || w > max)
      throw new KernelArgumentError(src.name, 'shape', `workgroup count ${w} outside 0..${max}`);
  }
  return [wx, wy, wz];
}

/** The uniform struct's bytes, every member given and in range, no unknown name (null: no uniform). */
function packUniforms(src: KernelSource, sig: KernelSignature, values: Record<string, number>): ArrayBuffer | null {
  if (!sig.uniform) return null;
  const data = new ArrayBuffer(sig.uniform.size);
  const view = new DataView(data);
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
  return data;
}

/**
 * Validates the arguments of one invocation against the kernel's reflected signature and the
 * device's limits, then builds its uniform buffer and bind group. Nothing is created on bad input.
 */
export function createDispatch(device: GPUDevice, src: KernelSource, spec: DispatchSpec): Dispatch {
  const sig = signatureOf(src);
  checkTensors(device, src, sig, spec.tensors);
  checkTextures(src, sig, spec.textures ?? {});
  const overrides: Overrides = spec.overrides ?? {};
  pipelineKey(src, overrides); // unknown override names fail here, before anything is created
  const [wx, wy, wz] = checkWorkgroups(device, src, spec.workgroups);
  const uniforms = packUniforms(src, sig, spec.uniforms ?? {});
  // Checked: from here on only creation.
  let uniformBuffer: GPUBuffer | null = null;
  const entries: GPUBindGroupEntry[] = sig.storage.map((s) => {
    const t = spec.tensors[s.name]!;
    return { binding: s.binding, resource: { buffer: t.buffer, offset: t.offset ?? 0, size: byteSize(t) } };
  });
  for (const t of sig.textures)
    entries.push({ binding: t.binding, resource: spec.textures![t.name]!.texture.createView() });
  if (sig.uniform && uniforms) {
    uniformBuffer = device.createBuffer({
      label: `${src.name} uniforms`,
      size: sig.uniform.size,
      usage: GPUBufferUsage.UNIFORM,
      mappedAtCreation: true,
    });
    new Uint8Array(uniformBuffer.getMappedRange()).set(new Uint8Array(uniforms));
    uniformBuffer.unmap();
    entries.push({ binding: sig.uniform.binding, resource: { buffer: uniformBuffer } });
  }
  const bindGroup = device.createBindGroup({ label: src.name, layout: bindGroupLayout(device, src), entries });
  let pipeline: GPUComputePipeline | undefined;
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
