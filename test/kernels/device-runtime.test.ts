// requestDevice's choice of WebGPU implementation (src/device.ts, docs/runtimes.md): the runtime's own
// navigator.gpu where it has one (Deno's wgpu), else Dawn (Node.js); DeviceOptions.webgpu or
// WGSL_VIT_WEBGPU pick one; what cannot be had is a DeviceError naming what to change. These run in
// Node (`vitest run`) and in Deno (`npm run test:deno`), each checking what its runtime should do.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { requestDevice, WANTED_FEATURES, WEBGPU_ENV, type DeviceInfo } from '../../src/device.js';
import { DeviceError } from '../../src/errors.js';

const inDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';

async function withDevice(d: Promise<DeviceInfo>, check: (d: DeviceInfo) => void): Promise<void> {
  const info = await d;
  try {
    check(info);
  } finally {
    info.device.destroy();
  }
}

describe('requestDevice: which WebGPU implementation', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.unstubAllGlobals();
  });

  it('refuses an unknown implementation, naming the option or the variable and the choices', async () => {
    const bad = requestDevice({ webgpu: 'wgpu' as never });
    await expect(bad).rejects.toThrow(DeviceError);
    await expect(bad).rejects.toThrow(/option webgpu is 'wgpu'.*'auto', 'dawn', 'native'/);
    vi.stubEnv(WEBGPU_ENV, 'metal');
    await expect(requestDevice()).rejects.toThrow(/environment variable WGSL_VIT_WEBGPU is 'metal'/);
  });

  it("auto: the runtime's own navigator.gpu where there is one (Deno: wgpu), else Dawn (Node.js)", async () => {
    await withDevice(requestDevice({ webgpu: 'auto' }), (d) => {
      expect(d.runtime).toBe(inDeno ? 'deno-wgpu' : 'node-dawn');
      // Every wanted feature is either granted or named as missing.
      expect([...d.features, ...d.missingFeatures].sort()).toEqual([...WANTED_FEATURES].sort());
      expect(d.features.filter((f) => d.missingFeatures.includes(f))).toEqual([]);
      if (d.runtime === 'deno-wgpu') expect(d.dawnFlags).toEqual([]);
    });
  });

  it('dawn: Dawn (npm webgpu) in Node.js and in Deno alike, also when asked through WGSL_VIT_WEBGPU', async () => {
    vi.stubEnv(WEBGPU_ENV, 'dawn');
    await withDevice(requestDevice(), (d) => expect(d.runtime).toBe(inDeno ? 'deno-dawn' : 'node-dawn'));
  });

  it("native: Deno's wgpu; Node.js has none, and says so", async () => {
    if (inDeno) await withDevice(requestDevice({ webgpu: 'native' }), (d) => expect(d.runtime).toBe('deno-wgpu'));
    else {
      await expect(requestDevice({ webgpu: 'native' })).rejects.toThrow(
        /'native' was asked for \(option webgpu\), but Node.js has no navigator.gpu of its own: use 'dawn'/,
      );
      vi.stubEnv(WEBGPU_ENV, 'native');
      await expect(requestDevice()).rejects.toThrow(/'native' was asked for \(WGSL_VIT_WEBGPU\)/);
    }
  });

  it('a Deno without navigator.gpu is told the flag that turns it on, or to use Dawn', async (ctx) => {
    if (!inDeno) return ctx.skip('Deno only');
    vi.stubGlobal('navigator', {});
    const auto = () => requestDevice({ webgpu: 'auto' });
    await expect(auto()).rejects.toThrow(/has no navigator.gpu: run it with --unstable-webgpu/);
    await expect(auto()).rejects.toThrow(/WGSL_VIT_WEBGPU=dawn/);
  });
});
