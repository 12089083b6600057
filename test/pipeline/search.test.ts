// Search over a collection run's output folder (src/pipeline/search/): indexes made with the writers
// (openOutput / writePart) from seeded values in float16 and float32, the device's scores against a
// float64 reference computed from the stored values as this test reads them (its own .npy and
// binary16 decoding), the ranking (order, ties, top), a row finding itself, chunks over several GPU
// buffers and query batches, the errors (each naming the folder, file or argument), nothing left on
// the GPU; then real images of test/fixtures through the CLIP fixture, searched with the API and with
// `wgsl-vit search --image` / `--text`.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArgumentError, ImageError, SearchIndexError } from '../../src/errors.js';
import { canRunSubgroupGemm } from '../../src/kernels/gemm.js';
import type { F16Loads } from '../../src/kernels/program/weight-format.js';
import { openIndex, textQuery, imageQuery, type SearchHit } from '../../src/pipeline/search/index.js';
import { parseNpyHeader } from '../../src/pipeline/search/npy.js';
import { TopK } from '../../src/pipeline/search/topk.js';
import { openOutput, type Manifest, type OutputParams } from '../../src/pipeline/writers/output.js';
import { CLIPModel } from '../../src/model/clip.js';
import { encodeImages } from '../../src/model/encode.js';
import { fixture } from '../helpers/fixtures.js';
import { rng, testDevice, trackBuffers } from '../helpers/gpu.js';
import { ensureBuilt, runCliAsync } from '../helpers/cli.js';
import { hashModelFiles } from '../../src/pipeline/run.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'wgsl-vit-search-'));
const U = 2 ** -24; // float32 unit roundoff

/**
 * The allowed |device score − float64 reference| for one (query, row): the GEMM sums `dim` float32
 * products in some order (tiles, subgroups, with or without FMA), which errs by at most
 * γ_dim·Σ_k |q_k w_k| (γ_n = n·u / (1 − n·u), u = 2⁻²⁴); a normalised query is also rounded to float32
 * once on the host (≤ u relative per value: u·Σ|q_k w_k| more). So γ_(dim+1)·Σ|q̂_k w_k|, where w are
 * the stored values (float16 widened exactly) and q̂ the query, normalised in float64 for a
 * normalised index. A wrong row, a missing term or a wrong dtype errs by ~|w|·|q|/√dim, far more.
 */
const scoreBound = (dim: number, magnitude: number) => (((dim + 1) * U) / (1 - (dim + 1) * U)) * magnitude + 1e-30;

interface Made {
  dir: string;
  dim: number;
  /** Per part: the rows' keys. */
  keys: string[][];
}

/** An output folder with `rows[i]` rows in part i (parts numbered from `first`), from seeded normals. */
async function makeIndex(opts: {
  rows: number[];
  dim: number;
  embDtype: 'float16' | 'float32';
  normalize?: boolean;
  seed?: number;
  values?: (part: number) => Float32Array;
  first?: number;
}): Promise<Made> {
  const dir = tmp();
  const params: OutputParams = {
    modelHash: 'sha256:test',
    resolution: 224,
    dtype: 'fp32',
    embDtype: opts.embDtype,
    normalize: opts.normalize ?? true,
  };
  const out = await openOutput(dir, params);
  const r = rng(opts.seed ?? 1);
  const keys: string[][] = [];
  for (const [i, n] of opts.rows.entries()) {
    const part = (opts.first ?? 0) + i;
    const k = Array.from({ length: n }, (_, j) => `p${part}/img${j}`);
    keys.push(k);
    await out.writePart(part, {
      embeddings: opts.values?.(part) ?? r.normals(n * opts.dim),
      dim: opts.dim,
      rows: k.map((key, j) => ({ key, image_path: `${key}.jpg`, caption: j % 3 === 2 ? null : `caption of ${key}` })),
    });
  }
  return { dir, dim: opts.dim, keys };
}

