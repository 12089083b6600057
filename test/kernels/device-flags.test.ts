// Dawn's flags in Node (src/device.ts): toggles joined into one enable-dawn-features= flag (Dawn keeps
// only the last of each kind), and the device asked for f16 on NVIDIA by default, falling back to the
// given flags where refused. On lavapipe the toggle changes nothing (shader-f16 is there anyway): a
// GPU machine shows whether NVIDIA then offers shader-f16 (tools/gpu/, docs/gpu.md).
import { describe, expect, it } from 'vitest';
import {
  mergeDawnFlags,
  NODE_DAWN_FEATURES,
  requestDevice,
  splitDawnFlags,
  SUBGROUP_MATRIX_ENV,
  SUBGROUP_MATRIX_FLAGS,
} from '../../src/device.js';
import { SUBGROUP_MATRIX_FEATURE } from '../../src/kernels/choose/subgroup-matrix.js';

describe('Dawn flags', () => {
  it('merges every enable / disable toggle into one flag each, each toggle once, other flags kept', () => {
    expect(
      mergeDawnFlags([
        'enable-dawn-features=allow_unsafe_apis',
        'backend=vulkan',
        'enable-dawn-features=vulkan_enable_f16_on_nvidia, allow_unsafe_apis',
        'disable-dawn-features=timestamp_quantization',
      ]),
    ).toEqual([
      'backend=vulkan',
      'enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia',
      'disable-dawn-features=timestamp_quantization',
    ]);
    expect(mergeDawnFlags([])).toEqual([]);
  });

  it('splits a --flags value: names after a *-dawn-features= flag are more of its toggles', () => {
    expect(
      splitDawnFlags(
        'enable-dawn-features=allow_unsafe_apis,use_vulkan_memory_model,disable-dawn-features=timestamp_quantization',
      ),
    ).toEqual([
      'enable-dawn-features=allow_unsafe_apis,use_vulkan_memory_model',
      'disable-dawn-features=timestamp_quantization',
    ]);
    expect(splitDawnFlags('backend=vulkan, ,enable-dawn-features=a')).toEqual([
      'backend=vulkan',
      'enable-dawn-features=a',
    ]);
  });

  it('a Node device asks for f16 on NVIDIA by default (nvidiaF16: false does not), merged with precise timestamps', async (ctx) => {
    const a = await requestDevice();
    if (!a.runtime.endsWith('-dawn')) {
      a.device.destroy();
      return ctx.skip(`runtime ${a.runtime}: no Dawn flags`);
    }
    const b = await requestDevice({ nvidiaF16: false });
    const c = await requestDevice({ preciseTimestamps: true });
    try {
      // Where the adapter offers subgroup matrices (a GPU), its toggles come too (DeviceOptions.subgroupMatrix).
      const sgm = a.features.includes(SUBGROUP_MATRIX_FEATURE);
      expect(a.dawnFlags).toEqual(
        mergeDawnFlags([`enable-dawn-features=${NODE_DAWN_FEATURES.join(',')}`, ...(sgm ? SUBGROUP_MATRIX_FLAGS : [])]),
      );
      expect(b.dawnFlags).toEqual(sgm ? [...SUBGROUP_MATRIX_FLAGS] : []);
      expect(c.dawnFlags).toEqual([
        `enable-dawn-features=vulkan_enable_f16_on_nvidia,allow_unsafe_apis${sgm ? ',use_vulkan_memory_model' : ''}`,
        'disable-dawn-features=timestamp_quantization',
      ]);
      expect(c.timestamps).toBe('precise');
    } finally {
      for (const d of [a, b, c]) d.device.destroy();
    }
  });

  it('WGSL_VIT_SUBGROUP_MATRIX must be on, off or auto', async (ctx) => {
    const probe = await requestDevice({ subgroupMatrix: false });
    probe.device.destroy();
    if (!probe.runtime.endsWith('-dawn')) return ctx.skip(`runtime ${probe.runtime}: no Dawn flags`);
    process.env[SUBGROUP_MATRIX_ENV] = 'sometimes';
    try {
      await expect(requestDevice()).rejects.toThrow(
        /WGSL_VIT_SUBGROUP_MATRIX is 'sometimes': one of 'on', 'off', 'auto'/,
      );
    } finally {
      delete process.env[SUBGROUP_MATRIX_ENV];
    }
  });

  it('subgroupMatrix: false asks for no subgroup-matrix toggles; configurations are listed only with the feature', async (ctx) => {
    const a = await requestDevice({ subgroupMatrix: false });
    try {
      if (!a.runtime.endsWith('-dawn')) return ctx.skip(`runtime ${a.runtime}: no Dawn flags`);
      expect(a.dawnFlags.join(',')).not.toMatch(/use_vulkan_memory_model/);
      expect(a.features).not.toContain(SUBGROUP_MATRIX_FEATURE);
      expect(a.subgroupMatrixConfigs).toEqual([]);
    } finally {
      a.device.destroy();
    }
  });
});
