// Reflection of a kernel's WGSL: its bindings and uniform struct (wgsl_reflect) and the constants
// the host must agree with. Bindings and uniform layouts come from the shader, never a second table.
import { ResourceType, WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { MATRIX_TEXTURE_FORMAT } from './types.js';
import type {
  KernelSignature,
  KernelSource,
  StorageBinding,
  TextureBinding,
  UniformLayout,
  UniformScalar,
} from './types.js';

const signatures = new Map<string, KernelSignature>();

/**
 * The module as wgsl_reflect (1.6) can parse it: it knows neither the subgroup-matrix types (three
 * template arguments) nor subgroupMatrixLoad's template argument (gemm_subgroup_matrix.wgsl). Neither
 * declares a binding or an override, so the types are read as `u32` and the load as a plain call.
 */
export function reflectable(wgsl: string): string {
  return wgsl
    .replace(/\bsubgroupMatrixLoad<subgroup_matrix_\w+<[^<>]*>>\(/g, 'subgroupMatrixLoad(')
    .replace(/\bsubgroup_matrix_(left|right|result)<[^<>]*>/g, 'u32');
}

/**
 * Reflects a kernel's WGSL once: group 0 holds at most one uniform struct, any storage arrays and
 * any `texture_storage_2d<rgba32uint, read | write>` matrices (MATRIX_TEXTURE_FORMAT).
 */
export function signatureOf(src: KernelSource): KernelSignature {
  const cached = signatures.get(src.name);
  if (cached) return cached;
  const r = new WgslReflect(reflectable(src.wgsl));
  const storage: StorageBinding[] = [];
  const textures: TextureBinding[] = [];
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
      } else if (b.resourceType === ResourceType.StorageTexture) {
        const t = b.type as { name: string; format?: { name: string }; access?: string };
        if (
          t.name !== 'texture_storage_2d' ||
          t.format?.name !== MATRIX_TEXTURE_FORMAT ||
          !['read', 'write'].includes(b.access)
        )
          throw new Error(
            `kernel ${src.name}: texture ${b.name} must be a texture_storage_2d<${MATRIX_TEXTURE_FORMAT}, read | write> (a TextureRef matrix)`,
          );
        textures.push({ name: b.name, binding: b.binding, writable: b.access === 'write' });
      } else {
        throw new Error(`kernel ${src.name}: binding ${b.name} is neither a buffer nor a storage texture`);
      }
    }
  }
  const sig: KernelSignature = { storage, textures, uniform, overrides: r.overrides.map((o) => o.name) };
  signatures.set(src.name, sig);
  return sig;
}

/**
 * The value of a module-scope `const NAME: u32 = <n>u;` in a kernel's WGSL: numbers the host must
 * agree with (block sizes, limits, epilogue codes) are read from the shader, not restated.
 */
export function wgslConst(src: KernelSource, name: string): number {
  const m = new RegExp(`^const ${name}\\s*(?::\\s*u32)?\\s*=\\s*(\\d+)u?\\s*;`, 'm').exec(src.wgsl);
  if (!m) throw new Error(`kernel ${src.name}: no 'const ${name}: u32 = …;' in its WGSL`);
  return Number(m[1]);
}

/**
 * The `@workgroup_size(x[, y[, z]])` of a kernel's entry point, each a literal or a module-scope
 * `const` (wgslConst): what the host divides a grid by. A size set by an `override` is the host's
 * own choice (a tile) and is refused here, naming it.
 */
export function wgslWorkgroupSize(src: KernelSource): [number, number, number] {
  const m = /@workgroup_size\(([^)]*)\)/.exec(src.wgsl.replace(/\/\/.*$/gm, ''));
  if (!m) throw new Error(`kernel ${src.name}: no @workgroup_size(…) in its WGSL`);
  const dims = m[1]!
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const lit = /^(\d+)[ui]?$/.exec(s);
      if (lit) return Number(lit[1]);
      if (new RegExp(`^override ${s}\\b`, 'm').test(src.wgsl))
        throw new Error(`kernel ${src.name}: its workgroup size ${s} is an override (the host sets it)`);
      return wgslConst(src, s);
    });
  return [dims[0]!, dims[1] ?? 1, dims[2] ?? 1];
}
