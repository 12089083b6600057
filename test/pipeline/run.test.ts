// The collection pipeline end to end, through the library (src/pipeline/run.ts): webdataset shards
// of real JPEGs → decode pool → batches in flight → clip-retrieval's files, which equal encodeImages
// on the same images; failures recorded in their place; caption embeddings; --strict; a failing
// source; resume; and encodeImages' own pipeline options (a decode pool, calls in flight) changing
// nothing. The CLI (SIGKILL resume, bad inputs) is test/tools/embed-dataset-cli.test.ts.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageError } from '../../src/errors.js';
import { CLIPModel } from '../../src/model/clip.js';
import { encodeImages } from '../../src/model/encode.js';
import { VisionTransformer } from '../../src/model/vit.js';
import { createDecodePool, type DecodePool } from '../../src/pipeline/decode/pool.js';
import { embedDataset, hashModelFiles } from '../../src/pipeline/run.js';
import { OutputError } from '../../src/pipeline/writers/output.js';
import { fixture } from '../helpers/fixtures.js';
import { testDevice } from '../helpers/gpu.js';
import { readNpy } from '../helpers/npy.js';
import { PHOTOS, writeShards, type ShardSample } from '../helpers/webdataset.js';

const root = join(import.meta.dirname, '..', '..');
// The decode pool's worker runs from the build (vitest does not transform a Worker's script).
const builtWorker = join(root, 'dist', 'src', 'pipeline', 'decode', 'worker.js');
const workerUrl = pathToFileURL(builtWorker);

/**
 * float16 storage of a normalised value v: round to nearest, at most half an ulp, 2^-11 · |v| for
 * normal values, plus 2^-25 (half the smallest subnormal step) for tiny ones.
 */
const F16_REL = 2 ** -11,
  F16_ABS = 2 ** -25;

const VIT = 'ov1-ti16-224-d1',
  CLIP = 'ov1-clip-ti16-224-t2';
const files = (name: string) => ({
  weights: fixture(`${name}.${name === CLIP ? 'bin' : 'safetensors'}`),
  config: fixture(`${name}.open_clip_config.json`),
});

const tmps: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'wgsl-vit-run-'));
  tmps.push(d);
  return d;
};

const npyOf = (dir: string, kind: 'img_emb' | 'text_emb', n: number) =>
  readNpy(new Uint8Array(readFileSync(join(dir, kind, `${kind}_${n}.npy`))));
const parquetOf = async (path: string) => {
  const b = readFileSync(path);
  return parquetReadObjects({ file: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) });
};

function normalisedRows(x: Float32Array, rows: number, dim: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[r * dim + i]! ** 2;
    for (let i = 0; i < dim; i++) out.push(x[r * dim + i]! / Math.sqrt(ss));
  }
  return out;
}