/** IEEE binary16 bits → value, independently of src/half.ts. */
function half(h: number): number {
  const e = (h >> 10) & 31,
    m = h & 1023,
    s = h & 0x8000 ? -1 : 1;
  return e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
}

/** The stored rows of every part, in order, as float64 (the .npy read by hand). */
function storedRows(dir: string, parts: number[]): { values: Float64Array[]; part: number[]; row: number[] } {
  const values: Float64Array[] = [],
    part: number[] = [],
    row: number[] = [];
  for (const n of parts) {
    const b = readFileSync(join(dir, 'img_emb', `img_emb_${n}.npy`));
    const hlen = b.readUInt16LE(8);
    const header = b.subarray(10, 10 + hlen).toString('latin1');
    const [rows, dim] = /'shape': \((\d+), (\d+)\)/.exec(header)!.slice(1).map(Number) as [number, number];
    const f16 = header.includes("'<f2'");
    for (let r = 0; r < rows; r++) {
      const v = new Float64Array(dim);
      for (let k = 0; k < dim; k++) {
        const at = 10 + hlen + (r * dim + k) * (f16 ? 2 : 4);
        v[k] = f16 ? half(b.readUInt16LE(at)) : b.readFloatLE(at);
      }
      values.push(v);
      part.push(n);
      row.push(r);
    }
  }
  return { values, part, row };
}

/** float64 scores of query q (normalised in float64 when `normalize`) against every stored row, with their bounds. */
function reference(q: Float32Array, rows: Float64Array[], normalize: boolean): { score: number; bound: number }[] {
  let norm = 1;
  if (normalize) norm = Math.sqrt(q.reduce((a, v) => a + v * v, 0)) || 1;
  return rows.map((w) => {
    let s = 0,
      mag = 0;
    for (let k = 0; k < w.length; k++) {
      const p = (q[k]! / norm) * w[k]!;
      s += p;
      mag += Math.abs(p);
    }
    return { score: s, bound: scoreBound(w.length, mag) };
  });
}

/**
 * Checks one query's hits against the reference: each score within its bound; best first (ties by
 * the lower row); no row left out that ranks clearly above a returned one.
 */
function checkHits(hits: SearchHit[], ref: { score: number; bound: number }[], stored: ReturnType<typeof storedRows>) {
  const global = (h: SearchHit) => stored.part.findIndex((p, i) => p === h.part && stored.row[i] === h.row);
  const got = new Set<number>();
  let worst = 0;
  for (const [i, h] of hits.entries()) {
    const g = global(h);
    expect(g, `hit ${i} (${h.key}) is a row of the index`).toBeGreaterThanOrEqual(0);
    got.add(g);
    worst = Math.max(worst, Math.abs(h.score - ref[g]!.score) / ref[g]!.bound);
    if (i > 0) {
      const prev = hits[i - 1]!;
      expect(prev.score > h.score || (prev.score === h.score && global(prev) < g), `order at hit ${i}`).toBe(true);
    }
  }
  expect(worst, 'worst |score − reference| / bound').toBeLessThanOrEqual(1);
  const last = hits[hits.length - 1]!;
  const lastRef = ref[global(last)]!;
  ref.forEach((r, j) => {
    if (!got.has(j))
      expect(r.score, `row ${j} left out ranks above the last hit`).toBeLessThanOrEqual(
        lastRef.score + lastRef.bound + r.bound,
      );
  });
}

const normals = (n: number, seed: number) => rng(seed).normals(n);

