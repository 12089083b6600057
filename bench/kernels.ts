// Kernel micro-benchmarks: GPU time per kernel at the shapes a ViT forward pass uses, from
// timestamp queries (fenced wall time where the adapter has none). Every GEMM and attention row is
// checked at sampled places against the tests' float64 references (reference/), so a fast but wrong
// tile cannot win. The rows are one module per kernel family (bench/kernels/: the GEMM and attention
// rows generated from the family tables, src/kernels/choose/variants.ts); this runner parses the
// flags, runs each family's rows in turn and writes the results.
//   npm run bench:kernels [-- --tiles all|64x64k32,128x128k8,... --variants all|tiled,broadcast --only gemm,attention --big --dtypes f32,f16,q8 --out bench/results]
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { requestDevice, splitDawnFlags } from '../src/device.js';
import { adapterTraits } from '../src/kernels/choose/adapter.js';
import { gitCommit, resultStem } from './env.js';
import { attentionRows } from './kernels/attention.js';
import { createBench, type Bench, type Row } from './kernels/context.js';
import { parseRuntimes, runScript, type BenchRuntime } from './runtimes.js';
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
  --precisions f32,f16 the arithmetic of the tiled GEMM and flash attention rows (default f32; f16:
                       their f16 builds, marked "f16·" in the tile column, checked against the f16 bound)
  --big                also the rows over 10 GFLOP on a CPU adapter
  --diag               also the GPU questions' rows (gemm diag …): B/16's fc at batch 32 with each epilogue
                       (is the cliff the epilogue's?), and 128×128-tile grids of 132, 264, 265 and 396
                       workgroups at K = 768 (where time jumps: workgroups per SM, hence registers)
  --flags a,b          Dawn toggles
  --runtime node|deno|both
                       Dawn in Node (default), Deno's own WebGPU (wgpu + Naga), or both: each family's rows
                       run on each in turn (child processes, alternated family by family), then one table
                       with both columns and the ratio; a row only one implementation runs says so
  --family NAME        only this family's rows (${'gemm, attention, layernorm, patch_embed, mean_pool'})
  --rows-json FILE     also write the rows as JSON to FILE (what --runtime both reads back)
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
    precisions: { type: 'string', default: 'f32' },
    runtime: { type: 'string', default: 'node' },
    family: { type: 'string' },
    'rows-json': { type: 'string' },
    /** Internal: this process is one family's child of a --runtime deno|both run. */
    child: { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
if (flags.family && !FAMILY_ROWS.some(([f]) => f === flags.family))
  throw new Error(`--family: unknown family '${flags.family}' (have: ${FAMILY_ROWS.map(([f]) => f).join(', ')})`);
const runtimes: BenchRuntime[] = parseRuntimes(flags.runtime);
// --runtime deno / both: this process only starts the children (one per family and runtime) and
// merges their rows; a child (--child) runs in whatever runtime started it.
if (!flags.child && (runtimes.length > 1 || runtimes[0] !== 'node')) process.exit(await acrossRuntimes(runtimes));
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
for (const [family, rows] of FAMILY_ROWS) if (!flags.family || flags.family === family) await rows(bench);
if (flags['rows-json'])
  writeFileSync(flags['rows-json'], JSON.stringify({ adapter: adapterLine, runtime: runtimeName(), rows: bench.rows }));

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

/** The runtime this process is, as the merged table names it. */
function runtimeName(): string {
  const deno = (globalThis as { Deno?: { version?: { deno?: string } } }).Deno?.version?.deno;
  return deno ? `wgpu in Deno ${deno}` : `Dawn in Node.js ${process.version}`;
}

/**
 * --runtime deno|both: each family's rows run in a child per runtime, the runtimes alternated family by
 * family (drift on a shared machine hits both alike), then one table: each row's GPU ms on each and
 * the ratio. Every child checks its own rows against the float64 references; a WRONG row on either
 * fails the run. Returns the exit code.
 */
async function acrossRuntimes(rts: BenchRuntime[]): Promise<number> {
  const script = fileURLToPath(import.meta.url);
  const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-kernels-'));
  const passed = process.argv.slice(2).filter((a, i, all) => {
    const prev = all[i - 1];
    const drop = (f: string) => a === f || a.startsWith(`${f}=`) || prev === f;
    return !drop('--runtime') && !drop('--out') && !drop('--family') && !drop('--rows-json');
  });
  const got = new Map<BenchRuntime, { runtime: string; adapter: string; rows: Row[] }[]>(rts.map((r) => [r, []]));
  let code = 0;
  try {
    for (const [family] of FAMILY_ROWS) {
      if (flags.family && flags.family !== family) continue;
      for (const rt of rts) {
        const file = join(dir, `${rt}-${family}.json`);
        console.log(`\n# ${family} on ${rt}`);
        const c = await runScript(rt, script, [...passed, '--child', '--family', family, '--rows-json', file]);
        if (c !== 0) code = 1;
        try {
          got
            .get(rt)!
            .push(JSON.parse(readFileSync(file, 'utf8')) as { runtime: string; adapter: string; rows: Row[] });
        } catch {
          console.log(`${family} on ${rt}: no rows (exit code ${c})`);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const names = rts.map((rt) => got.get(rt)![0]?.runtime ?? rt);
  // A tile or variant is marked * where that runtime's adapter picks it: the key leaves the mark out.
  const bare = (r: Row) => (r.tile ?? '').replace(/\*$/, '');
  const key = (r: Row) => `${r.kernel} ${r.shape} ${bare(r)}`;
  const byRt = rts.map((rt) => new Map(got.get(rt)!.flatMap((g) => g.rows.map((r) => [key(r), r] as const))));
  const keys = [...new Set(byRt.flatMap((m) => [...m.keys()]))];
  const cell = (r: Row | undefined) =>
    r
      ? `${r.ms.toFixed(3)} ms ${r.check?.startsWith('ok') ? 'ok' : 'WRONG'}${r.tile?.endsWith('*') ? ' *' : ''}`
      : 'not run';
  const lines = [
    `Adapter: ${got.get(rts[0]!)![0]?.adapter ?? '?'} · commit ${gitCommit()} · ${new Date().toISOString()}`,
    `Kernel GPU time (timestamp queries, median of ${flags.iters}) on ${names.join(' and ')}, the families alternated; each row checked against the float64 references in its own runtime. "not run": that implementation lacks what the variant needs (e.g. subgroups on wgpu) or its tile does not fit; * = what that implementation's adapter picks for the shape; ×N = ${names[0]}'s speed over ${names[1] ?? names[0]}'s (below 1: the second is faster).`,
    '',
    `| kernel | shape | tile / variant | ${names.join(' | ')} |${rts.length > 1 ? ' ×N |' : ''}`,
    `|---|---|---|${names.map(() => '---|').join('')}${rts.length > 1 ? '---|' : ''}`,
  ];
  for (const k of keys) {
    const rs = byRt.map((m) => m.get(k));
    const r = rs.find(Boolean)!;
    const ratio =
      rs.length > 1 && rs[0] && rs[1] ? ` ×${(rs[1].ms / rs[0].ms).toFixed(2)} |` : rs.length > 1 ? ' — |' : '';
    lines.push(`| ${r.kernel} | ${r.shape} | ${bare(r) || '—'} | ${rs.map(cell).join(' | ')} |${ratio}`);
  }
  const md = lines.join('\n') + '\n';
  console.log(`\n${md}`);
  if (flags.out) {
    mkdirSync(flags.out, { recursive: true });
    const base = join(flags.out, `kernels-${resultStem(new Date().toISOString(), 'runtimes')}`);
    writeFileSync(`${base}.md`, md);
    writeFileSync(
      `${base}.json`,
      JSON.stringify(
        { runtimes: names, rows: Object.fromEntries(keys.map((k) => [k, byRt.map((m) => m.get(k) ?? null)])) },
        null,
        2,
      ),
    );
    console.log(`wrote ${base}.json and .md`);
  }
  return code;
}
