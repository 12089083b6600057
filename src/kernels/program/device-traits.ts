// What a device is, as the kernels need to know it: a CPU implementation or not, 8-lane subgroups
// or not. Read by the argument checks (checks.ts) and by the choosing (../choose/adapter.ts).

/** Whether the device is a CPU implementation of WebGPU (Mesa lavapipe/llvmpipe, SwiftShader). */
export function isCpuAdapter(device: GPUDevice): boolean {
  return isCpuAdapterInfo((device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo);
}

/** Whether an adapter's info names a CPU implementation (isCpuAdapter, before a device exists). */
export function isCpuAdapterInfo(info: GPUAdapterInfo | undefined): boolean {
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