describe('openIndex / search: device scores against the float64 reference', () => {
  const variants = ['tiled', 'subgroup'] as const;
  it.each([
    ['float16', true, 64],
    ['float16', false, 60], // rows padded to whole 8-value steps on the GPU
    ['float32', true, 64],
    ['float32', false, 61], // K % 4 != 0: the tiled variant
  ] as const)('%s, normalize %s, dim %i: every score within γ_(dim+1)·Σ|q·w|', async (embDtype, normalize, dim) => {
    const device = await testDevice();
    const made = await makeIndex({ rows: [37, 50, 13], dim, embDtype, normalize, seed: dim });
    const stored = storedRows(made.dir, [0, 1, 2]);
    const Q = 3;
    const q = normals(Q * dim, 7);
    for (const variant of variants) {
      if (variant === 'subgroup' && embDtype === 'float32' && dim % 4 !== 0) continue;
      if (variant === 'subgroup' && !canRunSubgroupGemm(device)) continue;
      const loads: (F16Loads | undefined)[] =
        embDtype === 'float16'
          ? ['packed', ...(device.features.has('shader-f16') ? (['native'] as const) : [])]
          : [undefined];
      for (const f16Loads of loads) {
        const index = await openIndex(device, made.dir, { variant, ...(f16Loads ? { f16Loads } : {}) });
        try {
          expect(index.rows).toBe(100);
          expect(index.dim).toBe(dim);
          expect(index.parts).toEqual([0, 1, 2]);
          expect(index.dtype).toBe(embDtype);
          expect(index.normalized).toBe(normalize);
          expect(index.gpu).toMatchObject({
            dtype: embDtype === 'float16' ? 'f16' : 'f32',
            f16Loads: f16Loads ?? null,
            chunks: [100],
            variant,
          });
          // 2 bytes a value for float16 (rows padded to 8 values), 4 for float32
          expect(index.gpu.bytes).toBe(embDtype === 'float16' ? 100 * 2 * Math.ceil(dim / 8) * 8 : 100 * 4 * dim);
          const results = await index.search(q, { top: 100 });
          expect(results.length).toBe(Q);
          for (let i = 0; i < Q; i++) {
            expect(results[i]!.length).toBe(100);
            checkHits(results[i]!, reference(q.subarray(i * dim, (i + 1) * dim), stored.values, normalize), stored);
          }
          // top 10 is the head of the full ranking
          const top = await index.search(q.subarray(0, dim));
          expect(top[0]!.map((h) => h.key)).toEqual(results[0]!.slice(0, 10).map((h) => h.key));
        } finally {
          index.destroy();
        }
      }
    }
  });

  it('hits carry key, caption (null where none), image_path, part and row from the metadata', async () => {
    const device = await testDevice();
    const made = await makeIndex({ rows: [4, 5], dim: 16, embDtype: 'float32' });
    const index = await openIndex(device, made.dir);
    try {
      const [hits] = await index.search(new Float32Array(16).fill(1), { top: 9 });
      expect(hits!.length).toBe(9);
      for (const h of hits!) {
        expect(h.key).toBe(made.keys[h.part]![h.row]);
        expect(h.image_path).toBe(`${h.key}.jpg`);
        expect(h.caption).toBe(h.row % 3 === 2 ? null : `caption of ${h.key}`);
      }
      // top beyond the index: every row once
      const [all] = await index.search(new Float32Array(16).fill(1), { top: 1000 });
      expect(new Set(all!.map((h) => h.key)).size).toBe(9);
    } finally {
      index.destroy();
    }
  });
});

