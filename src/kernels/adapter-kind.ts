// What kind of adapter a device runs on, for the kernels that pick a variant or tile per adapter.
import type { AdapterTraits } from './choose.js';

/** Whether the device is a CPU implementation of WebGPU (Mesa lavapipe/llvmpipe, SwiftShader). */
export function isCpuAdapter(device: GPUDevice): boolean {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return /software|cpu|swiftshader|llvmpipe|lavapipe/i.test(
    `${info?.architecture ?? ''} ${info?.description ?? ''} ${info?.device ?? ''}`,
  );
}

/** Whether the device has the subgroups feature with exactly 8 lanes (what the CPU-adapter kernels assume). */
export function hasSubgroupsOf8(device: GPUDevice): boolean {
  const info = (
    device as GPUDevice & { adapterInfo?: GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number } }
  ).adapterInfo;
  return device.features.has('subgroups') && info?.subgroupMinSize === 8 && info?.subgroupMaxSize === 8;
}

/** What the built-in kernel choices depend on (choose.ts), read from a device. */
export function adapterTraits(device: GPUDevice): AdapterTraits {
  return { cpu: isCpuAdapter(device), subgroupsOf8: hasSubgroupsOf8(device), limits: device.limits };
}
