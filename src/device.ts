// One way to get a configured GPUDevice, in Node.js (Dawn through npm `webgpu`) or in a browser.
import { DeviceError, WebGPUError } from './errors.js';
import { checkOptionKeys, type KeyList } from './options.js';

/** Optional features the kernels can use when the adapter has them. */
export const WANTED_FEATURES: readonly GPUFeatureName[] = [
  'shader-f16',
  'subgroups',
  'timestamp-query',
] as GPUFeatureName[];

/** Limits raised to the adapter's maximum when it offers more than the default. */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxStorageBuffersPerShaderStage',
] as const;

export interface DeviceOptions {
  /** Dawn toggles / flags for Node, e.g. ['enable-dawn-features=allow_unsafe_apis']. Ignored in browsers. */
  dawnFlags?: string[];
  powerPreference?: GPUPowerPreference;
  /** Features to request on top of (or instead of) WANTED_FEATURES; unavailable ones are skipped. */
  features?: readonly GPUFeatureName[];
  /** Provide your own `navigator.gpu`-like object (skips the Node/browser detection). */
  gpu?: GPU;
  /**
   * For timing (profiles, `tune`, benchmarks): in Node, ask Dawn not to quantize timestamp queries
   * (by default it rounds them to 65.536 µs steps, which hides every kernel under ~0.5 ms) with
   * PRECISE_TIMESTAMP_FLAGS. Where that is refused, or in a browser, the device comes without it
   * and `DeviceInfo.timestamps` says so.
   */
  preciseTimestamps?: boolean;
  /**
   * In Node, ask Dawn for `shader-f16` on NVIDIA GPUs too (the toggle NODE_DAWN_FEATURES names; Dawn
   * leaves f16 off on every NVIDIA GPU on Vulkan without it). Default true; where Dawn refuses the
   * toggle the device comes without it, and `DeviceInfo.dawnFlags` says what it was made with.
   */
  nvidiaF16?: boolean;
}

/** The keys of DeviceOptions (an unknown one is refused, options.ts). */
export const DEVICE_OPTION_KEYS = {
  dawnFlags: true,
  powerPreference: true,
  features: true,
  gpu: true,
  preciseTimestamps: true,
  nvidiaF16: true,
} as const satisfies KeyList<DeviceOptions>;

/** Dawn features (toggles) a Node device is asked for by default: f16 on NVIDIA (see DeviceOptions.nvidiaF16). */
export const NODE_DAWN_FEATURES: readonly string[] = ['vulkan_enable_f16_on_nvidia'];

/**
 * A --flags value as Dawn flags: comma-separated, where a name without `=` after a
 * `enable-dawn-features=` / `disable-dawn-features=` flag is one more toggle of it
 * (`enable-dawn-features=a,b,disable-dawn-features=c` is two flags, not three).
 */
export function splitDawnFlags(text: string): string[] {
  const out: string[] = [];
  for (const t of text.split(',').map((x) => x.trim())) {
    if (!t) continue;
    const last = out.at(-1);
    if (!t.includes('=') && last && /^(enable|disable)-dawn-features=/.test(last)) out[out.length - 1] = `${last},${t}`;
    else out.push(t);
  }
  return out;
}

/**
 * Dawn's flags with every `enable-dawn-features=` joined into one comma-separated flag, and every
 * `disable-dawn-features=` likewise (Dawn for Node keeps only the last of each kind, so two
 * separate ones would drop the first's toggles); the other flags kept, in order, and each toggle once.
 */
export function mergeDawnFlags(flags: readonly string[]): string[] {
  const lists = { enable: [] as string[], disable: [] as string[] };
  const other: string[] = [];
  for (const f of flags) {
    const m = /^(enable|disable)-dawn-features=(.*)$/.exec(f);
    if (!m) other.push(f);
    else
      for (const t of m[2]!.split(',').map((x) => x.trim()))
        if (t && !lists[m[1] as 'enable' | 'disable'].includes(t)) lists[m[1] as 'enable' | 'disable'].push(t);
  }
  const out = [...other];
  if (lists.enable.length) out.push(`enable-dawn-features=${lists.enable.join(',')}`);
  if (lists.disable.length) out.push(`disable-dawn-features=${lists.disable.join(',')}`);
  return out;
}

