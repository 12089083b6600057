// One way to get a configured GPUDevice: the runtime's own WebGPU (`navigator.gpu`: browsers, Deno's
// wgpu) or Dawn through npm `webgpu` (Node.js, and Deno or Bun where asked for); docs/runtimes.md.
import { DeviceError, WebGPUError } from './errors.js';
import { envReadable, envVar } from './env.js';
import { checkOptionKeys, type KeyList } from './options.js';
import {
  SUBGROUP_MATRIX_FEATURE,
  subgroupMatrixConfigsOf,
  type SubgroupMatrixConfig,
} from './kernels/choose/subgroup-matrix.js';
import { isCpuAdapterInfo } from './kernels/program/device-traits.js';

/**
 * Optional features the kernels can use when the adapter has them. Dawn offers
 * 'chromium-experimental-subgroup-matrix' only with the toggles SUBGROUP_MATRIX_FLAGS (Node: see
 * DeviceOptions.subgroupMatrix; Chrome: --enable-unsafe-webgpu).
 */
export const WANTED_FEATURES: readonly GPUFeatureName[] = [
  'shader-f16',
  'subgroups',
  'timestamp-query',
  SUBGROUP_MATRIX_FEATURE,
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
  /**
   * In Node, ask Dawn for 'chromium-experimental-subgroup-matrix' (tensor cores through Vulkan
   * cooperative matrix; the 'subgroup_matrix' GEMM) with SUBGROUP_MATRIX_FLAGS. Default: on GPU
   * adapters, not on CPU ones (lavapipe, SwiftShader: none offers it); true asks on every adapter,
   * false never. Where the feature is not granted with them the device is made without the toggles
   * (they would only widen what Dawn allows), and `DeviceInfo.dawnFlags` says what it was made with.
   * Where not given: the environment variable WGSL_VIT_SUBGROUP_MATRIX (`on`, `off`, `auto`) where set.
   */
  subgroupMatrix?: boolean;
  /**
   * Which WebGPU implementation: 'native' is the runtime's own `navigator.gpu` (a browser's, Deno's
   * wgpu), 'dawn' is Dawn through npm `webgpu` (Node.js, Deno, Bun). Default: the environment
   * variable WGSL_VIT_WEBGPU where set, else 'auto': `navigator.gpu` where it exists, else Dawn in
   * Node.js and Bun (Deno without `navigator.gpu` is refused, naming the flag that turns it on).
   */
  webgpu?: WebGPUChoice;
}

/** The WebGPU implementation requestDevice() is asked for (DeviceOptions.webgpu, WGSL_VIT_WEBGPU). */
export type WebGPUChoice = 'auto' | 'dawn' | 'native';
export const WEBGPU_CHOICES: readonly WebGPUChoice[] = ['auto', 'dawn', 'native'];
/** The environment variable that picks the WebGPU implementation where DeviceOptions.webgpu is not given. */
export const WEBGPU_ENV = 'WGSL_VIT_WEBGPU';

/** The environment variable that sets DeviceOptions.subgroupMatrix where the option is not given (on, off, auto). */
export const SUBGROUP_MATRIX_ENV = 'WGSL_VIT_SUBGROUP_MATRIX';

