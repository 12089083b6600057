// The benchmark's model rows, prepared the same way in every runtime (bench/run.ts in Node, and
// bench/row-server.ts when a row runs on another WebGPU implementation): a row's model, its input
// pixels, how to load it and the reference it is checked against: the PyTorch outputs for fixture
// rows, the float64 CPU reference (reference/vit.ts) for the others.
import type { Precision } from '../src/kernels/program/precision.js';
import { join } from 'node:path';
import { flopsPerImage, presetConfig, presetFamily, readOpenClipConfig, type ViTConfig } from '../src/model/config.js';
import type { KernelChoices } from '../src/graph/graph.js';
import type { ModelDType } from '../src/model/dtype.js';
import { randomCheckpoint, randomTensors, seededNormal } from '../src/model/random.js';
import { compare, readExpected, type Comparison } from '../src/model/verify.js';
import { VisionTransformer } from '../src/model/vit.js';
import { tileName } from '../src/kernels/gemm-tile.js';
import { openCheckpoint, type Checkpoint } from '../src/weights/index.js';
import { vitRef } from '../reference/vit.js';
import type { DTypeSubject } from './dtypes.js';
import { ROOT } from './env.js';
import type { BenchRow } from './suites.js';

const FIXTURES = join(ROOT, 'test', 'fixtures');
/** Rows whose full-depth CPU reference costs more than this per image are checked on block 0 only. */
const FULL_REFERENCE_FLOPS = 8e9;

/** Parses --rows: "model@resolution x batch /L blocks", comma-separated. */
export function parseRows(spec: string): BenchRow[] {
  return spec.split(',').map((s) => {
    const m = /^([\w:-]+?)(?:@(\d+))?(?:x(\d+))?(?:\/L(\d+))?$/.exec(s.trim());
    if (!m) throw new Error(`--rows: cannot parse '${s}' (model@resolution x batch, e.g. b-16@224x32)`);
    return {
      model: m[1]!,
      resolution: m[2] ? +m[2] : undefined,
      batch: m[3] ? +m[3] : 1,
      layers: m[4] ? +m[4] : undefined,
    };
  });
}

export interface Prepared {
  label: string;
  config: ViTConfig;
  resolution: number;
  batch: number;
  pixels: Float32Array;
  /** The row's model on `device`, in `dtype` (default: the row's), with `kernels` forced when given. */
  load: (
    device: GPUDevice,
    dtype?: ModelDType,
    kernels?: KernelChoices,
    precision?: Precision,
  ) => Promise<VisionTransformer>;
  /** The reference the dtype table compares with (dtypes.ts). */
  reference: DTypeSubject['reference'];
  checkpoint: () => Promise<Checkpoint>;
  /** The reference embedding of the whole batch, when there is one (fixtures), else of image 0 (CPU, full depth) or null. */
  check: (out: Awaited<ReturnType<VisionTransformer['forward']>>) => { comparisons: Comparison[]; reference: string };
}

