// Kernel micro-benchmarks: GPU time per kernel at the shapes a ViT forward pass uses, from
// timestamp queries (fenced wall time where the adapter has none). `npm run bench:kernels`.
import { parseArgs } from 'node:util';
import { requestDevice } from '../src/device.js';
import { attention } from '../src/kernels/attention.js';
import { gemm, type GemmEpilogue } from '../src/kernels/gemm.js';
import { layerNorm } from '../src/kernels/layernorm.js';
import type { Dispatch, TensorRef } from '../src/kernels/program.js';
import { seededNormal } from '../src/model/random.js';

const { values: args } = parseArgs({ options: { iters: { type: 'string', default: '5' }, only: { type: 'string' }, flags: { type: 'string' } } });
const { device, adapterInfo } = await requestDevice({ dawnFlags: args.flags ? args.flags.split(',') : [] });
const timestamps = device.features.has('timestamp-query');
const normal = seededNormal(3);

function tensor(shape: number[]): TensorRef {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = normal();
  const buffer = device.createBuffer({ size: Math.max(16, n * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(buffer, 0, data);
  return { buffer, shape, dtype: 'f32' };
}

/** Median GPU ms of one dispatch over `iters` runs (one pass each). */
async function time(d: Dispatch, iters: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < iters + 1; i++) {
    const enc = device.createCommandEncoder();
    let qs: GPUQuerySet | null = null, res: GPUBuffer | null = null, read: GPUBuffer | null = null;
    if (timestamps) {
      qs = device.createQuerySet({ type: 'timestamp', count: 2 });
      res = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      read = device.createBuffer({ size: 16, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    }
    const t0 = performance.now();
    const pass = enc.beginComputePass(qs ? { timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
    d.encode(pass);
    pass.end();
    if (qs && res && read) { enc.resolveQuerySet(qs, 0, 2, res, 0); enc.copyBufferToBuffer(res, 0, read, 0, 16); }
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    let ms = performance.now() - t0;
    if (read) {
      await read.mapAsync(GPUMapMode.READ);
      const ts = new BigUint64Array(read.getMappedRange());
      ms = Number(ts[1]! - ts[0]!) / 1e6;
      read.unmap();
    }
    if (i > 0) times.push(ms); // the first run is a warm-up
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const iters = +args.iters!;
console.log(`adapter: ${[adapterInfo.vendor, adapterInfo.architecture, adapterInfo.description].filter(Boolean).join(' ')}; ${timestamps ? 'timestamp-query' : 'wall time'}; median of ${iters}`);
const rows: [string, number, number][] = [];
const want = (name: string) => !args.only || args.only.split(',').some((o) => name.startsWith(o));

// gemm at ViT shapes: [M, K, N, epilogue] (M = tokens × batch).
const gemmShapes: [string, number, number, number, GemmEpilogue][] = [
  ['gemm ti qkv 197×192→576', 197, 192, 576, 'none'],
  ['gemm ti fc 197×192→768 gelu', 197, 192, 768, 'gelu'],
  ['gemm ti proj 197×768→192 res', 197, 768, 192, 'residual'],
  ['gemm b mlp 1576×768→3072 gelu', 1576, 768, 3072, 'gelu'],
  ['gemm b-mlp batch 64 12608×768→3072', 12608, 768, 3072, 'none'],
];
for (const [name, M, K, N, epilogue] of gemmShapes) {
  if (!want(name)) continue;
  const bytes = 4 * Math.max(M * N, M * K, N * K);
  if (bytes > device.limits.maxStorageBufferBindingSize) { console.log(`${name.padEnd(40)} skipped: ${bytes} bytes > maxStorageBufferBindingSize`); continue; }
  const d = gemm(device, { x: tensor([M, K]), w: tensor([N, K]), bias: tensor([N]), y: tensor([M, N]), epilogue });
  const ms = await time(d, iters);
  rows.push([name, ms, (2 * M * N * K) / ms / 1e6]);
  console.log(`${name.padEnd(40)} ${ms.toFixed(3).padStart(10)} ms ${rows.at(-1)![2].toFixed(1).padStart(9)} GFLOP/s`);
}
for (const [name, B, N, heads, D] of [['attention ti 1×197 3×64', 1, 197, 3, 64], ['attention b8 1×785 12×64', 1, 785, 12, 64], ['attention h 1×257 16×80', 1, 257, 16, 80]] as const) {
  if (!want(name)) continue;
  const W = heads * D;
  const d = attention(device, { qkv: tensor([B, N, 3 * W]), out: tensor([B, N, W]), heads });
  const ms = await time(d, iters);
  const flops = 4 * B * heads * N * N * D;
  console.log(`${name.padEnd(40)} ${ms.toFixed(3).padStart(10)} ms ${(flops / ms / 1e6).toFixed(1).padStart(9)} GFLOP/s`);
}
for (const [name, rowsN, dim] of [['layernorm 197×192', 197, 192], ['layernorm 1576×768', 1576, 768]] as const) {
  if (!want(name)) continue;
  const d = layerNorm(device, { x: tensor([rowsN, dim]), gamma: tensor([dim]), beta: tensor([dim]), y: tensor([rowsN, dim]), eps: 1e-6 });
  const ms = await time(d, iters);
  console.log(`${name.padEnd(40)} ${ms.toFixed(3).padStart(10)} ms ${((8 * rowsN * dim) / ms / 1e6).toFixed(2).padStart(9)} GB/s`);
}
device.destroy();
process.exit(0);
