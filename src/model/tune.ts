// Kernel choices measured, not assumed: times the candidate GEMM variants/tiles (and split-K) and attention variants
// at a model's own shapes on the adapter in hand (random weights of the model's shape, a few blocks),
// checks each candidate's outputs against a reference candidate (the portable 'tiled' GEMM and
// 'broadcast' attention, each tested against float64 references in the test suite), and returns the
// fastest correct choices as a profile (profiles.ts stores it; models loaded later use it).
import type { KernelChoices } from '../graph/graph.js';
import { adapterTraits, type AdapterTraits } from '../kernels/choose/adapter.js';
import { ATTENTION_FAMILY, GEMM_FAMILY, GEMM_SPECS, runnableVariants } from '../kernels/choose/variants.js';
import { GEMM_TILES, tileName, tileProblem } from '../kernels/choose/tiles.js';
import type { TextConfig, ViTConfig } from './config.js';
import { checkOptionKeys, type KeyList } from '../options.js';
import { adapterKey, shapeKey, toStored, type TuneProfile, type TuneTiming } from './profiles.js';
import { randomCheckpoint, randomTextTensors } from './random.js';
import { memoryCheckpoint } from '../weights/checkpoint.js';
import { TextTransformer } from './text.js';
import { VisionTransformer } from './vit.js';

export interface TuneOptions {
  /** Images per forward (default 1). */
  batch?: number;
  /** Input resolution (default the config's). */
  resolution?: number;
  /** Blocks of the model to run (default 2: the choices are per block shape, depth only scales the time). */
  layers?: number;
  /** Timed forwards per candidate after one warm-up (default 3; the median counts). */
  iters?: number;
  /** Largest |difference| from the reference a candidate may have (default 2e-3, the benchmark's criterion). */
  tolerance?: number;
  onProgress?: (t: TuneTiming) => void;
}

/** The keys of TuneOptions (an unknown one is refused, options.ts). */
export const TUNE_OPTION_KEYS = {
  batch: true,
  resolution: true,
  layers: true,
  iters: true,
  tolerance: true,
  onProgress: true,
} as const satisfies KeyList<TuneOptions>;

/** One timed forward of a tower with some kernel choices: its outputs (to compare) and the model to free. */
type Runner = (
  choices: KernelChoices,
) => Promise<{ forward: () => Promise<Record<string, Float32Array>>; destroy: () => void }>;

/** Loads a few blocks of `config`'s tower on random weights, and a forward on fixed random inputs. */
function runnerFor(
  device: GPUDevice,
  config: ViTConfig | TextConfig,
  batch: number,
  resolution: number,
  layers: number,
): Runner {
  if ('contextLength' in config) {
    const t: TextConfig = { ...config, layers: Math.min(config.layers, layers) };
    const weights = memoryCheckpoint(randomTextTensors(t, 7), 'tune');
    let seed = 1;
    const ids = Uint32Array.from({ length: batch * t.contextLength }, () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % t.vocabSize;
    });
    return async (kernels) => {
      const m = await TextTransformer.load(device, { weights, config: t, kernels, profile: false });
      const forward = async () => {
        const r = await m.forward(ids, batch, { outputs: ['block0', 'embedding'] });
        return { block0: r.block0!, embedding: r.embedding! };
      };
      return { forward, destroy: () => m.destroy() };
    };
  }
  const c: ViTConfig = { ...config, layers: Math.min(config.layers, layers) };
  const weights = randomCheckpoint(c, 7, 'tune');
  let seed = 1;
  const pixels = Float32Array.from({ length: batch * 3 * resolution * resolution }, () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 31 - 1;
  });
  return async (kernels) => {
    const m = await VisionTransformer.load(device, { weights, config: c, kernels, profile: false });
    const forward = async () => {
      const r = await m.forward(pixels, batch, { resolution, outputs: ['tokens', 'embedding'] });
      return { tokens: r.tokens!, embedding: r.embedding! };
    };
    return { forward, destroy: () => m.destroy() };
  };
}

/**
 * The GEMM candidates on an adapter with these traits, from GEMM_FAMILY (choose/variants.ts): each
 * variant it can run, the most specialised first (table order reversed: 'texture', 'subgroup'),
 * and a tiled one with every tile its limits allow — not only the built-in candidates: on a GPU
 * the built-in ranking is one H200 sweep's (choose/choose.ts), and measuring is the point.
 */
export function gemmTuneCandidates(traits: AdapterTraits): [string, KernelChoices][] {
  return (
    runnableVariants(GEMM_FAMILY, traits)
      // The f16-input subgroup-matrix GEMM only where asked for (as in chooseGemmVariant): a profile
      // must not lower an fp32 model's precision unasked.
      .filter((v) => v !== 'subgroup_matrix' || traits.preferSubgroupMatrix)
      .reverse()
      .flatMap((v): [string, KernelChoices][] =>
        GEMM_SPECS[v].tiles
          ? [
              // The built-in per-shape choice of tile and split-K (choose/choose.ts), then each tile
              // alone, without a split (every GEMM of the model on that tile).
              [`gemm ${v} per shape`, { gemmVariant: v }],
              ...Object.values(GEMM_TILES)
                .filter((tile) => tileProblem(traits.limits, tile) === null)
                .map((tile): [string, KernelChoices] => [
                  `gemm ${v} ${tileName(tile)}`,
                  { gemmVariant: v, gemmTile: tile, gemmSplitK: 1 },
                ]),
            ]
          : [[`gemm ${v}`, { gemmVariant: v }]],
      )
  );
}

