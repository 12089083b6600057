// Kernel micro-benchmarks: GPU time per kernel at the shapes a ViT forward pass uses, from
// timestamp queries (fenced wall time where the adapter has none). Every GEMM and attention row is
// checked at sampled places against the tests' float64 references, so a fast but wrong tile cannot win.
//   npm run bench:kernels [-- --tiles all|64x64k32,128x128k8,... --variants all|tiled,broadcast --only gemm,attention --big --dtypes f32,f16,q8 --out bench/results]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { requestDevice } from '../src/device.js';
import { attention, attentionVariantFor, ATTENTION_VARIANTS, type AttentionVariant } from '../src/kernels/attention.js';
import { canRunSubgroupGemm, gemm, gemmVariantFor, type GemmEpilogue } from '../src/kernels/gemm.js';
import { GEMM_TILES, checkTile, gemmTileFor, tileName, type GemmTile } from '../src/kernels/gemm-tile.js';
import { layerNorm, layerNormTexture } from '../src/kernels/layernorm.js';
import { gemmTexture } from '../src/kernels/gemm-texture.js';
import { attentionTexture } from '../src/kernels/attention-texture.js';
import { texturePack } from '../src/kernels/texture-pack.js';
import {
  createMatrixTexture,
  readMatrixTexture,
  uploadMatrixTexture,
  uploadWeightTexture,
} from '../src/kernels/program/texture-matrix.js';
import { dequantize, quantizeQ8, toF16, WEIGHT_DTYPES } from '../src/kernels/program/weight-format.js';
import { meanPool } from '../src/kernels/mean-pool.js';
import { patchEmbed, patchEmbedTexture, patchPack } from '../src/kernels/patch-embed.js';
import { isCpuAdapter } from '../src/kernels/choose/adapter.js';
import type { Dispatch, TensorRef, WeightDType } from '../src/kernels/program/index.js';
import { readTensor, runDispatches, timeDispatch, uploadTensor, uploadWeight } from '../src/kernels/program/harness.js';
import { seededNormal } from '../src/model/random.js';
import { elementCount } from '../src/shape.js';
import { attentionRefRow } from '../reference/attention.js';
import { gemmRefAt } from '../reference/gemm.js';
import { layerNormBound, layerNormRef } from '../reference/layernorm.js';
import { meanPoolRef } from '../reference/mean-pool.js';
import { patchEmbedRef } from '../reference/patch-embed.js';
import { gitCommit, resultStem } from './env.js';

const { values: args } = parseArgs({
  options: {
    iters: { type: 'string', default: '5' },
    only: { type: 'string' },
    flags: { type: 'string' },
    tiles: { type: 'string' },
    variants: { type: 'string' },
    big: { type: 'boolean', default: false },
    dtypes: { type: 'string', default: 'f32' },
    out: { type: 'string' },
  },
});
const {
  device,
  adapterInfo,
  features,
  timestamps: timestampMode,
} = await requestDevice({ dawnFlags: args.flags ? args.flags.split(',') : [], preciseTimestamps: true });
const timestamps = timestampMode !== 'none';
const timingLabel = timestamps ? `timestamp-query (${timestampMode})` : 'wall';
const normal = seededNormal(3);

function data(n: number, scale = 1): Float32Array<ArrayBuffer> {
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = normal() * scale;
  return d;
}
const tensor = (shape: number[], values?: Float32Array<ArrayBuffer>): TensorRef =>
  uploadTensor(device, values ?? data(elementCount(shape)), shape);
const read = (t: TensorRef): Promise<Float32Array> => readTensor(device, t);
const runOnce = (d: Dispatch): Promise<void> => runDispatches(device, d);
const time = async (d: Dispatch, n: number): Promise<number> => (await timeDispatch(device, d, n)).ms;

// Sampled checks: the float64 references of the tests (reference/), at a few hundred places,
// since the full references would take minutes at these sizes. Error measure: |got − want| / (|want| + 1).

