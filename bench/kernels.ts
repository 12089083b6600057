// Kernel micro-benchmarks: GPU time per kernel at the shapes a ViT forward pass uses, from
// timestamp queries (fenced wall time where the adapter has none). Every GEMM and attention row is
// checked at sampled places against the tests' float64 references (reference/), so a fast but wrong
// tile cannot win. The rows are one module per kernel family (bench/kernels/: the GEMM and attention
// rows generated from the family tables, src/kernels/choose/variants.ts); this runner parses the
// flags, runs each family's rows in turn and writes the results.
//   npm run bench:kernels [-- --tiles all|64x64k32,128x128k8,... --variants all|tiled,broadcast --only gemm,attention --big --dtypes f32,f16,q8 --out bench/results]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { requestDevice, splitDawnFlags } from '../src/device.js';
import { adapterTraits } from '../src/kernels/choose/adapter.js';
import { gitCommit, resultStem } from './env.js';
import { attentionRows } from './kernels/attention.js';
import { createBench, type Bench } from './kernels/context.js';
import { gemmRows } from './kernels/gemm.js';
import { layerNormRows } from './kernels/layernorm.js';
import { meanPoolRows } from './kernels/mean-pool.js';
import { patchEmbedRows } from './kernels/patch-embed.js';

/** Each family's rows, in the order they run (a new family: its module, and a line here). */
const FAMILY_ROWS: readonly [string, (b: Bench) => Promise<void>][] = [
  ['gemm', gemmRows],
  ['attention', attentionRows],
  ['layernorm', layerNormRows],
  ['patch_embed', patchEmbedRows],
  ['mean_pool', meanPoolRows],
];

const USAGE = `npm run bench:kernels [-- options]
  --iters N            timed passes per row, the median counts (default 5)
  --only a,b           rows whose "kernel shape" starts with one of these (e.g. gemm,attention ti)
  --tiles all|a,b      GEMM tiles to time (default: the adapter's per-shape choice)
  --variants all|a,b   attention variants to time (default: the adapter's choice)
  --dtypes f32,f16,q8  GEMM weight dtypes (default f32)
  --big                also the rows over 10 GFLOP on a CPU adapter
  --diag               also the GPU questions' rows (gemm diag …): B/16's fc at batch 32 with each epilogue
                       (is the cliff the epilogue's?), and 128×128-tile grids of 132, 264, 265 and 396
                       workgroups at K = 768 (where time jumps: workgroups per SM, hence registers)
  --flags a,b          Dawn toggles
  --out DIR            write kernels-<date>-<vendor>.json and .md there`;

const { values: flags } = parseArgs({
  options: {
    iters: { type: 'string', default: '5' },
    only: { type: 'string' },
    flags: { type: 'string' },
    tiles: { type: 'string' },
    variants: { type: 'string' },
    big: { type: 'boolean', default: false },
    diag: { type: 'boolean', default: false },
    dtypes: { type: 'string', default: 'f32' },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const {
  device,
  adapterInfo,
  features,
  timestamps: timestampMode,
} = await requestDevice({ dawnFlags: flags.flags ? splitDawnFlags(flags.flags) : [], preciseTimestamps: true });
const timestamps = timestampMode !== 'none';
const timingLabel = timestamps ? `timestamp-query (${timestampMode})` : 'wall';
const bench = createBench(device, adapterTraits(device), flags);
const adapterLine = [adapterInfo.vendor, adapterInfo.architecture, adapterInfo.description].filter(Boolean).join(' ');
console.log(`adapter: ${adapterLine}; ${timingLabel}; median of ${bench.iters}`);
for (const [, rows] of FAMILY_ROWS) await rows(bench);

if (flags.out) {
  const { iters, rows } = bench;
  const commit = gitCommit();
  mkdirSync(flags.out, { recursive: true });
  const base = join(flags.out, `kernels-${resultStem(new Date().toISOString(), adapterInfo.vendor)}`);
  writeFileSync(
    `${base}.json`,
    JSON.stringify({ adapter: adapterInfo, features, timing: timingLabel, iters, commit, rows }, null, 2),
  );
  const md = [
    `Adapter: ${adapterLine} · commit ${commit} · ${new Date().toISOString()}`,
    `Timing: median of ${iters} single-dispatch passes after a warm-up, ${timestamps ? `GPU timestamps (${timestampMode}: ${timestampMode === 'precise' ? "Dawn's 65.536 µs quantization lifted" : 'Dawn quantizes to 65.536 µs'})` : 'fenced wall time'}; a dispatch under 0.5 ms is timed as up to 64 repeats in one pass. Tile / variant * = what this adapter picks for that shape (gemmTileFor, attentionVariantFor). Checks: 256 sampled GEMM outputs / 64 sampled attention rows vs float64, |err| / (|want| + 1) ≤ 1e-4.`,
    '',
    '| kernel | shape | tile / variant | ms | rate | check |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.kernel} | ${r.shape} | ${r.tile ?? '—'} | ${r.ms.toFixed(3)} | ${r.rate.toFixed(r.unit === 'GB/s' ? 2 : 1)} ${r.unit} | ${r.check ?? '—'} |`,
    ),
    '',
  ].join('\n');
  writeFileSync(`${base}.md`, md);
  console.log(`wrote ${base}.json and .md`);
}
device.destroy();
process.exit(bench.wrong() ? 1 : 0);