/** The split-K counts tune times on every GEMM of the model (besides none and the per-shape choice). */
export const SPLIT_K_TUNE = [2, 3, 4, 8] as const;

/**
 * The split-K candidates after the GEMM candidates, from the fastest of those (`best`): where it runs
 * the tiled GEMM, the same with each of SPLIT_K_TUNE on every GEMM, and with the built-in per-shape
 * split for its tile (chooseGemmSplit); none for another variant (split-K is the tiled GEMM's).
 */
export function splitKTuneCandidates(best: KernelChoices): [string, KernelChoices][] {
  if (best.gemmVariant !== 'tiled') return [];
  const base = best.gemmTile ? `gemm tiled ${tileName(best.gemmTile)}` : 'gemm tiled per-shape tiles';
  const rest: KernelChoices = { ...best };
  delete rest.gemmSplitK;
  return [
    ...SPLIT_K_TUNE.map((s): [string, KernelChoices] => [`${base} split-K ${s}`, { ...rest, gemmSplitK: s }]),
    ...(best.gemmTile ? [[`${base} split-K per shape`, rest] as [string, KernelChoices]] : []),
  ];
}

/**
 * Times and checks the candidates (GEMM first, then attention with the best GEMM) on either tower
 * (a text tower: `batch` texts of its context length, `resolution` unused); returns the profile, keyed
 * by the tower's shape (shapeKey).
 */
export async function tuneKernels(
  device: GPUDevice,
  config: ViTConfig | TextConfig,
  opts: TuneOptions = {},
): Promise<TuneProfile> {
  checkOptionKeys('tuneKernels', opts, TUNE_OPTION_KEYS);
  const text = 'contextLength' in config;
  const batch = opts.batch ?? 1,
    resolution = text ? config.contextLength : (opts.resolution ?? config.imageSize),
    iters = opts.iters ?? 3,
    tolerance = opts.tolerance ?? 2e-3;
  const load = runnerFor(device, config, batch, resolution, opts.layers ?? 2);
  const run = async (choices: KernelChoices) => {
    const m = await load(choices);
    try {
      const first = await m.forward();
      const times: number[] = [];
      for (let i = 0; i < iters; i++) {
        const t = performance.now();
        await m.forward();
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      return { out: first, ms: times[Math.floor(times.length / 2)]! / batch };
    } finally {
      m.destroy();
    }
  };
  const reference = (await run({ gemmVariant: 'tiled', attentionVariant: 'broadcast' })).out;
  const diff = (o: typeof reference) => {
    let d = 0;
    for (const k of Object.keys(reference)) {
      const a = o[k]!,
        b = reference[k]!;
      for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
    }
    return d;
  };
  const timings: TuneTiming[] = [];
  const time = async (label: string, choices: KernelChoices) => {
    let t: TuneTiming;
    try {
      const r = await run(choices);
      const d = diff(r.out);
      t = { label, choices: toStored(choices), msPerImage: r.ms, maxAbsDiff: d, ok: d <= tolerance };
    } catch (e) {
      const error = (e as Error).message.split('\n')[0]!;
      t = { label, choices: toStored(choices), msPerImage: null, maxAbsDiff: null, ok: false, error };
    }
    timings.push(t);
    opts.onProgress?.(t);
    return t;
  };
  const best = (ts: TuneTiming[]) => ts.filter((t) => t.ok).sort((a, b) => a.msPerImage! - b.msPerImage!)[0] ?? null;

  const traits = adapterTraits(device);
  // 1. The GEMM, with the attention the heuristics pick.
  const gemmCandidates = gemmTuneCandidates(traits);
  const gemmTimings: TuneTiming[] = [];
  for (const [label, k] of gemmCandidates) gemmTimings.push(await time(label, k));
  // 1b. Split-K with the fastest tiled choice (none where another variant won).
  const firstBest = best(gemmTimings);
  if (firstBest) {
    const split = splitKTuneCandidates(gemmCandidates[gemmTimings.indexOf(firstBest)]![1]);
    for (const [label, k] of split) {
      gemmCandidates.push([label, k]);
      gemmTimings.push(await time(label, k));
    }
  }
  const gemmBest = best(gemmTimings);
  const gemmChoice: KernelChoices = gemmBest ? gemmCandidates[gemmTimings.indexOf(gemmBest)]![1] : {};
  // 2. The attention, with that GEMM.
  const attentionTimings: TuneTiming[] = [];
  for (const v of runnableVariants(ATTENTION_FAMILY, traits))
    attentionTimings.push(await time(`attention ${v}`, { ...gemmChoice, attentionVariant: v }));
  const attentionBest = best(attentionTimings);
  const choices: KernelChoices = {
    ...gemmChoice,
    ...(attentionBest?.choices.attentionVariant ? { attentionVariant: attentionBest.choices.attentionVariant } : {}),
  };
  return {
    version: 1,
    adapter: adapterKey((device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo),
    shape: text ? shapeKey(config) : shapeKey(config, resolution),
    batch,
    resolution,
    choices: toStored(choices),
    timings,
    date: new Date().toISOString(),
  };
}