/** Worst error over 256 sampled outputs of y = epilogue(x·wᵀ + b) (+ y0). */
function gemmSampleError(
  got: Float32Array,
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  y0: Float32Array,
  M: number,
  K: number,
  N: number,
  epilogue: GemmEpilogue,
): number {
  let worst = 0;
  for (let s = 0; s < 256; s++) {
    const m = (s * 7919) % M,
      n = (s * 104729 + 13) % N;
    const want = gemmRefAt(x, K, w, N, b, epilogue, y0, m, n).y;
    worst = Math.max(worst, Math.abs(got[m * N + n]! - want) / (Math.abs(want) + 1));
  }
  return worst;
}

/** Worst error over 64 sampled (batch, query, head) rows. */
function attentionSampleError(
  got: Float32Array,
  qkv: Float32Array,
  B: number,
  N: number,
  heads: number,
  D: number,
): number {
  const W = heads * D;
  let worst = 0;
  for (let s = 0; s < 64; s++) {
    const b = s % B,
      q = (s * 7919) % N,
      h = (s * 31) % heads;
    const want = attentionRefRow(qkv, N, W, heads, b, h, q).out;
    for (let d = 0; d < D; d++)
      worst = Math.max(worst, Math.abs(got[(b * N + q) * W + h * D + d]! - want[d]!) / (Math.abs(want[d]!) + 1));
  }
  return worst;
}

interface Row {
  kernel: string;
  shape: string;
  tile?: string;
  ms: number;
  rate: number;
  unit: 'GFLOP/s' | 'GB/s';
  check?: string;
}
const rows: Row[] = [];
const iters = +args.iters;
const adapterLine = [adapterInfo.vendor, adapterInfo.architecture, adapterInfo.description].filter(Boolean).join(' ');
console.log(`adapter: ${adapterLine}; ${timingLabel}; median of ${iters}`);
const want = (name: string) => !args.only || args.only.split(',').some((o) => name.startsWith(o));
let wrong = 0;
/**
 * Times a checked dispatch and records its row. The sampled error must be ≤ 1e-4 relative: float32
 * rounding over K ≤ 4096 terms (GEMM) or ≤ 785 keys (attention) stays ~1e-6 off, while a tiling bug
 * (a missed or doubled k-slice or key block, a wrong column, mask or rescale) is off by O(1).
 */
async function record(
  kernel: string,
  shape: string,
  label: string,
  d: Dispatch,
  err: number,
  flops: number,
  unit: Row['unit'] = 'GFLOP/s',
  check?: { ok: boolean; text: string },
): Promise<void> {
  const ok = check ? check.ok : err <= 1e-4;
  if (!ok) wrong++;
  const ms = await time(d, iters);
  const r: Row = {
    kernel,
    shape,
    tile: label,
    ms,
    rate: flops / ms / 1e6,
    unit,
    check: `${ok ? 'ok' : 'WRONG'} (${check ? check.text : err.toExponential(1)})`,
  };
  rows.push(r);
  print(r);
  d.destroy();
}
const print = (r: Row) =>
  console.log(
    `${`${r.kernel} ${r.shape}`.padEnd(44)} ${(r.tile ?? '').padEnd(11)} ${r.ms.toFixed(3).padStart(10)} ms ${r.rate.toFixed(r.unit === 'GB/s' ? 2 : 1).padStart(9)} ${r.unit}${r.check ? `  ${r.check}` : ''}`,
  );

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
  try {
    checkTile(device, 'gemm', t);
    return true;
  } catch (e) {
    console.log(`tile ${tileName(t)} skipped: ${(e as Error).message}`);
    return false;
  }
});

