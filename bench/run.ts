// The benchmark suite: ViT forward passes over model × patch size × resolution × batch on the
// default WebGPU adapter. Each row reports throughput, GPU time per kernel (timestamp queries
// where the adapter has them), first-run latency, memory, and its error against a reference:
// the PyTorch outputs for fixture rows, the float64 CPU reference (reference/vit.ts) for the
// others. Writes bench/results/<stamp>.json and .md, and bench/results/latest-<vendor>.md.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { requestDevice, type DeviceInfo, splitDawnFlags } from '../src/device.js';
import { flopsPerImage, presetConfig, presetFamily, readOpenClipConfig, type ViTConfig } from '../src/model/config.js';
import { randomCheckpoint, randomTensors, seededNormal } from '../src/model/random.js';
import { compare, readExpected, type Comparison } from '../src/model/verify.js';
import { VisionTransformer } from '../src/model/vit.js';
import { forwardInFlight } from '../src/model/overlap.js';
import { tileName } from '../src/kernels/gemm-tile.js';
import { exportOnnx } from '../src/onnx/export.js';
import { openCheckpoint, type Checkpoint } from '../src/weights/index.js';
import { runOrtWebGpu } from './peers/ort-web.js';
import { loadOrtNode, NATIVE_MISSING, runOrtNodeCpu } from './peers/ort-node.js';
import { clipMarkdown, clipTerminalRow, runClipRows } from './clip.js';
import { vitRef } from '../reference/vit.js';
import { SUITES, type BenchRow } from './suites.js';
import {
  dtypeMarkdown,
  dtypeTerminalRow,
  runDTypeClip,
  runDTypeRow,
  type DTypeRow,
  type DTypeSubject,
} from './dtypes.js';
import { MODEL_DTYPES, type ModelDType } from '../src/model/dtype.js';
import { ROOT, gitCommit, resultStem, vendorTag } from './env.js';
import { kernelShareSvg, throughputSvg } from './charts.js';
import { markdownTable, terminalRow, terminalHeader, type RowResult } from './report.js';

const FIXTURES = join(ROOT, 'test', 'fixtures');
/** Rows whose full-depth CPU reference costs more than this per image are checked on block 0 only. */
const FULL_REFERENCE_FLOPS = 8e9;

