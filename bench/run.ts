// The benchmark suite: ViT forward passes over model × patch size × resolution × batch on the
// default WebGPU adapter. Each row reports throughput, GPU time per kernel (timestamp queries
// where the adapter has them), first-run latency, memory, and its error against a reference:
// the PyTorch outputs for fixture rows, the float64 CPU reference (reference/vit.ts) for the
// others. Writes bench/results/<stamp>.json and .md, and bench/results/latest-<vendor>.md.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { requestDevice, splitDawnFlags } from '../src/device.js';
import type { KernelChoices } from '../src/graph/graph.js';
import { compare } from '../src/model/verify.js';
import { exportOnnx } from '../src/onnx/export.js';
import { runOrtWebGpu } from './peers/ort-web.js';
import { loadOrtNode, NATIVE_MISSING, runOrtNodeCpu } from './peers/ort-node.js';
import { clipMarkdown, clipTerminalRow, runClipRows, type TextRowSpec } from './clip.js';
import { SUITES, type BenchRow } from './suites.js';
import {
  dtypeMarkdown,
  dtypeTerminalRow,
  formLabel,
  parseForms,
  runDTypeClip,
  runDTypeRow,
  type DTypeRow,
} from './dtypes.js';
import { MODEL_DTYPES, type ModelDType } from '../src/model/dtype.js';
import { ROOT, gitCommit, resultStem, vendorTag } from './env.js';
import { kernelShareSvg, throughputSvg } from './charts.js';
import { markdownTable, terminalRow, terminalHeader, type AltResult, type RowResult } from './report.js';
import { parseRows, prepare, type Prepared } from './rows.js';
import { implementationOf, openRowSession, type RowFinish, type RowSession } from './row-session.js';
import { parseRuntimes, runScript, startRowServer, type BenchRuntime, type RowServer } from './runtimes.js';
import {
  compareSamples,
  alternate,
  ratioCell,
  summary,
  timingOptions,
  type TimingOptions,
  type TimingStats,
} from './stats.js';