const defaultVariantGemm = gemmVariantFor(device);
// Weight dtypes of the GEMM rows (--dtypes f32,f16,q8; weight-format.ts): f16 and q8 rows are marked
// so in the tile column and checked against the dequantized weight.
const weightDTypes = args.dtypes.split(',').map((d) => {
  if (!(WEIGHT_DTYPES as readonly string[]).includes(d))
    throw new Error(`--dtypes: unknown weight dtype '${d}' (have: ${WEIGHT_DTYPES.join(', ')})`);
  return d as WeightDType;
});
// gemm at ViT shapes: [label, M, K, N, epilogue] (M = tokens × batch). 12608×768→3072 is the
// issue's target shape; the batch-32 rows are the GPU suite's own GEMMs (B/16 and L/14 at 224).
// Rows over 10 GFLOP are skipped on CPU adapters unless --big (they take minutes per tile there).
const gemmShapes: [string, number, number, number, GemmEpilogue][] = [
  ['ti qkv 197×192→576', 197, 192, 576, 'none'],
  ['ti fc 197×192→768 gelu', 197, 192, 768, 'gelu'],
  ['ti proj 197×768→192 res', 197, 768, 192, 'residual'],
  ['b fc 197×768→3072 gelu', 197, 768, 3072, 'gelu'],
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
if (!canRunSubgroupGemm(device) && gemmShapes.some(([name]) => want(`gemm ${name}`)))
  console.log('gemm subgroup, gemm_texture: skipped, this adapter has no 8-lane subgroups');
for (const [name, M, K, N, epilogue] of gemmShapes) {
  if (!want(`gemm ${name}`)) continue;
  if (2 * M * N * K > 10e9 && isCpuAdapter(device) && !args.big) {
    console.log(`gemm ${name}: skipped on a CPU adapter (--big runs it)`);
    continue;
  }
  const bytes = 4 * Math.max(M * N, M * K, N * K);
  if (bytes > device.limits.maxStorageBufferBindingSize) {
    console.log(`gemm ${name}: skipped, ${bytes} bytes > maxStorageBufferBindingSize`);
    continue;
  }
  const xv = data(M * K),
    w32 = data(N * K, 1 / Math.sqrt(K)),
    bv = data(N, 0.5),
    y0 = data(M * N);
  const x = tensor([M, K], xv),
    bias = tensor([N], bv),
    y = tensor([M, N], y0);
  // Each weight dtype (--dtypes): stored as the kernels read it, checked against its dequantized values.
  for (const dtype of weightDTypes) {
    const stored = dtype === 'f16' ? toF16(w32) : dtype === 'q8' ? quantizeQ8(w32, N, K) : w32;
    const wv = dequantize(stored, N, K);
    const w = uploadWeight(device, stored, N, K);
    const sfx = dtype === 'f32' ? '' : ` ${dtype}`;
    // Each variant's dispatch: y reset, run once, checked at sampled places, then timed.
    const checked = async (kernel: string, label: string, d: Dispatch) => {
      device.queue.writeBuffer(y.buffer, 0, y0);
      await runOnce(d);
      const err = gemmSampleError(await read(y), xv, wv, bv, y0, M, K, N, epilogue);
      await record(kernel, name, label + sfx, d, err, 2 * M * N * K);
    };
    const star = (v: string) => (defaultVariantGemm === v ? '*' : '');
    const defaultTile = gemmTileFor(device, { m: M, n: N });
    for (const tile of tiles.map((t) => t ?? defaultTile)) {
      const d = gemm(device, { x, w, bias, y, epilogue, tile });
      await checked('gemm', tileName(tile) + (tile === defaultTile ? star('tiled') : ''), d);
    }
    if (canRunSubgroupGemm(device))
      await checked(
        'gemm',
        'subgroup' + star('subgroup'),
        gemm(device, { x, w, bias, y, epilogue, variant: 'subgroup' }),
      );
    // The 'texture' variant (gemm_texture, its own kernel row name): x and w as matrix textures, as a
    // model runs it (x packed or written by the previous kernel, w uploaded at load).
    if (canRunSubgroupGemm(device) && M <= device.limits.maxTextureDimension2D) {
      const xt = uploadMatrixTexture(device, xv, M, K),
        wt = uploadWeightTexture(device, stored, N, K);
      await checked(
        'gemm_texture',
        'texture' + star('texture'),
        gemmTexture(device, { x: xt, w: wt, bias, y, epilogue }),
      );
      xt.texture.destroy();
      wt.texture.destroy();
      wt.scale?.buffer.destroy();
    }
    w.buffer.destroy();
    w.scale?.buffer.destroy();
  }
  for (const t of [x, bias, y]) t.buffer.destroy();
}
// Attention variants to time: the device's default, a list, or all; each checked on sampled rows.
const defaultVariant = attentionVariantFor(device);
const askedVariants: AttentionVariant[] =
  args.variants === 'all'
    ? (Object.keys(ATTENTION_VARIANTS) as AttentionVariant[])
    : args.variants
      ? (args.variants.split(',') as AttentionVariant[])
      : [defaultVariant];
// The 8-lane variants run only where the adapter has 8-lane subgroups: skipped, and named, elsewhere.
const variants = askedVariants.filter((v) => {
  const runnable = (v !== 'subgroup' && v !== 'texture') || canRunSubgroupGemm(device);
  if (!runnable) console.log(`attention ${v}: skipped, this adapter has no 8-lane subgroups`);
  return runnable;
});
const attentionShapes = [
  ['ti 1×197 3×64', 1, 197, 3, 64],
  ['b8 1×785 12×64', 1, 785, 12, 64],
  ['b8 32×785 12×64', 32, 785, 12, 64],
  ['b 32×197 12×64', 32, 197, 12, 64],
  ['h 1×257 16×80', 1, 257, 16, 80],
  ['so400m 32×257 16×72', 32, 257, 16, 72],
] as const;
for (const [name, B, N, heads, D] of attentionShapes) {
  if (!want(`attention ${name}`)) continue;
  const W = heads * D;
  if (4 * B * N * 3 * W > device.limits.maxStorageBufferBindingSize) {
    console.log(`attention ${name}: skipped, over maxStorageBufferBindingSize`);
    continue;
  }
  const qv = data(B * N * 3 * W);
  const qkv = tensor([B, N, 3 * W], qv),
    out = tensor([B, N, W]);
  for (const variant of variants) {
    if (variant === 'texture') {
      // attention_texture reads qkv as a [B·N, 3W] matrix texture (as a model packs or writes it).
      if (B * N > device.limits.maxTextureDimension2D) {
        console.log(
          `attention_texture ${name}: skipped, ${B * N} rows > maxTextureDimension2D (a model runs it in chunks)`,
        );
        continue;
      }
      const qt = uploadMatrixTexture(device, qv, B * N, 3 * W);
      const d = attentionTexture(device, { qkv: qt, tokens: N, out, heads });
      await runOnce(d);
      const err = attentionSampleError(await read(out), qv, B, N, heads, D);
      await record(
        'attention_texture',
        name,
        'texture' + (variant === defaultVariant ? '*' : ''),
        d,
        err,
        4 * B * heads * N * N * D,
      );
      qt.texture.destroy();
      continue;
    }
    const d = attention(device, { qkv, out, heads, variant });
    await runOnce(d);
    const err = attentionSampleError(await read(out), qv, B, N, heads, D);
    await record(
      'attention',
      name,
      variant + (variant === defaultVariant ? '*' : ''),
      d,
      err,
      4 * B * heads * N * N * D,
    );
  }
  qkv.buffer.destroy();
  out.buffer.destroy();
}
// The smaller kernels, checked in full against their float64 references (worst |err| / bound ≤ 1,
// the tests' criterion); rates in GB/s of the bytes each must move at least.
const fullCheck = (got: Float32Array, want: ArrayLike<number>, bound: ArrayLike<number>) => {
  let worst = 0;
  for (let i = 0; i < want.length; i++)
    worst = Math.max(worst, Number.isNaN(got[i]!) ? Infinity : Math.abs(got[i]! - want[i]!) / bound[i]!);
  return { ok: worst <= 1, text: `${worst.toFixed(2)} of bound` };
};
for (const [name, rowsN, dim] of [
  ['197×192', 197, 192],
  ['1576×768', 1576, 768],
] as const) {
  if (!want(`layernorm ${name}`) && !want(`texture_pack ${name}`)) continue;
  const xv = data(rowsN * dim),
    gv = data(dim, 0.2),
    bv = data(dim, 0.1);
  const y = tensor([rowsN, dim]);
  const d = layerNorm(device, {
    x: tensor([rowsN, dim], xv),
    gamma: tensor([dim], gv),
    beta: tensor([dim], bv),
    y,
    eps: 1e-6,
  });
  await runOnce(d);
  const ref = { y: layerNormRef(xv, rowsN, dim, gv, bv, 1e-6), bound: layerNormBound(xv, rowsN, dim, gv, bv, 1e-6) };
  await record('layernorm', name, '', d, 0, 8 * rowsN * dim, 'GB/s', fullCheck(await read(y), ref.y, ref.bound));
  if (canRunSubgroupGemm(device)) {
    // layernorm_texture: the same rows into a matrix texture (what the 'texture' GEMM reads next).
    const yt = createMatrixTexture(device, rowsN, dim);
    const dt = layerNormTexture(device, {
      x: tensor([rowsN, dim], xv),
      gamma: tensor([dim], gv),
      beta: tensor([dim], bv),
      y: yt,
      eps: 1e-6,
    });
    await runOnce(dt);
    const check = fullCheck(await readMatrixTexture(device, yt), ref.y, ref.bound);
    await record('layernorm_texture', name, '', dt, 0, 8 * rowsN * dim, 'GB/s', check);
    yt.texture.destroy();
  }
  if (want(`texture_pack ${name}`)) {
    // texture_pack: a buffer's rows into a matrix texture (a copy: must be exact).
    const xt = createMatrixTexture(device, rowsN, dim);
    const dp = texturePack(device, { x: tensor([rowsN, dim], xv), out: xt });
    await runOnce(dp);
    const got = await readMatrixTexture(device, xt);
    const same = got.every((v, i) => v === xv[i]);
    await record('texture_pack', name, '', dp, 0, 8 * rowsN * dim, 'GB/s', {
      ok: same,
      text: same ? 'exact' : 'differs',
    });
    xt.texture.destroy();
  }
}
for (const [name, B, S, p, W] of [
  ['b16 1×224', 1, 224, 16, 768],
  ['b8 1×224', 1, 224, 8, 768],
  ['so14 1×224', 1, 224, 14, 1152],
] as const) {
  if (!want(`patch_embed ${name}`)) continue;
  const g = S / p,
    n = 1 + g * g;
  const iv = data(B * 3 * S * S),
    wv = data(W * 3 * p * p, 1 / Math.sqrt(3 * p * p)),
    cv = data(W),
    pv = data(n * W, 0.1);
  const out = tensor([B, n, W]);
  const d = patchEmbed(device, {
    image: tensor([B, 3, S, S], iv),
    weight: tensor([W, 3, p, p], wv),
    cls: tensor([W], cv),
    pos: tensor([n, W], pv),
    out,
  });
  await runOnce(d);
  const ref = patchEmbedRef(iv, B, S, wv, W, p, cv, pv);
  await record(
    'patch_embed',
    name,
    '',
    d,
    0,
    2 * B * g * g * 3 * p * p * W,
    'GFLOP/s',
    fullCheck(await read(out), ref.out, ref.bound),
  );
  if (canRunSubgroupGemm(device)) {
    // patch_pack then patch_embed_texture: what a model on a CPU adapter runs (patches and conv weight
    // as matrix textures); one row each, both checked (the pack through the embedding's result).
    const wt = uploadMatrixTexture(device, wv, W, 3 * p * p);
    const xt = createMatrixTexture(device, B * g * g, 3 * p * p);
    const dp = patchPack(device, { image: tensor([B, 3, S, S], iv), patchSize: p, out: xt });
    const dt = patchEmbedTexture(device, {
      patches: xt,
      weight: wt,
      cls: tensor([W], cv),
      pos: tensor([n, W], pv),
      out,
    });
    await runDispatches(device, dp, dt);
    const check = fullCheck(await read(out), ref.out, ref.bound);
    await record('patch_pack', name, '', dp, 0, 8 * B * 3 * S * S, 'GB/s', check);
    await record('patch_embed_texture', name, '', dt, 0, 2 * B * g * g * 3 * p * p * W, 'GFLOP/s', check);
    wt.texture.destroy();
    xt.texture.destroy();
  }
}
for (const [name, B, rowsN, dim] of [
  ['b16 32×197×768', 32, 197, 768],
  ['b8 1×785×768', 1, 785, 768],
] as const) {
  if (!want(`mean_pool ${name}`)) continue;
  const xv = data(B * rowsN * dim);
  const y = tensor([B, dim]);
  const d = meanPool(device, { x: tensor([B, rowsN, dim], xv), y, skip: 1 });
  await runOnce(d);
  const ref = meanPoolRef(xv, B, rowsN, dim, 1);
  await record('mean_pool', name, '', d, 0, 4 * B * rowsN * dim, 'GB/s', fullCheck(await read(y), ref.y, ref.bound));
}

if (args.out) {
  const commit = gitCommit();
  mkdirSync(args.out, { recursive: true });
  const base = join(args.out, `kernels-${resultStem(new Date().toISOString(), adapterInfo.vendor)}`);
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
process.exit(wrong ? 1 : 0);