/** The keys of DeviceOptions (an unknown one is refused, options.ts). */
export const DEVICE_OPTION_KEYS = {
  dawnFlags: true,
  powerPreference: true,
  features: true,
  gpu: true,
  preciseTimestamps: true,
  nvidiaF16: true,
  subgroupMatrix: true,
  webgpu: true,
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

/**
 * Dawn flags under which Dawn offers 'chromium-experimental-subgroup-matrix': the feature is
 * experimental (`allow_unsafe_apis`), and Vulkan's cooperative matrices need the Vulkan memory model
 * in the SPIR-V (`use_vulkan_memory_model`). ONNX Runtime's WebGPU EP enables both.
 */
export const SUBGROUP_MATRIX_FLAGS: readonly string[] = [
  'enable-dawn-features=allow_unsafe_apis,use_vulkan_memory_model',
];

/** Dawn flags that lift timestamp quantization (Node only; `allow_unsafe_apis` is what permits the toggle). */
export const PRECISE_TIMESTAMP_FLAGS: readonly string[] = [
  'enable-dawn-features=allow_unsafe_apis',
  'disable-dawn-features=timestamp_quantization',
];

/** What the device's timestamp queries measure with: how a report says it. */
export type TimestampMode =
  | 'none' // no 'timestamp-query' feature
  | 'quantized' // Dawn's default: 65.536 µs steps (browsers too, which add their own rounding)
  | 'precise'; // not quantized: lifted in Dawn (PRECISE_TIMESTAMP_FLAGS), or never (Deno's wgpu)

export interface DeviceInfo {
  device: GPUDevice;
  adapter: GPUAdapter;
  /** vendor / architecture / device / description, as the adapter reports them. */
  adapterInfo: { vendor: string; architecture: string; device: string; description: string };
  /** Optional features that were asked for and granted. */
  features: string[];
  /** Features that were asked for (WANTED_FEATURES or DeviceOptions.features) and the adapter lacks. */
  missingFeatures: string[];
  limits: Record<string, number>;
  /**
   * The runtime and its WebGPU implementation: Dawn (npm `webgpu`) in Node.js, Deno or Bun; Deno's
   * own (wgpu, with the Naga shader compiler); a browser's `navigator.gpu`; or a `gpu` given in the options.
   */
  runtime: Runtime;
  /** Whether timestamp queries are available, and quantized or not (see DeviceOptions.preciseTimestamps). */
  timestamps: TimestampMode;
  /** The Dawn flags the device was made with, merged (Node; empty elsewhere). */
  dawnFlags: string[];
  /**
   * The adapter's subgroup-matrix configurations (Dawn's `adapter.info.subgroupMatrixConfigs`: component
   * and result types, M, N, K) where 'chromium-experimental-subgroup-matrix' was granted; else empty.
   */
  subgroupMatrixConfigs: SubgroupMatrixConfig[];
}

export type Runtime = 'node-dawn' | 'deno-dawn' | 'bun-dawn' | 'deno-wgpu' | 'browser' | 'custom';

interface DenoGlobal {
  version?: { deno?: string };
}
const denoGlobal = (globalThis as { Deno?: DenoGlobal }).Deno;
/** The server-side runtime this runs in (Deno and Bun also define `process.versions.node`), or null in a browser. */
const host: 'node' | 'deno' | 'bun' | null = denoGlobal?.version?.deno
  ? 'deno'
  : typeof process !== 'undefined' && process.versions?.bun
    ? 'bun'
    : typeof process !== 'undefined' && process.versions?.node
      ? 'node'
      : null;
const isNode = host !== null;

/** The implementation asked for: the option, else WGSL_VIT_WEBGPU, else 'auto'; a DeviceError for an unknown name. */
function webgpuChoice(opts: DeviceOptions): WebGPUChoice {
  const given = opts.webgpu ?? envVar(WEBGPU_ENV)?.trim().toLowerCase();
  if (given === undefined || given === '') return 'auto';
  if ((WEBGPU_CHOICES as readonly string[]).includes(given)) return given as WebGPUChoice;
  throw new DeviceError(
    `${opts.webgpu !== undefined ? 'requestDevice option webgpu' : `environment variable ${WEBGPU_ENV}`} is '${given}': ` +
      `it names the WebGPU implementation, one of ${WEBGPU_CHOICES.map((c) => `'${c}'`).join(', ')} ` +
      `('dawn': npm \`webgpu\`; 'native': the runtime's own navigator.gpu)`,
  );
}

/** What to do in a Deno without `navigator.gpu`. */
const DENO_NO_WEBGPU =
  `this Deno (${denoGlobal?.version?.deno ?? '?'}) has no navigator.gpu: run it with --unstable-webgpu (\`deno run --unstable-webgpu …\`; ` +
  `Deno 2.9.6 has WebGPU without the flag), or set ${WEBGPU_ENV}=dawn to use Dawn (npm \`webgpu\`; needs --allow-ffi)`;
// Dawn's node module stays alive while its `gpu` object lives; keep one per set of flags.
const nodeGpus = new Map<string, GPU>();

/** Dawn's GPU object for a set of flags (Node only), with WebGPU's globals installed; one per flag set. */
export async function nodeGpu(given: string[] = []): Promise<GPU> {
  const flags = mergeDawnFlags(given);
  const key = flags.join(' ');
  const known = nodeGpus.get(key);
  if (known) return known;
  // (Deno without --allow-env: left unset.)
  if (envReadable() && !envVar('XDG_RUNTIME_DIR')) process.env.XDG_RUNTIME_DIR = '/tmp';
  let mod: { create(flags: string[]): GPU; globals: Record<string, unknown> };
  try {
    mod = (await import('webgpu')) as unknown as typeof mod;
  } catch (e) {
    const deno =
      host === 'deno'
        ? ' In Deno, `webgpu` must be a dependency of the project (package.json, node_modules) and the addon needs --allow-ffi (and --allow-read, --allow-env).'
        : '';
    throw new DeviceError(
      `could not load the 'webgpu' package (Dawn for ${host === 'deno' ? 'Deno' : host === 'bun' ? 'Bun' : 'Node.js'}): ${(e as Error).message}. Run \`npm install webgpu\`.${deno}`,
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
  let runtime: Runtime;
  const choice = opts.gpu ? 'auto' : webgpuChoice(opts);
  const native = typeof navigator !== 'undefined' ? navigator.gpu : undefined;
  if (opts.gpu) {
    gpu = opts.gpu;
    runtime = 'custom';
  } else if (choice === 'native' || (choice === 'auto' && (native || !isNode || host === 'deno'))) {
    if (!native) {
      throw new DeviceError(
        host === 'deno'
          ? DENO_NO_WEBGPU
          : isNode
            ? `WebGPU 'native' was asked for (${opts.webgpu ? 'option webgpu' : WEBGPU_ENV}), but ${host === 'bun' ? 'Bun' : 'Node.js'} has no navigator.gpu of its own: use 'dawn' (npm \`webgpu\`) or 'auto'`
            : 'WebGPU is not available: this browser has no navigator.gpu (try a current Chrome/Edge, or enable WebGPU).',
      );
    }
    gpu = native;
    runtime = host === 'deno' ? 'deno-wgpu' : 'browser';
  } else if (isNode) {
    runtime = `${host}-dawn`;
    const base = [...(opts.dawnFlags ?? [])];
    // Each extra set of flags is tried first; a Dawn that refuses them gives no adapter (or throws),
    // and the device is then made without them.
    const tries: { flags: string[]; precise: boolean; subgroupMatrix: boolean }[] = [];
    const f16 = opts.nvidiaF16 === false ? [] : NODE_DAWN_FEATURES.map((t) => `enable-dawn-features=${t}`);
    // With the subgroup-matrix toggles first where they are wanted (kept only where the feature comes with them).
    for (const sgm of (await wantsSubgroupMatrix(opts, [...base, ...f16])) ? [true, false] : [false]) {
      const more = [...f16, ...(sgm ? SUBGROUP_MATRIX_FLAGS : [])];
      if (opts.preciseTimestamps)
        tries.push({ flags: [...base, ...more, ...PRECISE_TIMESTAMP_FLAGS], precise: true, subgroupMatrix: sgm });
      if (more.length) tries.push({ flags: [...base, ...more], precise: false, subgroupMatrix: sgm });
    }
    for (const t of tries) {
      try {
        const flags = mergeDawnFlags(t.flags);
        const d = await requestDevice({
          ...opts,
          preciseTimestamps: false,
          nvidiaF16: false,
          subgroupMatrix: false,
          gpu: await nodeGpu(flags),
        });
        if (t.subgroupMatrix && !d.features.includes(SUBGROUP_MATRIX_FEATURE)) {
          d.device.destroy();
          continue;
        }
        const timestamps = t.precise && d.timestamps !== 'none' ? 'precise' : d.timestamps;
        return { ...d, runtime, timestamps, dawnFlags: flags };
      } catch {
        // the next try, or the given flags alone
      }
    }
    gpu = await nodeGpu(base);
  } else {
    throw new DeviceError(
      `WebGPU 'dawn' was asked for (${opts.webgpu ? 'option webgpu' : WEBGPU_ENV}): Dawn (npm \`webgpu\`) runs in Node.js, Deno and Bun, not in a browser; use 'native' or 'auto'`,
    );
  }
  const adapter = await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : {});
  if (!adapter) {
    throw new DeviceError(
      runtime.endsWith('-dawn')
        ? 'no WebGPU adapter: Dawn found no usable Vulkan driver. With a GPU, install its Vulkan driver. Without one, install Mesa lavapipe ' +
            '(CPU Vulkan) >= 23: `apt-get install mesa-vulkan-drivers libvulkan1` (Debian 13 / Ubuntu 24.04); on Debian 12 bookworm its Mesa 22.3 is too old, ' +
            'so add `deb http://deb.debian.org/debian bookworm-backports main` to /etc/apt/sources.list.d/ and `apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1`. ' +
            'XDG_RUNTIME_DIR must be set (wgsl-vit sets /tmp when it is not).'
        : runtime === 'deno-wgpu'
          ? "no WebGPU adapter: Deno's wgpu found no usable Vulkan driver. With a GPU, install its Vulkan driver; without one, Mesa lavapipe (CPU Vulkan): " +
            '`apt-get install mesa-vulkan-drivers libvulkan1` (as for Dawn: the README, "Install")'
          : 'no WebGPU adapter was returned by navigator.gpu.requestAdapter()',
    );
  }
  const wanted = opts.features ?? WANTED_FEATURES;
  const features = wanted.filter((f) => adapter.features.has(f));
  const missingFeatures = wanted.filter((f) => !adapter.features.has(f));
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
    missingFeatures,
    limits,
    runtime,
    timestamps: !features.includes('timestamp-query') ? 'none' : runtime === 'deno-wgpu' ? 'precise' : 'quantized',
    dawnFlags: runtime.endsWith('-dawn') ? mergeDawnFlags(opts.dawnFlags ?? []) : [],
    subgroupMatrixConfigs: features.includes(SUBGROUP_MATRIX_FEATURE) ? subgroupMatrixConfigsOf(adapter.info) : [],
  };
}

/**
 * Whether a Node device is first tried with SUBGROUP_MATRIX_FLAGS (DeviceOptions.subgroupMatrix, else
 * SUBGROUP_MATRIX_ENV): never where it is false / off or the feature is not among the wanted ones;
 * always where it is true / on;
 * by default where the adapter Dawn finds with `flags` is not a CPU implementation.
 */
async function wantsSubgroupMatrix(opts: DeviceOptions, flags: string[]): Promise<boolean> {
  const env = envVar(SUBGROUP_MATRIX_ENV)?.trim().toLowerCase();
  if (opts.subgroupMatrix === undefined && env && !['on', 'off', 'auto'].includes(env))
    throw new DeviceError(`environment variable ${SUBGROUP_MATRIX_ENV} is '${env}': one of 'on', 'off', 'auto'`);
  const asked = opts.subgroupMatrix ?? (env === 'on' ? true : env === 'off' ? false : undefined);
  if (asked === false || !(opts.features ?? WANTED_FEATURES).includes(SUBGROUP_MATRIX_FEATURE)) return false;
  if (asked === true) return true;
  try {
    const gpu = await nodeGpu(mergeDawnFlags(flags));
    const adapter = await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : {});
    return adapter !== null && !isCpuAdapterInfo(adapter.info);
  } catch {
    return false;
  }
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