const { values: args } = parseArgs({
  options: {
    suite: { type: 'string', default: 'default' },
    rows: { type: 'string' },
    iters: { type: 'string', default: '5' },
    'max-time': { type: 'string', default: '1' },
    'min-time': { type: 'string', default: '0' },
    warmup: { type: 'string', default: '1' },
    runtime: { type: 'string', default: 'node' },
    kernels: { type: 'string', default: 'adapter' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results') },
    flags: { type: 'string' },
    peer: { type: 'string', default: 'ort-webgpu' },
    native: { type: 'string', default: 'auto' },
    torch: { type: 'string' },
    clip: { type: 'string', default: 'yes' },
    dtype: { type: 'string', default: 'fp32' },
    dtypes: { type: 'string', default: 'fp32,fp16,q8' },
    help: { type: 'boolean' },
  },
});
if (args.help) {
  console.log(
    `npm run bench -- [--suite default|full] [--rows "b-16@224x32,l-14@224x1/L2,..."] [--iters N (Benchmark.js minSamples)] [--max-time S] [--min-time S] [--warmup N] [--runtime node|deno|both (Dawn in Node, wgpu in Deno, or both alternated)] [--kernels adapter|portable (each implementation's own kernel choice, or the portable tiled GEMM and attention on all)] [--flags dawn,toggles] [--peer ort-webgpu|none] [--native auto|no (onnxruntime-node CPU EP when installed: npm run setup:native)] [--torch pytorch.json (bench/peers/pytorch_vit.py)] [--clip yes|no|only (text tower and zero-shot rows; only: those alone)] [--dtype fp32|fp16|q8 (the main table's weights)] [--dtypes fp32,fp16,q8,fp32/f16|none (the dtype table: each row in each dtype, /f16: with f16 arithmetic, timed alternately, weight bytes and accuracy)]`,
  );
  process.exit(0);
}

function parseDTypes(flag: string, spec: string): ModelDType[] {
  if (spec === 'none') return [];
  const list = spec.split(',').map((d) => d.trim());
  for (const d of list)
    if (!(MODEL_DTYPES as readonly string[]).includes(d))
      throw new Error(`--${flag}: unknown dtype '${d}' (have: ${MODEL_DTYPES.join(', ')})`);
  return list as ModelDType[];
}
const mainDType = parseDTypes('dtype', args.dtype)[0] ?? 'fp32';
const tableDTypes = parseForms('dtypes', args.dtypes);
const timing: TimingOptions = timingOptions(args);
const runtimes: BenchRuntime[] = parseRuntimes(args.runtime);
if (args.kernels !== 'adapter' && args.kernels !== 'portable')
  throw new Error(`--kernels: expected adapter or portable, got '${args.kernels}'`);
/** --kernels portable: the kernels every WebGPU implementation runs (no subgroups, no textures). */
const forcedKernels: KernelChoices | undefined =
  args.kernels === 'portable' ? { gemmVariant: 'tiled', attentionVariant: 'tiled' } : undefined;
/** Timing rounds per row when implementations alternate (each a Benchmark.js run of each). */
const ROUNDS = runtimes.length > 1 ? 3 : 1;
/** The runtime this process is: its rows run in process, the others' through a row server. */
const here: BenchRuntime = typeof (globalThis as { Deno?: unknown }).Deno === 'undefined' ? 'node' : 'deno';
// --runtime deno from Node: the whole benchmark (model, text, zero-shot and dtype rows) runs in Deno.
if (runtimes.length === 1 && runtimes[0] !== here)
  process.exit(await runScript(runtimes[0]!, fileURLToPath(import.meta.url), process.argv.slice(2)));

/** The row's model exported to ONNX (once per row, for the peer and the native reference). */
const onnxOf = async (p: Prepared) =>
  exportOnnx(p.config, await p.checkpoint(), { batch: p.batch, resolution: p.resolution });

/** Runs the same model in a peer runtime; its embedding is compared with ours. */
async function runPeer(
  name: string,
  run: () => Promise<{ name: string; msPerBatch: number; firstRunMs: number; embedding: Float32Array }>,
  batch: number,
  ours: Float32Array,
): Promise<RowResult['peer']> {
  try {
    const r = await run();
    return {
      name: r.name,
      msPerBatch: r.msPerBatch,
      imagesPerSec: (batch * 1000) / r.msPerBatch,
      firstRunMs: r.firstRunMs,
      agreement: compare('embedding', r.embedding, ours),
    };
  } catch (e) {
    return { name, error: (e as Error).message.split('\n')[0]!.slice(0, 200) };
  }
}

/** Opens the row on `runtime`: in this process when it is this one, through its row server otherwise. */
function openOn(
  runtime: BenchRuntime,
  row: BenchRow,
  p: Prepared,
  servers: Map<BenchRuntime, RowServer>,
  flags: string[],
) {
  const warmup = +args.warmup;
  if (runtime === here) return openRowSession(p, { flags, warmup, kernels: forcedKernels });
  let server = servers.get(runtime);
  if (!server) servers.set(runtime, (server = startRowServer(runtime)));
  return server.open({ row, dtype: mainDType, flags, warmup, kernels: forcedKernels });
}

const worstOf = (f: RowFinish) => Math.max(...f.comparisons.map((c) => c.maxAbs));

/**
 * The kernel-level reason for a gap between two implementations: the kernel whose GPU time differs
 * most (per-kernel timestamps of each), or that the gap is not in the kernels.
 */
function kernelGap(a: RowFinish, b: RowFinish, names: [string, string]): string {
  if (a.gpuMs === null || b.gpuMs === null) return 'no timestamps on both';
  const keys = new Set([...Object.keys(a.perKernelMs), ...Object.keys(b.perKernelMs)]);
  let worst: [string, number] = ['', 0];
  for (const k of keys) {
    const d = (b.perKernelMs[k] ?? 0) - (a.perKernelMs[k] ?? 0);
    if (Math.abs(d) > Math.abs(worst[1])) worst = [k, d];
  }
  return `GPU ${a.gpuMs.toFixed(1)} vs ${b.gpuMs.toFixed(1)} ms; largest per-kernel gap: ${worst[0] || '—'} ${worst[1] >= 0 ? '+' : ''}${worst[1].toFixed(1)} ms on ${names[1]}`;
}

/**
 * One model row on each runtime asked for: opened on each (load, first run, warm-up), timed in
 * ROUNDS alternating rounds (a Benchmark.js run of each per round; samples pooled), then finished on
 * each (calls in flight, per-kernel GPU time, check, memory). The first runtime is the row's; the
 * others are its `alt` cells, with the ratio and Benchmark.js's verdict on its significance.
 */
async function runRow(
  row: BenchRow,
  p: Prepared,
  servers: Map<BenchRuntime, RowServer>,
  flags: string[],
): Promise<RowResult> {
  const sessions: (RowSession | Error)[] = [];
  for (const rt of runtimes) {
    try {
      sessions.push(await openOn(rt, row, p, servers, flags));
    } catch (e) {
      sessions.push(e as Error);
    }
  }
  try {
    const stats = await alternate(sessions, timing, ROUNDS);
    const finished: (RowFinish | Error)[] = [];
    for (const [j, s] of sessions.entries()) {
      const st = stats[j]!;
      if (s instanceof Error) finished.push(s);
      else if (st instanceof Error) {
        s.close();
        finished.push(st);
      } else
        finished.push(
          await s.finish(timing.minSamples).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))),
        );
    }
    const main = finished[0]!;
    if (main instanceof Error) throw main;
    const s0 = sessions[0] as RowSession;
    const st = stats[0] as TimingStats;
    const ms = st.mean;
    const result: RowResult = {
      label: p.label,
      implementation: s0.implementation.name,
      patch: p.config.patchSize,
      resolution: p.resolution,
      batch: p.batch,
      layers: p.config.layers,
      width: p.config.width,
      msPerBatch: ms,
      msMin: Math.min(...st.sample),
      msMax: Math.max(...st.sample),
      iters: st.samples,
      timing: summary(st),
      imagesPerSec: (p.batch * 1000) / ms,
      msPerImage: ms / p.batch,
      gflops: main.flops / ms / 1e6,
      gpuMs: main.gpuMs,
      msPerBatchInFlight: main.msPerBatchInFlight,
      hostOverhead: main.gpuMs === null ? null : Math.max(0, 1 - main.gpuMs / ms),
      hostOverheadInFlight: main.gpuMs === null ? null : Math.max(0, 1 - main.gpuMs / main.msPerBatchInFlight),
      gpuTiming: main.gpuTiming,
      perKernelMs: main.perKernelMs,
      firstRunMs: s0.firstRunMs,
      plannedActivationBytes: main.plannedActivationBytes,
      unplannedActivationBytes: main.unplannedActivationBytes,
      weightBytes: main.weightBytes,
      gpuBytes: main.gpuBytes,
      reference: main.reference,
      comparisons: main.comparisons,
      ok: main.ok,
      peer: null,
      kernels: main.kernels,
      embeddingForPeer: Float32Array.from(main.embedding),
    };
    // The other implementations: each correct on its own (checked against the same reference), timed
    // in the same rounds; ×N = the row's img/s over this one's.
    const alt: AltResult[] = [];
    for (let j = 1; j < runtimes.length; j++) {
      const f = finished[j]!;
      const s = sessions[j]!;
      const name = s instanceof Error ? runtimes[j]! : s.implementation.name;
      if (f instanceof Error) {
        alt.push({ runtime: runtimes[j]!, implementation: name, error: f.message.split('\n')[0]!.slice(0, 300) });
        continue;
      }
      const sj = stats[j] as TimingStats;
      alt.push({
        runtime: runtimes[j]!,
        implementation: name,
        imagesPerSec: (p.batch * 1000) / sj.mean,
        timing: summary(sj),
        firstRunMs: (s as RowSession).firstRunMs,
        gpuMs: f.gpuMs,
        perKernelMs: f.perKernelMs,
        maxAbs: worstOf(f),
        ok: f.ok,
        kernels: f.kernels,
        ratio: ratioCell(st, sj),
        significant: compareSamples(st, sj) !== 0,
        gap: kernelGap(main, f, [result.implementation!, name]),
        agreement: compare('embedding', Float32Array.from(f.embedding), result.embeddingForPeer!),
      });
    }
    if (alt.length) result.alt = alt;
    return result;
  } finally {
    for (const s of sessions) if (!(s instanceof Error)) s.close();
  }
}