describe('embedDataset (library)', () => {
  let device: GPUDevice;
  let vit: VisionTransformer;
  let pool: DecodePool;
  let shardDir: string;
  let shards: { paths: string[]; samples: ShardSample[][] };
  let hash: string;
  const NOT_AN_IMAGE = new TextEncoder().encode('this is not an image');

  beforeAll(async () => {
    if (
      !existsSync(builtWorker) ||
      statSync(builtWorker).mtimeMs < statSync(join(root, 'src/pipeline/decode/worker.ts')).mtimeMs
    )
      await promisify(execFile)('npm', ['run', 'build'], { cwd: root, timeout: 300_000 });
    device = await testDevice();
    vit = await VisionTransformer.load(device, files(VIT));
    pool = createDecodePool({ size: 224, threads: 2, workerUrl });
    shardDir = tmp();
    // Three shards of 4, 5 and 3 photos; shard 1 has a member that is not an image and a sample
    // without caption or JSON.
    shards = await writeShards(shardDir, 3, 4, (s, samples) => {
      if (s === 1) {
        samples.splice(2, 0, { key: '00001bad0', image: NOT_AN_IMAGE, caption: 'broken' });
        delete samples[3]!.caption;
        delete samples[3]!.meta;
      }
      return s === 2 ? samples.slice(0, 3) : samples;
    });
    hash = await hashModelFiles(files(VIT).weights, files(VIT).config);
  }, 320_000);

  afterAll(async () => {
    await pool?.close();
    vit?.destroy();
    for (const d of tmps) rmSync(d, { recursive: true, force: true });
  });

  it('float32 without normalisation equals encodeImages on the same images, bit for bit (same batches)', async () => {
    const out = tmp();
    const progress: number[] = [];
    const s = await embedDataset(vit, shards.paths, out, {
      modelHash: hash,
      batchSize: 3,
      decoder: pool,
      embDtype: 'float32',
      normalize: false,
      onProgress: (p) => progress.push(p.samples),
    });
    expect(s.parts).toEqual({ total: 3, written: 3, skipped: 0, failed: 0 });
    expect([s.samples, s.embedded, s.failed]).toEqual([12, 11, 1]);
    expect(s.failures).toEqual([
      { part: 1, key: '00001bad0', source: shards.paths[1], reason: 'not a PNG or JPEG file' },
    ]);
    expect(progress.at(-1)).toBe(12);
    for (let n = 0; n < 3; n++) {
      const good = shards.samples[n]!.filter((x) => x.image !== NOT_AN_IMAGE);
      // Each part is batched on its own, 3 images a batch, as encodeImages batches its list.
      const ref = await encodeImages(
        vit,
        good.map((x) => x.image),
        { batchSize: 3 },
      );
      const npy = npyOf(out, 'img_emb', n);
      expect(npy.descr).toBe('<f4');
      expect(npy.shape).toEqual([good.length, vit.config.embedDim]);
      expect(Float32Array.from(npy.data)).toEqual(ref.embedding);
      const meta = await parquetOf(join(out, 'metadata', `metadata_${n}.parquet`));
      expect(meta.map((r) => r.key)).toEqual(good.map((x) => x.key));
      expect(meta.map((r) => r.image_path)).toEqual(good.map((x) => x.key)); // a webdataset's __key__
      expect(meta.map((r) => r.caption)).toEqual(good.map((x) => x.caption ?? null));
      expect(meta.map((r) => r.url ?? null)).toEqual(good.map((x) => x.meta?.url ?? null));
    }
    const failed = await parquetOf(join(out, 'failed', 'failed_1.parquet'));
    expect(failed).toEqual([{ key: '00001bad0', reason: 'not a PNG or JPEG file' }]);
    expect(existsSync(join(out, 'failed', 'failed_0.parquet'))).toBe(false);
    expect(existsSync(join(out, 'text_emb'))).toBe(true);
    expect(readdirSync(join(out, 'text_emb'))).toEqual([]); // a vision-only model: no caption embeddings
  });

  it('float16, normalised (the defaults): within float16 rounding of the normalised embeddings', async () => {
    const out = tmp();
    await embedDataset(vit, shards.paths.slice(0, 1), out, { modelHash: hash, batchSize: 4, decoder: pool });
    const ref = await encodeImages(
      vit,
      shards.samples[0]!.map((x) => x.image),
      { batchSize: 4 },
    );
    const npy = npyOf(out, 'img_emb', 0);
    expect(npy.descr).toBe('<f2');
    const want = normalisedRows(ref.embedding!, 4, vit.config.embedDim);
    let worst = 0;
    npy.data.forEach(
      (v, i) => (worst = Math.max(worst, Math.abs(v - want[i]!) / (F16_REL * Math.abs(want[i]!) + F16_ABS))),
    );
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('a rerun resumes: finished parts are skipped and their files are untouched; other parameters are refused', async () => {
    const out = tmp();
    const opts = { modelHash: hash, batchSize: 3, decoder: pool };
    await embedDataset(vit, shards.paths, out, { ...opts, parts: [0, 2] });
    const before = readFileSync(join(out, 'img_emb', 'img_emb_0.npy'));
    const mtime = statSync(join(out, 'img_emb', 'img_emb_0.npy')).mtimeMs;
    const s = await embedDataset(vit, shards.paths, out, opts);
    expect(s.parts).toEqual({ total: 3, written: 1, skipped: 2, failed: 0 });
    expect(statSync(join(out, 'img_emb', 'img_emb_0.npy')).mtimeMs).toBe(mtime);
    expect(readFileSync(join(out, 'img_emb', 'img_emb_0.npy')).equals(before)).toBe(true);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(Object.keys(manifest.parts)).toEqual(['0', '1', '2']);
    const again = await embedDataset(vit, shards.paths, out, opts);
    expect(again.parts.skipped).toBe(3);
    await expect(embedDataset(vit, shards.paths, out, { ...opts, embDtype: 'float32' })).rejects.toThrow(
      /'embDtype' is "float16" there, "float32" now/,
    );
    await expect(embedDataset(vit, shards.paths, out, { ...opts, modelHash: 'sha256:other' })).rejects.toBeInstanceOf(
      OutputError,
    );
  });

  it('strict: an unreadable image fails the run, naming it, and its part is not written', async () => {
    const out = tmp();
    await expect(
      embedDataset(vit, shards.paths, out, { modelHash: hash, batchSize: 3, decoder: pool, strict: true }),
    ).rejects.toThrow(new ImageError(`${shards.paths[1]} (00001bad0)`, 'not a PNG or JPEG file (--strict)'));
    expect(existsSync(join(out, 'parts', 'part_0.json'))).toBe(true);
    expect(existsSync(join(out, 'parts', 'part_1.json'))).toBe(false);
    expect(existsSync(join(out, 'img_emb', 'img_emb_1.npy'))).toBe(false);
  });

  it('a truncated shard and a missing one: those parts are reported and not written, the others are', async () => {
    const dir = tmp();
    const whole = readFileSync(shards.paths[0]!);
    writeFileSync(join(dir, 'cut.tar'), whole.subarray(0, Math.floor(whole.length * 0.6)));
    const out = tmp();
    const s = await embedDataset(vit, [join(dir, 'cut.tar'), shards.paths[2]!], out, {
      modelHash: hash,
      decoder: pool,
    });
    expect(s.parts).toEqual({ total: 2, written: 1, skipped: 0, failed: 1 });
    expect(s.failedParts).toHaveLength(1);
    expect(s.failedParts[0]).toMatchObject({ part: 0, id: join(dir, 'cut.tar') });
    expect(s.failedParts[0]!.reason).toMatch(/cut\.tar.*truncated|cut\.tar.*unexpected end/i);
    expect(readdirSync(join(out, 'img_emb'))).toEqual(['img_emb_1.npy']);
    expect(readdirSync(join(out, 'parts'))).toEqual(['part_1.json']);
  });

  it("normalising in the decode workers (the pool's normalize option) gives the same files byte for byte", async () => {
    const norm = createDecodePool({
      size: 224,
      threads: 2,
      workerUrl,
      normalize: { mean: vit.config.mean, std: vit.config.std },
    });
    try {
      const [a, b] = [tmp(), tmp()];
      await embedDataset(vit, shards.paths, a, { modelHash: hash, batchSize: 3, decoder: pool });
      await embedDataset(vit, shards.paths, b, { modelHash: hash, batchSize: 3, decoder: norm });
      for (const f of [
        'img_emb/img_emb_0.npy',
        'img_emb/img_emb_1.npy',
        'img_emb/img_emb_2.npy',
        'metadata/metadata_1.parquet',
      ])
        expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true);
      const piped = await encodeImages(vit, PHOTOS, { batchSize: 3, decoder: norm });
      const plain = await encodeImages(vit, PHOTOS, { batchSize: 3 });
      expect(piped.embedding).toEqual(plain.embedding);
    } finally {
      await norm.close();
    }
  });

  it('encodeImages: a decode pool and forward calls in flight change nothing, bit for bit', async () => {
    const plain = await encodeImages(vit, PHOTOS, { batchSize: 3, inFlight: 1 });
    const piped = await encodeImages(vit, PHOTOS, { batchSize: 3, decoder: pool, inFlight: 3 });
    expect(piped.embedding).toEqual(plain.embedding);
    expect(piped.indices).toEqual(plain.indices);
    await expect(encodeImages(vit, PHOTOS, { decoder: pool, resolution: 160 })).rejects.toThrow(
      /decoder.*resizes to 224 px, but this call runs at 160 px/,
    );
    const skipped = await encodeImages(vit, [PHOTOS[0]!, '/no/such.jpg', PHOTOS[1]!], {
      decoder: pool,
      onImageError: 'skip',
    });
    expect(skipped.indices).toEqual([0, 2]);
    expect(skipped.failed).toEqual([expect.objectContaining({ index: 1, image: '/no/such.jpg' })]);
  });
});

describe('embedDataset with a CLIP checkpoint: caption embeddings', () => {
  // OpenVision 1's CLIP (CLIPS tokenizer), and OpenAI's layout (BPE tokenizer, causal text tower, QuickGELU).
  it.each([
    [CLIP, files(CLIP)],
    [
      'oai-clip-b16-64-t1',
      {
        weights: fixture('oai-clip-b16-64-t1.safetensors'),
        config: fixture('oai-clip-b16-64-t1.open_clip_config.json'),
      },
    ],
  ])(
    '%s: text_emb rows are the captions through the text tower; a sample without caption gets a zero row',
    async (_, f) => {
      const device = await testDevice();
      const clip = await CLIPModel.load(device, f);
      const pool = createDecodePool({ size: clip.vision.config.imageSize, threads: 1, workerUrl });
      try {
        const dir = tmp();
        const { paths, samples } = await writeShards(dir, 1, 3, (_, s) => {
          delete s[1]!.caption;
          return s;
        });
        const out = tmp();
        await embedDataset(clip, paths, out, {
          modelHash: await hashModelFiles(f.weights, f.config),
          decoder: pool,
          embDtype: 'float32',
          normalize: false,
        });
        const text = npyOf(out, 'text_emb', 0);
        const E = clip.embedDim;
        expect(text.shape).toEqual([3, E]);
        const ref = await clip.encodeTexts([samples[0]![0]!.caption!, samples[0]![2]!.caption!]);
        expect(Float32Array.from(text.data.slice(0, E))).toEqual(ref.subarray(0, E));
        expect(text.data.slice(E, 2 * E).every((v) => v === 0)).toBe(true);
        expect(Float32Array.from(text.data.slice(2 * E))).toEqual(ref.subarray(E));
        const img = npyOf(out, 'img_emb', 0);
        const refImg = await encodeImages(
          clip.vision,
          samples[0]!.map((x) => x.image),
        );
        expect(Float32Array.from(img.data)).toEqual(refImg.embedding);
      } finally {
        await pool.close();
        clip.destroy();
      }
    },
  );
});
