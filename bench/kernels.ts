// Kernel micro-benchmarks: GPU time per kernel at the shapes a ViT forward pass uses, from
// timestamp queries (fenced wall time where the adapter has none). Every GEMM row is checked on
// 256 sampled outputs against a float64 dot product, so a fast but wrong tile cannot win.
//   npm run bench:kernels [-- --tiles all|64x64k32,128x128k8,... --variants all|tiled,broadcast --only gemm,attention --big --out bench/results]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { requestDevice } from '../src/device.js';
import { attention, attentionVariantFor, ATTENTION_VARIANTS, type AttentionVariant } from '../src/kernels/attention.js';
import { gemm, type GemmEpilogue } from '../src/kernels/gemm.js';
import { GEMM_TILES, checkTile, gemmTileFor, tileName, type GemmTile } from '../src/kernels/gemm-tile.js';
import { layerNorm } from '../src/kernels/layernorm.js';
import { isCpuAdapter } from '../src/kernels/adapter-kind.js';
import type { Dispatch, TensorRef } from '../src/kernels/program.js';
import { seededNormal } from '../src/model/random.js';

const { values: args } = parseArgs({
  options: {
    iters: { type: 'string', default: '5' },
    only: { type: 'string' },
    flags: { type: 'string' },
    tiles: { type: 'string' },
    variants: { type: 'string' },
    big: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const { device, adapterInfo, features } = await requestDevice({ dawnFlags: args.flags ? args.flags.split(',') : [] });
const timestamps = device.features.has('timestamp-query');
const normal = seededNormal(3);

function data(n: number, scale = 1): Float32Array<ArrayBuffer> {
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = normal() * scale;
  return d;
}
function tensor(shape: number[], values?: Float32Array<ArrayBuffer>): TensorRef {
  const n = shape.reduce((a, b) => a * b, 1);
  const buffer = device.createBuffer({ size: Math.max(16, n * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
  device.queue.writeBuffer(buffer, 0, values ?? data(n));
  return { buffer, shape, dtype: 'f32' };
}
async function read(t: TensorRef): Promise<Float32Array> {
  const size = t.buffer.size;
  const staging = device.createBuffer({ size, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(t.buffer, 0, staging, 0, size);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  return out;
}
async function runOnce(d: Dispatch): Promise<void> {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  d.encode(pass);
  pass.end();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
}

/** Median GPU ms of one dispatch over `iters` runs (one pass each), after one warm-up. */
async function time(d: Dispatch, iters: number): Promise<number> {
  const times: number[] = [];
  const qs = timestamps ? device.createQuerySet({ type: 'timestamp', count: 2 }) : null;
  const res = timestamps ? device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }) : null;
  for (let i = 0; i < iters + 1; i++) {
    const enc = device.createCommandEncoder();
    const readBuf = timestamps ? device.createBuffer({ size: 16, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ }) : null;
    const t0 = performance.now();
    const pass = enc.beginComputePass(qs ? { timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
    d.encode(pass);
    pass.end();
    if (qs && res && readBuf) { enc.resolveQuerySet(qs, 0, 2, res, 0); enc.copyBufferToBuffer(res, 0, readBuf, 0, 16); }
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    let ms = performance.now() - t0;
    if (readBuf) {
      await readBuf.mapAsync(GPUMapMode.READ);
      const ts = new BigUint64Array(readBuf.getMappedRange());
      ms = Number(ts[1]! - ts[0]!) / 1e6;
      readBuf.unmap();
      readBuf.destroy();
    }
    if (i > 0) times.push(ms);
  }
  qs?.destroy();
  res?.destroy();
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const erf = (x: number) => { // A&S 7.1.26 in float64 is not enough here: use a series/continued fraction via Math
  // erf through the complementary error function's Chebyshev fit (Numerical Recipes erfc, |rel err| < 1.2e-7)
  const z = Math.abs(x), t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - r : r - 1;
};

/** Worst |got − want| / (|want| + 1) over 256 sampled outputs of y = epilogue(x·wᵀ + b) (+ y0). */
function sampleError(got: Float32Array, x: Float32Array, w: Float32Array, b: Float32Array, y0: Float32Array, M: number, K: number, N: number, epilogue: GemmEpilogue): number {
  let worst = 0;
  for (let s = 0; s < 256; s++) {
    const m = (s * 7919) % M, n = (s * 104729 + 13) % N;
    let v = b[n]!;
    for (let k = 0; k < K; k++) v += x[m * K + k]! * w[n * K + k]!;
    if (epilogue === 'gelu') v = 0.5 * v * (1 + erf(v / Math.SQRT2));
    if (epilogue === 'residual') v += y0[m * N + n]!;
    worst = Math.max(worst, Math.abs(got[m * N + n]! - v) / (Math.abs(v) + 1));
  }
  return worst;
}

/** Worst |got − want| / (|want| + 1) over 64 sampled (batch, query, head) rows, want in float64. */
function attentionSampleError(got: Float32Array, qkv: Float32Array, B: number, N: number, heads: number, D: number): number {
  const W = heads * D, scale = 1 / Math.sqrt(D);
  let worst = 0;
  for (let s = 0; s < 64; s++) {
    const b = s % B, q = (s * 7919) % N, h = (s * 31) % heads;
    const qo = (b * N + q) * 3 * W + h * D;
    const scores = new Float64Array(N);
    let mx = -Infinity;
    for (let k = 0; k < N; k++) {
      const ko = (b * N + k) * 3 * W + W + h * D;
      let v = 0;
      for (let d = 0; d < D; d++) v += qkv[qo + d]! * qkv[ko + d]!;
      scores[k] = v * scale;
      mx = Math.max(mx, scores[k]!);
    }
    let sum = 0;
    for (let k = 0; k < N; k++) { scores[k] = Math.exp(scores[k]! - mx); sum += scores[k]!; }
    for (let d = 0; d < D; d++) {
      let v = 0;
      for (let k = 0; k < N; k++) v += scores[k]! * qkv[(b * N + k) * 3 * W + 2 * W + h * D + d]!;
      v /= sum;
      worst = Math.max(worst, Math.abs(got[(b * N + q) * W + h * D + d]! - v) / (Math.abs(v) + 1));
    }
  }
  return worst;
}

interface Row { kernel: string; shape: string; tile?: string; ms: number; rate: number; unit: 'GFLOP/s' | 'GB/s'; check?: string }
const rows: Row[] = [];
const iters = +args.iters!;
const adapterLine = [adapterInfo.vendor, adapterInfo.architecture, adapterInfo.description].filter(Boolean).join(' ');
console.log(`adapter: ${adapterLine}; ${timestamps ? 'timestamp-query' : 'wall time'}; median of ${iters}`);
const want = (name: string) => !args.only || args.only.split(',').some((o) => name.startsWith(o));
const print = (r: Row) => console.log(`${`${r.kernel} ${r.shape}`.padEnd(44)} ${(r.tile ?? '').padEnd(11)} ${r.ms.toFixed(3).padStart(10)} ms ${r.rate.toFixed(r.unit === 'GB/s' ? 2 : 1).padStart(9)} ${r.unit}${r.check ? `  ${r.check}` : ''}`);

// Tiles to time: the device's per-shape default (below), a list of names, or every tile it can run.
let tiles: (GemmTile | null)[] = [null];
if (args.tiles === 'all') tiles = Object.values(GEMM_TILES);
else if (args.tiles) {
  tiles = args.tiles.split(',').map((n) => {
    const t = GEMM_TILES[n];
    if (!t) throw new Error(`--tiles: unknown tile '${n}' (known: ${Object.keys(GEMM_TILES).join(', ')})`);
    return t;
  });
}
tiles = tiles.filter((t) => {
  if (!t) return true;
  try { checkTile(device, 'gemm', t); return true; } catch (e) { console.log(`tile ${tileName(t)} skipped: ${(e as Error).message}`); return false; }
});

// gemm at ViT shapes: [label, M, K, N, epilogue] (M = tokens × batch). 12608×768→3072 is the
// issue's target shape; the batch-32 rows are the GPU suite's own GEMMs (B/16 and L/14 at 224).
// Rows over 10 GFLOP are skipped on CPU adapters unless --big (they take minutes per tile there).
const gemmShapes: [string, number, number, number, GemmEpilogue][] = [
  ['ti qkv 197×192→576', 197, 192, 576, 'none'],
  ['ti fc 197×192→768 gelu', 197, 192, 768, 'gelu'],
  ['ti proj 197×768→192 res', 197, 768, 192, 'residual'],
  ['b fc 1576×768→3072 gelu', 1576, 768, 3072, 'gelu'],
  ['b fc2 1576×3072→768 res', 1576, 3072, 768, 'residual'],
  ['b qkv b32 6304×768→2304', 6304, 768, 2304, 'none'],
  ['b proj b32 6304×768→768 res', 6304, 768, 768, 'residual'],
  ['b fc b32 6304×768→3072 gelu', 6304, 768, 3072, 'gelu'],
  ['b fc2 b32 6304×3072→768 res', 6304, 3072, 768, 'residual'],
  ['l fc b32 8224×1024→4096 gelu', 8224, 1024, 4096, 'gelu'],
  ['l fc2 b32 8224×4096→1024 res', 8224, 4096, 1024, 'residual'],
  ['b fc batch 64 12608×768→3072', 12608, 768, 3072, 'none'],
];
let wrong = 0;
for (const [name, M, K, N, epilogue] of gemmShapes) {
  if (!want(`gemm ${name}`)) continue;
  if (2 * M * N * K > 10e9 && isCpuAdapter(device) && !args.big) { console.log(`gemm ${name}: skipped on a CPU adapter (--big runs it)`); continue; }
  const bytes = 4 * Math.max(M * N, M * K, N * K);
  if (bytes > device.limits.maxStorageBufferBindingSize) { console.log(`gemm ${name}: skipped, ${bytes} bytes > maxStorageBufferBindingSize`); continue; }
  const xv = data(M * K), wv = data(N * K, 1 / Math.sqrt(K)), bv = data(N, 0.5), y0 = data(M * N);
  const x = tensor([M, K], xv), w = tensor([N, K], wv), bias = tensor([N], bv), y = tensor([M, N], y0);
  const defaultTile = gemmTileFor(device, { m: M, n: N });
  for (const tile of tiles.map((t) => t ?? defaultTile)) {
    const d = gemm(device, { x, w, bias, y, epilogue, tile });
    device.queue.writeBuffer(y.buffer, 0, y0);
    await runOnce(d);
    const err = sampleError(await read(y), xv, wv, bv, y0, M, K, N, epilogue);
    // 1e-4 relative: K ≤ 3072 products of unit-variance terms in float32 stay ~1e-6 off; a tiling
    // bug (a missed or doubled k-slice, a wrong column) is off by O(1).
    const ok = err <= 1e-4;
    if (!ok) wrong++;
    const ms = await time(d, iters);
    const r: Row = { kernel: 'gemm', shape: name, tile: tileName(tile) + (tile === defaultTile ? '*' : ''), ms, rate: (2 * M * N * K) / ms / 1e6, unit: 'GFLOP/s', check: ok ? `ok (${err.toExponential(1)})` : `WRONG (${err.toExponential(1)})` };
    rows.push(r);
    print(r);
    d.destroy();
  }
  for (const t of [x, w, bias, y]) t.buffer.destroy();
}
// Attention variants to time: the device's default, a list, or all; each checked on sampled rows.
const defaultVariant = attentionVariantFor(device);
const variants: AttentionVariant[] = args.variants === 'all' ? (Object.keys(ATTENTION_VARIANTS) as AttentionVariant[])
  : args.variants ? (args.variants.split(',') as AttentionVariant[]) : [defaultVariant];
const attentionShapes = [['ti 1×197 3×64', 1, 197, 3, 64], ['b8 1×785 12×64', 1, 785, 12, 64], ['b8 32×785 12×64', 32, 785, 12, 64], ['b 32×197 12×64', 32, 197, 12, 64], ['h 1×257 16×80', 1, 257, 16, 80], ['so400m 32×257 16×72', 32, 257, 16, 72]] as const;
for (const [name, B, N, heads, D] of attentionShapes) {
  if (!want(`attention ${name}`)) continue;
  const W = heads * D;
  if (4 * B * N * 3 * W > device.limits.maxStorageBufferBindingSize) { console.log(`attention ${name}: skipped, over maxStorageBufferBindingSize`); continue; }
  const qv = data(B * N * 3 * W);
  const qkv = tensor([B, N, 3 * W], qv), out = tensor([B, N, W]);
  for (const variant of variants) {
    const d = attention(device, { qkv, out, heads, variant });
    await runOnce(d);
    const err = attentionSampleError(await read(out), qv, B, N, heads, D);
    // 1e-4 relative, as for the GEMM: float32 rounding over ≤ 785 keys stays far below; a wrong
    // key block, mask or rescale is off by O(1).
    const ok = err <= 1e-4;
    if (!ok) wrong++;
    const ms = await time(d, iters);
    const r: Row = { kernel: 'attention', shape: name, tile: variant + (variant === defaultVariant ? '*' : ''), ms, rate: (4 * B * heads * N * N * D) / ms / 1e6, unit: 'GFLOP/s', check: ok ? `ok (${err.toExponential(1)})` : `WRONG (${err.toExponential(1)})` };
    rows.push(r);
    print(r);
    d.destroy();
  }
  qkv.buffer.destroy();
  out.buffer.destroy();
}
for (const [name, rowsN, dim] of [['197×192', 197, 192], ['1576×768', 1576, 768]] as const) {
  if (!want(`layernorm ${name}`)) continue;
  const d = layerNorm(device, { x: tensor([rowsN, dim]), gamma: tensor([dim]), beta: tensor([dim]), y: tensor([rowsN, dim]), eps: 1e-6 });
  const ms = await time(d, iters);
  const r: Row = { kernel: 'layernorm', shape: name, ms, rate: (8 * rowsN * dim) / ms / 1e6, unit: 'GB/s' };
  rows.push(r);
  print(r);
}

if (args.out) {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const vendor = (adapterInfo.vendor || 'unknown').replace(/[^a-z0-9]+/gi, '-');
  let commit = 'unknown';
  try { commit = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim(); } catch { /* not a checkout */ }
  mkdirSync(args.out, { recursive: true });
  const base = join(args.out, `kernels-${stamp}-${vendor}`);
  writeFileSync(`${base}.json`, JSON.stringify({ adapter: adapterInfo, features, timing: timestamps ? 'timestamp-query' : 'wall', iters, commit, rows }, null, 2));
  const md = [
    `Adapter: ${adapterLine} · commit ${commit} · ${new Date().toISOString()}`,
    `Timing: median of ${iters} single-dispatch passes after a warm-up, ${timestamps ? 'GPU timestamps' : 'fenced wall time'}. Tile / variant * = what this adapter picks for that shape (gemmTileFor, attentionVariantFor). Checks: 256 sampled GEMM outputs / 64 sampled attention rows vs float64, |err| / (|want| + 1) ≤ 1e-4.`,
    '',
    '| kernel | shape | tile / variant | ms | rate | check |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.kernel} | ${r.shape} | ${r.tile ?? '—'} | ${r.ms.toFixed(3)} | ${r.rate.toFixed(r.unit === 'GB/s' ? 2 : 1)} ${r.unit} | ${r.check ?? '—'} |`),
    '',
  ].join('\n');
  writeFileSync(`${base}.md`, md);
  console.log(`wrote ${base}.json and .md`);
}
device.destroy();
process.exit(wrong ? 1 : 0);