describe('the ranking', () => {
  it('a row of the index, as a query, finds itself first (one row, several rows, an array of rows)', async () => {
    const device = await testDevice();
    const dim = 64;
    const made = await makeIndex({ rows: [120, 80], dim, embDtype: 'float16', seed: 3 });
    const stored = storedRows(made.dir, [0, 1]);
    const index = await openIndex(device, made.dir);
    try {
      const picks = [0, 57, 119, 120, 199];
      const rows = picks.map((g) => Float32Array.from(stored.values[g]!));
      const flat = new Float32Array(picks.length * dim);
      rows.forEach((r, i) => flat.set(r, i * dim));
      for (const [i, g] of picks.entries()) {
        const [one] = await index.search(rows[i]!, { top: 3 });
        expect([one![0]!.part, one![0]!.row]).toEqual([stored.part[g], stored.row[g]]);
        expect(one![0]!.score).toBeCloseTo(1, 2); // a float16 row is normalised to float16 rounding
      }
      for (const results of [await index.search(flat, { top: 1 }), await index.search(rows, { top: 1 })])
        expect(results.map((r) => r[0]!.key)).toEqual(picks.map((g) => made.keys[stored.part[g]!]![stored.row[g]!]));
    } finally {
      index.destroy();
    }
  });

  it('equal scores rank by part, then row; NaN rows rank last', async () => {
    const device = await testDevice();
    const dim = 8;
    const base = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    // part 0: [other, base, base], part 1: [base, NaN row, −base]: the three copies of base score alike.
    const other = Float32Array.from([1, -1, 1, -1, 1, -1, 1, -1]);
    const rows = (part: number) => {
      const list = part === 0 ? [other, base, base] : [base, new Float32Array(dim).fill(NaN), base.map((v) => -v)];
      const out = new Float32Array(list.length * dim);
      list.forEach((r, i) => out.set(r, i * dim));
      return out;
    };
    const made = await makeIndex({ rows: [3, 3], dim, embDtype: 'float32', normalize: false, values: rows });
    const index = await openIndex(device, made.dir);
    try {
      const [hits] = await index.search(base, { top: 6 });
      expect(hits!.map((h) => [h.part, h.row])).toEqual([
        [0, 1],
        [0, 2],
        [1, 0],
        [0, 0],
        [1, 2],
        [1, 1],
      ]);
      // not normalised: plain dot products
      expect(hits![0]!.score).toBe(204);
      expect(hits![3]!.score).toBe(-4);
      expect(hits![4]!.score).toBe(-204);
      expect(hits![5]!.score).toBeNaN();
      // an all-zero query: every score 0, in part and row order (the NaN row last)
      const [zero] = await index.search(new Float32Array(dim), { top: 6 });
      expect(zero!.map((h) => [h.part, h.row])).toEqual([
        [0, 0],
        [0, 1],
        [0, 2],
        [1, 0],
        [1, 2],
        [1, 1],
      ]);
    } finally {
      index.destroy();
    }
  });

  it('TopK keeps the k best whatever the order they arrive in', () => {
    const r = rng(5);
    const scores = Array.from({ length: 500 }, (_, i) => (i % 7 === 0 ? 0.5 : Math.round(r.normal() * 4) / 4));
    const want = scores
      .map((s, row) => ({ s, row }))
      .sort((a, b) => b.s - a.s || a.row - b.row)
      .slice(0, 23);
    for (const order of [scores.map((_, i) => i), scores.map((_, i) => scores.length - 1 - i)]) {
      const t = new TopK(23);
      for (const i of order) t.push(scores[i]!, i);
      expect(t.sorted().map((x) => x.row)).toEqual(want.map((x) => x.row));
    }
  });
});

describe('chunks and batches', () => {
  it('rows split over several GPU buffers (chunks across part boundaries) and query batches rank as one buffer does', async () => {
    const device = await testDevice();
    const dim = 32;
    const made = await makeIndex({ rows: [10, 23, 4, 63], dim, embDtype: 'float16', seed: 11 });
    const stored = storedRows(made.dir, [0, 1, 2, 3]);
    const q = normals(5 * dim, 13);
    const tracker = trackBuffers(device);
    try {
      const whole = await openIndex(device, made.dir);
      const chunked = await openIndex(device, made.dir, { maxChunkRows: 7, scoreBufferBytes: 2 * 7 * 4 });
      expect(whole.gpu.chunks).toEqual([100]);
      expect(chunked.gpu.chunks).toEqual([...new Array<number>(14).fill(7), 2]);
      expect(chunked.gpu.bytes).toBe(whole.gpu.bytes);
      expect(tracker.live()).toBe(1 + 15);
      const a = await whole.search(q, { top: 100 });
      const b = await chunked.search(q, { top: 100 }); // 5 query rows in batches of 2, 15 chunks each
      for (let i = 0; i < 5; i++) {
        const ref = reference(q.subarray(i * dim, (i + 1) * dim), stored.values, true);
        checkHits(a[i]!, ref, stored);
        checkHits(b[i]!, ref, stored);
      }
      // what a search made is gone when it returns
      expect(tracker.live()).toBe(1 + 15);
      whole.destroy();
      chunked.destroy();
      expect(tracker.live()).toBe(0);
    } finally {
      tracker.stop();
    }
  });
});

