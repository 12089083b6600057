// Every kernel's WGSL through Naga, wgpu's shader compiler (Deno's WebGPU; `npm run test:deno`):
// each module the device can run compiles without a message; the subgroup kernels, which Deno's
// device cannot run (no 'subgroups' feature), are refused for `enable subgroups;` alone (Naga does
// not know the enable-extension) and, without it, only for the SUBGROUP capability the device lacks:
// Naga parses and type-checks them. Under Dawn (Tint) these are skipped; its tests compile them all.
// What Naga accepts that Tint does not and back: docs/runtimes.md.
import { describe, expect, it } from 'vitest';
import * as kernels from '../../src/kernels/index.js';
import type { KernelSource } from '../../src/kernels/program/index.js';
import { testDeviceInfo } from '../helpers/gpu.js';

const SOURCES: KernelSource[] = [
  ...new Set(
    Object.entries(kernels)
      .filter(([k, v]) => k.endsWith('Kernel') && typeof (v as KernelSource).wgsl === 'string')
      .map(([, v]) => v as KernelSource),
  ),
];

/** Naga's messages for a module (its compilation info), as one string each. */
async function messages(device: GPUDevice, code: string): Promise<string[]> {
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code });
  const info = await module.getCompilationInfo();
  await device.popErrorScope();
  return info.messages.map((m) => m.message);
}

const usesSubgroups = (s: KernelSource) => /^\s*enable subgroups;/m.test(s.wgsl);

describe('Naga (Deno’s wgpu) compiles every kernel', () => {
  it('finds every kernel module of the package, the subgroup ones among them', () => {
    expect(SOURCES.length).toBeGreaterThanOrEqual(17);
    expect(SOURCES.filter(usesSubgroups).map((s) => s.name)).toContain('gemm_subgroup');
  });

  // gemm_subgroup_matrix is specialised per subgroup-matrix configuration (gemmSubgroupMatrixKernel),
  // so it is not among SOURCES: its `enable chromium_experimental_subgroup_matrix;` is a Dawn-only
  // experimental extension that Naga does not have (nor does lavapipe's Dawn offer the feature). The
  // GPU kit's `vitest` step compiles and tests it where a device has it (gemm-subgroup-matrix.test.ts).
  it.skip('gemm_subgroup_matrix: not compiled by Naga (needs chromium-experimental-subgroup-matrix, an extension Naga lacks)', () => {});
  it('no module of SOURCES needs the subgroup-matrix extension (it would be refused, not skipped)', () => {
    expect(
      SOURCES.filter((s) => /enable chromium_experimental_subgroup_matrix;/.test(s.wgsl)).map((s) => s.name),
    ).toEqual([]);
  });

  it.for(SOURCES.map((s) => [s.name, s] as const))('%s', async ([, src], ctx) => {
    const { device, runtime } = await testDeviceInfo();
    if (runtime !== 'deno-wgpu') return ctx.skip(`runtime ${runtime}: not Naga`);
    if (/^\s*enable f16;/m.test(src.wgsl) && !device.features.has('shader-f16'))
      return ctx.skip('no shader-f16 on this adapter');
    if (!usesSubgroups(src)) {
      expect(await messages(device, src.wgsl)).toEqual([]);
      return;
    }
    expect(device.features.has('subgroups')).toBe(false); // else these would run, and be tested, here
    expect((await messages(device, src.wgsl)).join('\n')).toMatch(
      /the `subgroups` enable-extension is not yet supported/,
    );
    const rest = await messages(device, src.wgsl.replace(/^\s*enable subgroups;/m, ''));
    expect(rest.length).toBeGreaterThan(0);
    for (const m of rest) expect(m).toMatch(/Shader requires capability Capabilities\(SUBGROUP\)/);
  });
});