/** Dawn flags that lift timestamp quantization (Node only; `allow_unsafe_apis` is what permits the toggle). */
export const PRECISE_TIMESTAMP_FLAGS: readonly string[] = [
  'enable-dawn-features=allow_unsafe_apis',
  'disable-dawn-features=timestamp_quantization',
];

/** What the device's timestamp queries measure with: how a report says it. */
export type TimestampMode =
  | 'none' // no 'timestamp-query' feature
  | 'quantized' // Dawn's default: 65.536 µs steps (browsers too, which add their own rounding)
  | 'precise'; // quantization lifted (Node, PRECISE_TIMESTAMP_FLAGS)

export interface DeviceInfo {
  device: GPUDevice;
  adapter: GPUAdapter;
  /** vendor / architecture / device / description, as the adapter reports them. */
  adapterInfo: { vendor: string; architecture: string; device: string; description: string };
  /** Optional features that were asked for and granted. */
  features: string[];
  limits: Record<string, number>;
  /** 'node-dawn' or 'browser'. */
  runtime: 'node-dawn' | 'browser' | 'custom';
  /** Whether timestamp queries are available, and quantized or not (see DeviceOptions.preciseTimestamps). */
  timestamps: TimestampMode;
  /** The Dawn flags the device was made with, merged (Node; empty elsewhere). */
  dawnFlags: string[];
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node;
// Dawn's node module stays alive while its `gpu` object lives; keep one per set of flags.
const nodeGpus = new Map<string, GPU>();

/** Dawn's GPU object for a set of flags (Node only), with WebGPU's globals installed; one per flag set. */
export async function nodeGpu(given: string[] = []): Promise<GPU> {
  const flags = mergeDawnFlags(given);
  const key = flags.join(' ');
  const known = nodeGpus.get(key);
  if (known) return known;
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = '/tmp';
  let mod: { create(flags: string[]): GPU; globals: Record<string, unknown> };
  try {
    mod = (await import('webgpu')) as unknown as typeof mod;
  } catch (e) {
    throw new DeviceError(
      `could not load the 'webgpu' package (Dawn for Node.js): ${(e as Error).message}. Run \`npm install webgpu\`.`,
    );
  }
  // The kernels use GPUBufferUsage / GPUShaderStage / GPUMapMode globals, as in a browser.
  for (const [k, v] of Object.entries(mod.globals))
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const gpu = mod.create(flags);
  nodeGpus.set(key, gpu);
  return gpu;
}

/**
 * Returns a device with every optional feature and raised limit the adapter offers (see
 * WANTED_FEATURES / WANTED_LIMITS), and a report of what was granted. Throws a DeviceError that
 * says what to install when there is no adapter.
 */
export async function requestDevice(opts: DeviceOptions = {}): Promise<DeviceInfo> {
  checkOptionKeys('requestDevice', opts, DEVICE_OPTION_KEYS);
  let gpu: GPU;
  let runtime: DeviceInfo['runtime'];
  if (opts.gpu) {
    gpu = opts.gpu;
    runtime = 'custom';
  } else if (typeof navigator !== 'undefined' && navigator.gpu) {
    gpu = navigator.gpu;
    runtime = 'browser';
  } else if (isNode) {
    runtime = 'node-dawn';
    const base = [...(opts.dawnFlags ?? [])];
    // Each extra set of flags is tried first; a Dawn that refuses them gives no adapter (or throws),
    // and the device is then made without them.
    const tries: { flags: string[]; precise: boolean }[] = [];
    const f16 = opts.nvidiaF16 === false ? [] : NODE_DAWN_FEATURES.map((t) => `enable-dawn-features=${t}`);
    if (opts.preciseTimestamps) tries.push({ flags: [...base, ...f16, ...PRECISE_TIMESTAMP_FLAGS], precise: true });
    if (f16.length) tries.push({ flags: [...base, ...f16], precise: false });
    for (const t of tries) {
      try {
        const flags = mergeDawnFlags(t.flags);
        const d = await requestDevice({
          ...opts,
          preciseTimestamps: false,
          nvidiaF16: false,
          gpu: await nodeGpu(flags),
        });
        const timestamps = t.precise && d.timestamps !== 'none' ? 'precise' : d.timestamps;
        return { ...d, runtime, timestamps, dawnFlags: flags };
      } catch {
        // the next try, or the given flags alone
      }
    }
    gpu = await nodeGpu(base);
  } else {
    throw new DeviceError(
      'WebGPU is not available: this browser has no navigator.gpu (try a current Chrome/Edge, or enable WebGPU).',
    );
  }
  const adapter = await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : {});
  if (!adapter) {
    throw new DeviceError(
      runtime === 'node-dawn'
        ? 'no WebGPU adapter: Dawn found no usable Vulkan driver. With a GPU, install its Vulkan driver. Without one, install Mesa lavapipe ' +
            '(CPU Vulkan) >= 23: `apt-get install mesa-vulkan-drivers libvulkan1` (Debian 13 / Ubuntu 24.04); on Debian 12 bookworm its Mesa 22.3 is too old, ' +
            'so add `deb http://deb.debian.org/debian bookworm-backports main` to /etc/apt/sources.list.d/ and `apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1`. ' +
            'XDG_RUNTIME_DIR must be set (wgsl-vit sets /tmp when it is not).'
        : 'no WebGPU adapter was returned by navigator.gpu.requestAdapter()',
    );
  }
  const wanted = opts.features ?? WANTED_FEATURES;
  const features = wanted.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  const device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
  device.addEventListener?.('uncapturederror', (ev: Event) => {
    console.error('wgsl-vit: uncaptured WebGPU error:', (ev as GPUUncapturedErrorEvent).error?.message);
  });
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const limits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) limits[name] = (device.limits as unknown as Record<string, number>)[name]!;
  limits.minStorageBufferOffsetAlignment = device.limits.minStorageBufferOffsetAlignment;
  limits.maxComputeWorkgroupsPerDimension = device.limits.maxComputeWorkgroupsPerDimension;
  return {
    device,
    adapter,
    adapterInfo: {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
    },
    features,
    limits,
    runtime,
    timestamps: features.includes('timestamp-query') ? 'quantized' : 'none',
    dawnFlags: runtime === 'node-dawn' ? mergeDawnFlags(opts.dawnFlags ?? []) : [],
  };
}

/**
 * How `device` was lost, when it was (destroyed, or lost by the driver), else null. `device.lost`
 * settles as soon as the device is destroyed, so this answers at once.
 */
export async function deviceLostInfo(device: GPUDevice): Promise<GPUDeviceLostInfo | null> {
  const lost = device.lost as Promise<GPUDeviceLostInfo> | undefined;
  if (!lost) return null;
  return Promise.race([lost, Promise.resolve(null)]);
}

/** A WebGPUError naming `what` when `device` was lost or destroyed; nothing otherwise. */
export async function expectDeviceAlive(device: GPUDevice, what: string): Promise<void> {
  const info = await deviceLostInfo(device);
  if (info) throw deviceLostError(what, info);
}

/** The error a call on a lost device gives: what it was for, and how the device was lost. */
export function deviceLostError(what: string, info: GPUDeviceLostInfo): WebGPUError {
  const how = info.reason === 'destroyed' ? 'was destroyed (device.destroy())' : 'was lost';
  return new WebGPUError(
    `${what}: the GPU device ${how}${info.message ? ` — ${info.message}` : ''}; request a new device (requestDevice) and load the model again`,
  );
}