async function main() {
  if (!['yes', 'no', 'only'].includes(args.clip))
    throw new Error(`--clip: expected yes, no or only, got '${args.clip}'`);
  // --clip only: the text and zero-shot rows alone.
  const rows = args.clip === 'only' ? [] : args.rows ? parseRows(args.rows) : SUITES[args.suite];
  if (!rows) throw new Error(`unknown suite '${args.suite}' (have: ${Object.keys(SUITES).join(', ')})`);
  const flags = args.flags ? splitDawnFlags(args.flags) : [];
  const probe = await requestDevice({ dawnFlags: flags, preciseTimestamps: true });
  const adapter = probe.adapterInfo;
  const env = {
    date: new Date().toISOString(),
    commit: gitCommit(),
    machine: {
      hostname: hostname(),
      cpu: cpus()[0]?.model ?? '?',
      cores: cpus().length,
      memGiB: +(totalmem() / 2 ** 30).toFixed(1),
      node: process.version,
      platform: process.platform,
    },
    adapter,
    features: [...probe.adapter.features].sort(),
    grantedFeatures: probe.features,
    limits: probe.limits,
    dawnFlags: flags,
    // 'precise': Dawn's 65.536 µs timestamp quantization lifted; 'quantized': it was refused.
    timestamps: probe.timestamps,
    iters: +args.iters,
    warmup: +args.warmup,
    timing: { ...timing, rounds: ROUNDS, tool: 'Benchmark.js 2.1.4 (deferred benchmarks)' },
    runtimes,
    kernelsAsked: args.kernels,
    /** Every WebGPU implementation the rows ran on (filled in as rows open). */
    implementations: [implementationOf(probe).name],
  };
  probe.device.destroy();
  console.log(
    `wgsl-vit bench: ${rows.length} rows on ${[adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' ')} (commit ${env.commit})`,
  );
  console.log(terminalHeader());
  // PyTorch img/s measured on this GPU by bench/peers/pytorch_vit.py (tools/gpu/device-run.sh), per row.
  const torch = args.torch
    ? (JSON.parse(readFileSync(args.torch, 'utf8')) as {
        device: string;
        rows: { model: string; resolution: number; batch: number; imagesPerSec: number }[];
      })
    : null;
  const native = args.native !== 'no' && (await loadOrtNode()) !== null;
  if (args.native !== 'no' && !native) console.log(`native reference skipped: ${NATIVE_MISSING}`);
  const results: RowResult[] = [];
  const prepared: (Prepared | null)[] = [];
  const servers = new Map<BenchRuntime, RowServer>();
  for (const [i, row] of rows.entries()) {
    const what = `[${i + 1}/${rows.length}] ${row.model}${row.resolution ? `@${row.resolution}` : ''} x${row.batch}${row.layers ? ` (${row.layers} blocks)` : ''}`;
    if (process.stdout.isTTY) process.stdout.write(`  ${what} …\r`);
    else console.log(`  running ${what}`);
    try {
      const p = await prepare(row, mainDType);
      prepared.push(p);
      const r = await runRow(row, p, servers, flags);
      for (const name of [r.implementation, ...(r.alt ?? []).map((a) => a.implementation)])
        if (name && !env.implementations.includes(name)) env.implementations.push(name);
      const shape = [p.batch, 3, p.resolution, p.resolution];
      const onnx = args.peer === 'ort-webgpu' || native ? onnxOf(p) : null;
      if (args.peer === 'ort-webgpu')
        r.peer = await runPeer(
          'ORT Web WebGPU EP',
          async () => runOrtWebGpu(await onnx!, p.pixels, shape, +args.iters, +args.warmup, flags),
          p.batch,
          r.embeddingForPeer!,
        );
      if (native)
        r.native = await runPeer(
          'onnxruntime-node CPU EP',
          async () => runOrtNodeCpu(await onnx!, p.pixels, shape, +args.iters, +args.warmup),
          p.batch,
          r.embeddingForPeer!,
        );
      const t =
        torch && !row.layers
          ? torch.rows.find((x) => x.model === row.model && x.batch === row.batch && x.resolution === p.resolution)
          : undefined;
      if (t) r.torch = { device: torch!.device, imagesPerSec: t.imagesPerSec };
      delete r.embeddingForPeer;
      results.push(r);
      console.log((process.stdout.isTTY ? '\x1b[K' : '') + terminalRow(r));
    } catch (e) {
      if (prepared.length === i) prepared.push(null);
      console.log(`  ${row.model} x${row.batch}: ERROR ${(e as Error).message}`);
      results.push({ label: row.model, error: (e as Error).message } as RowResult);
    }
  }
  // Text tower and zero-shot rows (OpenVision 1 as CLIP), unless --clip no or rows were picked: the
  // text rows on every runtime asked for (alternated, as the model rows), the zero-shot row and the
  // dtype table on this process's implementation only.
  const others = runtimes
    .filter((rt) => rt !== here)
    .map((rt) => ({
      name: rt,
      open: (spec: TextRowSpec) => {
        let server = servers.get(rt);
        if (!server) servers.set(rt, (server = startRowServer(rt)));
        return server.openText({ spec, flags, warmup: +args.warmup });
      },
    }));
  const clipRows =
    args.clip === 'only' || (args.clip === 'yes' && !args.rows)
      ? await runClipRows(timing, +args.warmup, flags, others)
      : [];
  for (const server of servers.values()) await server.exit();
  for (const r of clipRows) console.log(clipTerminalRow(r));
  // The dtype table: every row again in each of --dtypes, alternated (dtypes.ts).
  const dtypeRows: DTypeRow[] = [];
  const first = tableDTypes[0];
  if (tableDTypes.length > 1 || (first && (first.dtype !== mainDType || first.precision !== 'f32'))) {
    console.log(
      `\ndtypes (${tableDTypes.map(formLabel).join(', ')}, timed alternately; ×: over ${formLabel(tableDTypes[0]!)}):`,
    );
    for (const p of prepared) {
      if (!p) continue;
      try {
        dtypeRows.push(await runDTypeRow(p, tableDTypes, timing, +args.warmup, flags));
      } catch (e) {
        dtypeRows.push({ label: p.label, batch: p.batch, reference: '', cells: [], error: (e as Error).message });
      }
      console.log(dtypeTerminalRow(dtypeRows[dtypeRows.length - 1]!));
    }
  }
  const dtypeClip = dtypeRows.length && args.clip !== 'no' && !args.rows ? await runDTypeClip(tableDTypes, flags) : [];
  for (const c of dtypeClip)
    console.log(
      `  CLIP fixture ${c.form}: image cos ${c.imageCosine.toFixed(7)}, text cos ${c.textCosine.toFixed(7)}, probs max diff ${c.probsMaxAbs.toExponential(2)}, ranking ${c.sameRanking ? 'unchanged' : 'CHANGED'}`,
    );
  mkdirSync(args.out, { recursive: true });
  const stem = resultStem(env.date, adapter.vendor);
  const json = join(args.out, `${stem}.json`);
  // Charts beside the report (SVG files, linked from the Markdown; latest-*.md links the same files).
  const charts: string[] = [];
  for (const [suffix, title, svg] of [
    ['throughput', 'images/s per row beside the peers', throughputSvg(results)],
    ['kernels', 'share of GPU time per kernel', kernelShareSvg(results)],
  ] as const) {
    if (!svg) continue;
    writeFileSync(join(args.out, `${stem}-${suffix}.svg`), svg);
    charts.push(`![${title}](${stem}-${suffix}.svg)`);
  }
  const md =
    markdownTable(env, results) +
    (charts.length ? `\n${charts.join('\n\n')}\n` : '') +
    clipMarkdown(clipRows) +
    dtypeMarkdown(dtypeRows, dtypeClip, timing);
  writeFileSync(json, JSON.stringify({ env, rows: results, clipRows, dtypeRows, dtypeClip }, null, 2));
  writeFileSync(join(args.out, `${stem}.md`), md);
  writeFileSync(join(args.out, `latest-${vendorTag(adapter.vendor)}.md`), md);
  // A row is flagged when it is wrong on any implementation (one that cannot run it says why, unflagged).
  const wrongAlt = (r: { alt?: AltResult[] }) => (r.alt ?? []).some((a) => a.ok === false);
  const bad =
    results.filter((r) => !r.ok || wrongAlt(r)).length +
    clipRows.filter((r) => !r.ok || wrongAlt(r)).length +
    dtypeRows.filter((r) => r.error || !r.cells.every((c) => c.ok)).length +
    dtypeClip.filter((c) => !c.ok).length;
  const total = results.length + clipRows.length + dtypeRows.length + dtypeClip.length;
  console.log(`\nwrote ${json} and .md; ${total - bad} rows correct, ${bad} flagged`);
  process.exit(bad ? 1 : 0);
}

main().catch((e) => {
  console.error(`bench: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