/** A row ready to run; `dtype` is the weights its `load` gives by default. */
export async function prepare(row: BenchRow, mainDType: ModelDType = 'fp32'): Promise<Prepared> {
  if (row.model.startsWith('fixture:')) {
    const name = row.model.slice('fixture:'.length);
    const exp = await readExpected(join(FIXTURES, `${name}.expected.safetensors`));
    const cfgPath = join(FIXTURES, exp.meta.config!);
    const config = await readOpenClipConfig(cfgPath);
    const [B, , S] = exp.inputShape as [number, number, number];
    if (row.batch !== B) throw new Error(`${row.model}: the fixture has batch ${B}`);
    return {
      label: `${name} (fixture, ${name.startsWith('oai-') ? 'OpenAI CLIP' : 'OpenVision'})`,
      config,
      resolution: S,
      batch: B,
      pixels: exp.input,
      load: (device, dtype = mainDType, kernels, precision) =>
        VisionTransformer.load(device, {
          weights: join(FIXTURES, exp.meta.weights!),
          config,
          dtype,
          kernels,
          precision,
        }),
      reference: () => ({ name: 'embedding', rows: B, want: exp.outputs.embedding!.data, what: 'PyTorch fixture' }),
      checkpoint: () => openCheckpoint(join(FIXTURES, exp.meta.weights!)),
      check: (out) => ({
        reference: 'PyTorch fixture',
        comparisons: (['tokens', 'pooled', 'embedding', 'block0'] as const)
          .filter((k) => exp.outputs[k])
          .map((k) => compare(k, out[k]!, exp.outputs[k]!.data)),
      }),
    };
  }
  const base = presetConfig(row.model, row.resolution);
  const config = row.layers ? { ...base, layers: Math.min(row.layers, base.layers) } : base;
  const res = row.resolution ?? config.imageSize;
  const normal = seededNormal(7);
  const pixels = new Float32Array(row.batch * 3 * res * res);
  for (let i = 0; i < pixels.length; i++) pixels[i] = normal();
  // The row names its family (OpenVision, or a CLIP baseline in OpenAI's layout).
  const label = `${row.model} (${presetFamily(row.model)})${config.layers < base.layers ? ` (${config.layers} of ${base.layers} blocks)` : ''}`;
  // float64 CPU reference on image 0: the whole model when affordable, else block 0 only; computed
  // once, for the row's check and the dtype table.
  const full = flopsPerImage(config, res) <= FULL_REFERENCE_FLOPS;
  const g = res / config.patchSize,
    n = 1 + g * g,
    W = config.width;
  let cached: ReturnType<typeof vitRef> | null = null;
  const cpuRef = () => {
    if (cached) return cached;
    const refCfg = full ? config : { ...config, layers: 1 };
    // The same random tensors the model was loaded with (seed 1; a shallower config draws a prefix of them).
    const weights = new Map([...randomTensors(refCfg, 1)].map(([k, v]) => [k, v.data]));
    return (cached = vitRef(refCfg, weights, pixels.subarray(0, 3 * res * res), 1, res));
  };
  return {
    label,
    config,
    resolution: res,
    batch: row.batch,
    pixels,
    load: (device, dtype = mainDType, kernels, precision) =>
      VisionTransformer.load(device, { weights: randomCheckpoint(config, 1), config, dtype, kernels, precision }),
    checkpoint: () => Promise.resolve(randomCheckpoint(config, 1)),
    reference: () => {
      const ref = cpuRef();
      return full
        ? { name: 'embedding', rows: 1, want: Float32Array.from(ref.embedding), what: 'CPU float64, image 0' }
        : {
            name: 'block0',
            rows: n,
            want: Float32Array.from(ref.block0),
            what: 'CPU float64, image 0, block 0 (per token)',
          };
    },
    check: (out) => {
      const ref = cpuRef();
      const comparisons = [compare('block0', out.block0!.subarray(0, n * W), Float32Array.from(ref.block0))];
      if (full) {
        comparisons.push(compare('tokens', out.tokens!.subarray(0, (n - 1) * W), Float32Array.from(ref.tokens)));
        comparisons.push(
          compare('embedding', out.embedding!.subarray(0, config.embedDim), Float32Array.from(ref.embedding)),
        );
      }
      return { comparisons, reference: full ? 'CPU float64, image 0' : 'CPU float64, image 0, block 0' };
    },
  };
}

/** The kernel choices a model settled on, for the report (e.g. "gemm texture, attention texture"). */
export function describeKernels(k: VisionTransformer['kernels']): string {
  const parts = [
    k.gemmVariant ? `gemm ${k.gemmVariant}` : k.gemmTile ? 'gemm tiled' : 'gemm default',
    ...(k.gemmTile ? [`tile ${tileName(k.gemmTile)}`] : []),
    `attention ${k.attentionVariant ?? 'default'}`,
  ];
  return parts.join(', ');
}