const { values: args } = parseArgs({
  options: {
    suite: { type: 'string', default: 'default' },
    rows: { type: 'string' },
    iters: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
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
    `npm run bench -- [--suite default|full] [--rows "b-16@224x32,l-14@224x1/L2,..."] [--iters N] [--warmup N] [--flags dawn,toggles] [--peer ort-webgpu|none] [--native auto|no (onnxruntime-node CPU EP when installed: npm run setup:native)] [--torch pytorch.json (bench/peers/pytorch_vit.py)] [--clip yes|no (text tower and zero-shot rows)] [--dtype fp32|fp16|q8 (the main table's weights)] [--dtypes fp32,fp16,q8|none (the dtype table: each row in each dtype, timed alternately, weight bytes and accuracy)]`,
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
const tableDTypes = parseDTypes('dtypes', args.dtypes);

function parseRows(spec: string): BenchRow[] {
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

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Prepared {
  label: string;
  config: ViTConfig;
  resolution: number;
  batch: number;
  pixels: Float32Array;
  load: (device: GPUDevice, dtype?: ModelDType) => Promise<VisionTransformer>;
  /** The reference the dtype table compares with (dtypes.ts). */
  reference: DTypeSubject['reference'];
  checkpoint: () => Promise<Checkpoint>;
  /** The reference embedding of the whole batch, when there is one (fixtures), else of image 0 (CPU, full depth) or null. */
  check: (out: Awaited<ReturnType<VisionTransformer['forward']>>) => { comparisons: Comparison[]; reference: string };
}

async function prepare(row: BenchRow): Promise<Prepared> {
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
      load: (device, dtype = mainDType) =>
        VisionTransformer.load(device, { weights: join(FIXTURES, exp.meta.weights!), config, dtype }),
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
    load: (device, dtype = mainDType) =>
      VisionTransformer.load(device, { weights: randomCheckpoint(config, 1), config, dtype }),
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
function describeKernels(k: VisionTransformer['kernels']): string {
  const parts = [
    k.gemmVariant ? `gemm ${k.gemmVariant}` : k.gemmTile ? 'gemm tiled' : 'gemm default',
    ...(k.gemmTile ? [`tile ${tileName(k.gemmTile)}`] : []),
    `attention ${k.attentionVariant ?? 'default'}`,
  ];
  return parts.join(', ');
}

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

async function runRow(p: Prepared, iters: number, warmup: number, flags: string[]): Promise<RowResult> {
  const info: DeviceInfo = await requestDevice({ dawnFlags: flags, preciseTimestamps: true });
  const { device } = info;
  const model = await p.load(device);
  const outputs = ['embedding'] as const;
  try {
    // First run: pipeline creation + buffer planning + the first forward, on a fresh device.
    let t = performance.now();
    await model.forward(p.pixels, p.batch, { resolution: p.resolution, outputs });
    const firstMs = performance.now() - t;
    for (let i = 0; i < warmup; i++) await model.forward(p.pixels, p.batch, { resolution: p.resolution, outputs });
    const times: number[] = [];
    for (let i = 0; i < iters; i++) {
      t = performance.now();
      await model.forward(p.pixels, p.batch, { resolution: p.resolution, outputs }); // resolves after the readback: fenced
      times.push(performance.now() - t);
    }
    // The same batches with forward calls kept in flight (src/model/overlap.ts: batch n+1's upload and
    // batch n−1's read-back around batch n), as encodeImages and the collection pipeline run them.
    t = performance.now();
    const same = Array.from({ length: iters }, () => ({ pixels: p.pixels, count: p.batch, tag: null }));
    for await (const r of forwardInFlight(model, same, { resolution: p.resolution, outputs })) void r;
    const inFlightMs = (performance.now() - t) / iters;
    // Per-kernel GPU time: one profiled run (one pass per kernel, timestamp queries).
    const prof = await model.forward(p.pixels, p.batch, { resolution: p.resolution, outputs, profile: true });
    const perKernel: Record<string, number> = {};
    for (const tm of prof.timings ?? []) perKernel[tm.kernel] = (perKernel[tm.kernel] ?? 0) + tm.ms;
    const gpuMs = prof.timings ? Object.values(perKernel).reduce((a, b) => a + b, 0) : null;
    // Correctness on this row's own shapes: a run that also returns tokens and block 0.
    const checked = await model.forward(p.pixels, p.batch, {
      resolution: p.resolution,
      outputs: ['tokens', 'pooled', 'embedding', 'block0'],
    });
    const { comparisons, reference } = p.check(checked);
    const oursEmbedding = checked.embedding!;
    const cg = await model.compiled(Math.min(p.batch, model.maxChunk(p.resolution)), p.resolution, outputs);
    const weightBytes = model.weightBytes();
    const ms = median(times);
    const flops = flopsPerImage(p.config, p.resolution) * p.batch;
    return {
      label: p.label,
      patch: p.config.patchSize,
      resolution: p.resolution,
      batch: p.batch,
      layers: p.config.layers,
      width: p.config.width,
      msPerBatch: ms,
      msMin: Math.min(...times),
      msMax: Math.max(...times),
      iters,
      imagesPerSec: (p.batch * 1000) / ms,
      msPerImage: ms / p.batch,
      gflops: flops / ms / 1e6,
      gpuMs,
      msPerBatchInFlight: inFlightMs,
      hostOverhead: gpuMs === null ? null : Math.max(0, 1 - gpuMs / ms),
      hostOverheadInFlight: gpuMs === null ? null : Math.max(0, 1 - gpuMs / inFlightMs),
      gpuTiming: gpuMs === null ? 'fenced wall time only (no timestamp-query)' : 'timestamp-query, one pass per kernel',
      perKernelMs: perKernel,
      firstRunMs: firstMs,
      plannedActivationBytes: cg.plan.plannedBytes,
      unplannedActivationBytes: cg.plan.unplannedBytes,
      weightBytes,
      gpuBytes:
        weightBytes +
        cg.plan.plannedBytes +
        4 * 3 * p.resolution * p.resolution * Math.min(p.batch, model.maxChunk(p.resolution)),
      reference,
      comparisons,
      ok: comparisons.every((c) => c.pass),
      peer: null,
      kernels: `${describeKernels(model.kernels)}, weights ${model.dtype} (${model.kernelsFrom})`,
      embeddingForPeer: oursEmbedding,
    };
  } finally {
    model.destroy();
    device.destroy();
  }
}

async function main() {
  const rows = args.rows ? parseRows(args.rows) : SUITES[args.suite];
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
  for (const [i, row] of rows.entries()) {
    const what = `[${i + 1}/${rows.length}] ${row.model}${row.resolution ? `@${row.resolution}` : ''} x${row.batch}${row.layers ? ` (${row.layers} blocks)` : ''}`;
    if (process.stdout.isTTY) process.stdout.write(`  ${what} …\r`);
    else console.log(`  running ${what}`);
    try {
      const p = await prepare(row);
      prepared.push(p);
      const r = await runRow(p, +args.iters, +args.warmup, flags);
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
  // Text tower and zero-shot rows (OpenVision 1 as CLIP), unless --clip no or rows were picked.
  const clipRows = args.clip !== 'no' && !args.rows ? await runClipRows(+args.iters, +args.warmup, flags) : [];
  for (const r of clipRows) console.log(clipTerminalRow(r));
  // The dtype table: every row again in each of --dtypes, alternated (dtypes.ts).
  const dtypeRows: DTypeRow[] = [];
  if (tableDTypes.length > 1 || (tableDTypes.length === 1 && tableDTypes[0] !== mainDType)) {
    console.log(`\ndtypes (${tableDTypes.join(', ')}, timed alternately; ×: over ${tableDTypes[0]}):`);
    for (const p of prepared) {
      if (!p) continue;
      try {
        dtypeRows.push(await runDTypeRow(p, tableDTypes, +args.iters, +args.warmup, flags));
      } catch (e) {
        dtypeRows.push({ label: p.label, batch: p.batch, reference: '', cells: [], error: (e as Error).message });
      }
      console.log(dtypeTerminalRow(dtypeRows[dtypeRows.length - 1]!));
    }
  }
  const dtypeClip = dtypeRows.length && args.clip !== 'no' && !args.rows ? await runDTypeClip(tableDTypes, flags) : [];
  for (const c of dtypeClip)
    console.log(
      `  CLIP fixture ${c.dtype}: image cos ${c.imageCosine.toFixed(7)}, text cos ${c.textCosine.toFixed(7)}, probs max diff ${c.probsMaxAbs.toExponential(2)}, ranking ${c.sameRanking ? 'unchanged' : 'CHANGED'}`,
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
    dtypeMarkdown(dtypeRows, dtypeClip, +args.iters);
  writeFileSync(json, JSON.stringify({ env, rows: results, clipRows, dtypeRows, dtypeClip }, null, 2));
  writeFileSync(join(args.out, `${stem}.md`), md);
  writeFileSync(join(args.out, `latest-${vendorTag(adapter.vendor)}.md`), md);
  const bad =
    results.filter((r) => !r.ok).length +
    clipRows.filter((r) => !r.ok).length +
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