/** Rewrites one file of a folder and records its new size and sha256 in the manifest (a consistent but foreign file). */
function replaceFile(dir: string, rel: string, bytes: Uint8Array, part = 0): void {
  writeFileSync(join(dir, rel), bytes);
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  m.parts[String(part)]!.files[rel] = { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
}

describe('errors name the folder, the file or the argument', () => {
  const expectIndexError = async (p: Promise<unknown>, path: string, message: RegExp) => {
    const e = await p.then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(SearchIndexError);
    expect((e as SearchIndexError).path).toBe(path);
    expect((e as Error).message).toMatch(message);
  };

  it('no such folder, a file, no manifest, a foreign manifest, no finished part, parts without rows', async () => {
    const device = await testDevice();
    const dir = tmp();
    await expectIndexError(openIndex(device, join(dir, 'nope')), join(dir, 'nope'), /no such folder/);
    writeFileSync(join(dir, 'f'), '');
    await expectIndexError(openIndex(device, join(dir, 'f')), join(dir, 'f'), /is not a folder/);
    await expectIndexError(openIndex(device, dir), dir, /has no manifest\.json/);
    writeFileSync(join(dir, 'manifest.json'), '{"format": "other"}');
    await expectIndexError(openIndex(device, dir), join(dir, 'manifest.json'), /is not a wgsl-vit\/output\/1 manifest/);
    writeFileSync(join(dir, 'manifest.json'), '{');
    await expectIndexError(openIndex(device, dir), join(dir, 'manifest.json'), /is not JSON/);
    const empty = tmp();
    await openOutput(empty, { modelHash: 'h', resolution: 224, dtype: 'fp32' });
    await expectIndexError(openIndex(device, empty), empty, /lists no finished part/);
    const noRows = await makeIndex({ rows: [0, 0], dim: 8, embDtype: 'float16' });
    await expectIndexError(openIndex(device, noRows.dir), noRows.dir, /hold no rows/);
  });

  it('a missing, resized or damaged file; a .npy that is not a 2-D float16/float32 C-order array; metadata that does not line up', async () => {
    const device = await testDevice();
    const made = await makeIndex({ rows: [6, 5], dim: 8, embDtype: 'float16' });
    const npy = join(made.dir, 'img_emb', 'img_emb_0.npy');
    const good = readFileSync(npy);
    const tracker = trackBuffers(device);
    try {
      rmSync(npy);
      await expectIndexError(openIndex(device, made.dir), npy, /missing \(manifest\.json lists it in part 0\)/);
      writeFileSync(npy, good.subarray(0, good.length - 2));
      await expectIndexError(openIndex(device, made.dir), npy, /is \d+ bytes, manifest\.json records \d+/);
      const flipped = Buffer.from(good);
      flipped[flipped.length - 1]! ^= 0x40;
      writeFileSync(npy, flipped);
      await expectIndexError(openIndex(device, made.dir), npy, /sha256 differs/);
      // Files whose manifest entry agrees (size, sha256): the .npy itself is what is wrong.
      const header = good.subarray(0, 128).toString('latin1');
      const withHeader = (h: string, data = good.subarray(128)) => Buffer.concat([Buffer.from(h, 'latin1'), data]);
      const cases: [Uint8Array, RegExp][] = [
        [withHeader('x' + header.slice(1)), /not a NumPy \.npy file/],
        [withHeader(header.replace("'<f2'", "'<f8'")), /holds dtype '<f8', not float16/],
        [withHeader(header.replace("'<f2'", "'>f2'")), /holds dtype '>f2'/],
        [withHeader(header.replace('False', 'True ')), /Fortran/],
        [withHeader(header.replace('(6, 8)', '(48, )')), /has shape \(48, \), not the 2-D/],
        [withHeader(header.replace('(6, 8)', '(7, 8)')), /is truncated: \d+ bytes, its header's shape \(7, 8\)/],
        [withHeader(header.replace('(6, 8)', '(5, 8)')), /bytes after its \(5, 8\)/],
        [
          withHeader(header.replace('(6, 8)', '(3, 8)'), good.subarray(128, 128 + 48)),
          /holds 3 rows, manifest\.json records 6/,
        ],
      ];
      expect(header.endsWith('\n')).toBe(true); // the writer's header is 128 bytes
      for (const [bytes, message] of cases) {
        replaceFile(made.dir, 'img_emb/img_emb_0.npy', bytes);
        await expectIndexError(openIndex(device, made.dir), npy, message);
      }
      // the float32 file of another run under a float16 manifest
      const f32 = await makeIndex({ rows: [6], dim: 8, embDtype: 'float32' });
      replaceFile(made.dir, 'img_emb/img_emb_0.npy', readFileSync(join(f32.dir, 'img_emb', 'img_emb_0.npy')));
      await expectIndexError(
        openIndex(device, made.dir),
        npy,
        /holds float32, manifest\.json's params\.embDtype is float16/,
      );
      replaceFile(made.dir, 'img_emb/img_emb_0.npy', good);
      // metadata of the other part (5 rows) beside a 6-row npy
      const meta = join(made.dir, 'metadata', 'metadata_0.parquet');
      const goodMeta = readFileSync(meta);
      replaceFile(
        made.dir,
        'metadata/metadata_0.parquet',
        readFileSync(join(made.dir, 'metadata', 'metadata_1.parquet')),
      );
      await expectIndexError(openIndex(device, made.dir), meta, /has 5 rows, img_emb\/img_emb_0\.npy has 6/);
      replaceFile(made.dir, 'metadata/metadata_0.parquet', Buffer.from('not parquet at all'));
      await expectIndexError(openIndex(device, made.dir), meta, /is not a Parquet file/);
      // another part of another width
      const wide = await makeIndex({ rows: [5], dim: 16, embDtype: 'float16' });
      replaceFile(made.dir, 'metadata/metadata_0.parquet', goodMeta);
      replaceFile(made.dir, 'img_emb/img_emb_1.npy', readFileSync(join(wide.dir, 'img_emb', 'img_emb_0.npy')), 1);
      await expectIndexError(
        openIndex(device, made.dir),
        join(made.dir, 'img_emb', 'img_emb_1.npy'),
        /rows of 16 values, img_emb\/img_emb_0\.npy rows of 8/,
      );
      expect(tracker.live(), 'a refused index leaves nothing on the GPU').toBe(0);
    } finally {
      tracker.stop();
    }
  });

  it('a query of another width (naming both), bad options, a destroyed index', async () => {
    const device = await testDevice();
    const made = await makeIndex({ rows: [5], dim: 16, embDtype: 'float16' });
    const index = await openIndex(device, made.dir);
    const refused = async (p: Promise<unknown>, cls: new (...a: never[]) => Error, message: RegExp) => {
      const e = await p.then(
        () => null,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(cls);
      expect((e as Error).message).toMatch(message);
    };
    try {
      await refused(
        index.search(new Float32Array(12)),
        ArgumentError,
        /has 12 values, not a whole number of the index's rows of 16/,
      );
      await refused(
        index.search([new Float32Array(16), new Float32Array(15)]),
        ArgumentError,
        /row 1 has 15 values, the index's rows 16/,
      );
      await refused(index.search(new Float32Array(0)), ArgumentError, /'query'/);
      await refused(index.search(new Float32Array(16), { top: 0 }), ArgumentError, /'top': must be a positive integer/);
      await refused(index.search(new Float32Array(16), { tpo: 3 } as never), ArgumentError, /tpo/);
      await refused(openIndex(device, made.dir, { maxChunkRows: 0 }), ArgumentError, /'maxChunkRows'/);
      await refused(openIndex(device, made.dir, { variant: 'texture' as never }), ArgumentError, /'variant'/);
      await refused(openIndex(device, made.dir, { f16Loads: 'fast' as never }), ArgumentError, /'f16Loads'/);
    } finally {
      index.destroy();
    }
    await refused(index.search(new Float32Array(16)), SearchIndexError, /this index was destroyed/);
  });

  it('parses numpy-written headers: version 2.0, no trailing comma, other spacing', () => {
    const dict = "{'descr':'<f4','fortran_order':False,'shape':(3,4)}";
    const pad = ' '.repeat((64 - ((12 + dict.length + 1) % 64)) % 64);
    const h = Buffer.concat([
      Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]),
      Buffer.from(new Uint32Array([dict.length + pad.length + 1]).buffer),
      Buffer.from(dict + pad + '\n', 'latin1'),
    ]);
    const bytes = Buffer.concat([h, Buffer.alloc(48)]);
    expect(parseNpyHeader(bytes, 'x.npy')).toEqual({
      dtype: 'float32',
      rows: 3,
      dim: 4,
      dataOffset: h.length,
      dataBytes: 48,
    });
    expect(() => parseNpyHeader(bytes.subarray(0, bytes.length - 1), 'x.npy')).toThrow(/x\.npy: is truncated/);
  });
});

// Real images through the CLIP fixture (both towers): embedded with encodeImages, written with
// writePart, searched with the API and with the CLI.
const CLIP_CASE = 'ov1-clip-ti16-224-t2';
const PHOTOS = ['astronaut', 'chelsea', 'coffee', 'rocket'];
const JPEGS = ['420-q75-64x48', '420-q90-97x61', 'progressive-444-q90-31x29'];

describe('end to end: fixture images embedded, written, searched', () => {
  let dir = '';
  let clip: CLIPModel;
  beforeAll(async () => {
    ensureBuilt();
    const device = await testDevice();
    clip = await CLIPModel.load(device, {
      weights: fixture(`${CLIP_CASE}.bin`),
      config: fixture(`${CLIP_CASE}.open_clip_config.json`),
    });
    dir = tmp();
    const modelHash = await hashModelFiles(fixture(`${CLIP_CASE}.bin`), fixture(`${CLIP_CASE}.open_clip_config.json`));
    const out = await openOutput(dir, { modelHash, resolution: 224, dtype: 'fp32' });
    const groups = [PHOTOS.map((p) => [p, fixture(`${p}.png`)]), JPEGS.map((j) => [j, fixture(`jpeg/${j}.jpg`)])];
    for (const [n, group] of groups.entries()) {
      const r = await encodeImages(
        clip.vision,
        group.map(([, f]) => f!),
      );
      await out.writePart(n, {
        embeddings: r.embedding!,
        dim: clip.embedDim,
        rows: group.map(([key, f]) => ({ key: key!, image_path: f!, caption: `a photo: ${key}` })),
      });
    }
  }, 300_000);
  afterAll(() => clip?.destroy());

  it('the API: an image of the index finds itself first; a text query runs; a model of another width is refused', async () => {
    const device = await testDevice();
    const index = await openIndex(device, dir);
    try {
      expect(index.rows).toBe(PHOTOS.length + JPEGS.length);
      for (const p of ['chelsea', 'rocket']) {
        const [hits] = await index.search(await imageQuery(index, clip, fixture(`${p}.png`)), { top: 3 });
        expect(hits![0]!.key).toBe(p);
        expect(hits![0]!.score).toBeGreaterThan(0.999); // float16 rows: cosine 1 within their rounding
      }
      const [hits] = await index.search(await textQuery(index, clip, 'a photo of a cat'), { top: 7 });
      expect(hits!.length).toBe(7);
      await expect(imageQuery(index, clip, '/nope.png')).rejects.toThrow(ImageError);
      const other = await makeIndex({ rows: [2], dim: 32, embDtype: 'float16' });
      const small = await openIndex(device, other.dir);
      try {
        await expect(textQuery(small, clip, 'x')).rejects.toThrow(
          /the model's embeddings have 64 values, the rows of the index .* 32: not the model that made it/,
        );
        await expect(imageQuery(small, clip, fixture('chelsea.png'))).rejects.toThrow(/have 64 values/);
      } finally {
        small.destroy();
      }
    } finally {
      index.destroy();
    }
  }, 120_000);

  const model = ['--weights', fixture(`${CLIP_CASE}.bin`), '--config', fixture(`${CLIP_CASE}.open_clip_config.json`)];

  it('wgsl-vit search --image FILE --json: the image first, best first, {key, score, caption}', async () => {
    const r = await runCliAsync([
      'search',
      '--index',
      dir,
      '--image',
      fixture('coffee.png'),
      '--json',
      '--top',
      '4',
      ...model,
    ]);
    expect(r.code, r.err).toBe(0);
    const hits = JSON.parse(r.out) as { key: string; score: number; caption: string }[];
    expect(hits.length).toBe(4);
    expect(hits[0]).toMatchObject({ key: 'coffee', caption: 'a photo: coffee' });
    expect(Object.keys(hits[0]!).sort()).toEqual(['caption', 'key', 'score']);
    for (let i = 1; i < hits.length; i++) expect(hits[i]!.score).toBeLessThanOrEqual(hits[i - 1]!.score);
    expect(r.err).toMatch(/4 of 7 rows \(2 parts, float16 held as f16/);
  }, 120_000);

  it('wgsl-vit search --text T: one line per hit, score<TAB>key<TAB>caption', async () => {
    const r = await runCliAsync(['search', '--index', dir, '--text', 'a photo of a cat', '--top', '3', ...model]);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines.length).toBe(3);
    const keys = [...PHOTOS, ...JPEGS];
    let prev = Infinity;
    for (const line of lines) {
      const [score, key, caption] = line.split('\t');
      expect(Number(score)).toBeLessThanOrEqual(prev);
      prev = Number(score);
      expect(keys).toContain(key);
      expect(caption).toBe(`a photo: ${key}`);
    }
  }, 120_000);

  it('wgsl-vit search: usage errors exit 2, an unusable index exits 1 naming it', async () => {
    const usage = [
      [['search', '--index', dir, ...model], /give one query: --text T or --image FILE/],
      [['search', '--index', dir, '--text', 'a', '--image', 'b.png', ...model], /not both/],
      [['search', '--text', 'a', ...model], /--index is required/],
      [['search', '--index', dir, '--text', 'a', '--top', 'x', ...model], /--top must be a positive integer/],
    ] as const;
    for (const [args, message] of usage) {
      const r = await runCliAsync([...args]);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(message);
    }
    const missing = join(dir, 'nope');
    const r = await runCliAsync(['search', '--index', missing, '--text', 'a', ...model]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${missing}: no such folder`);
    // Another model's files than the one that made the index: refused, naming both hashes.
    const other = [
      '--weights',
      fixture('ov1-ti16-224-d1.safetensors'),
      '--config',
      fixture('ov1-ti16-224-d1.open_clip_config.json'),
    ];
    const wrong = await runCliAsync(['search', '--index', dir, '--image', fixture('chelsea.png'), ...other]);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/are not the model that made .*its manifest's modelHash is sha256:/);
    const help = await runCliAsync(['search', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^usage: wgsl-vit search --index OUT \(--text T \| --image FILE\)/);
  }, 120_000);
});
