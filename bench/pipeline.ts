// The collection pipeline end to end (src/pipeline/run.ts) against the model alone, in one run:
//   npm run bench:pipeline -- [--model ti-16] [--resolution 224] [--batch 8] [--images 96] [--shard-size 48] [--threads N] [--repeat 3]
// A webdataset of real JPEGs at web sizes (test/fixtures/pipeline/photos, 160–640 px, repeated to
// --images samples in shards of --shard-size; img2dataset writes 10000 a shard, and the device idles
// for about one batch at each part's end while the part is written: small shards understate the
// pipeline) is embedded by embedDataset into a temporary folder with 1…N
// decode threads; beside it, in the same run and on the same device, the model alone: forward passes
// in flight over the same images already decoded and normalised (forwardInFlight, the pipeline's own
// GPU stage). Then decode + resize alone: the decode pool with 1…N threads, and Pillow on the same
// files (tools/pillow-decode.py, one thread; Debian's python3-pil under /usr/bin/python3, skipped
// where it is missing). Random weights (seed 1) of a preset config: the numbers are throughput, not
// accuracy. Prints Markdown tables. Each figure is the best of --repeat runs (warm-ups first).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import tarStream from 'tar-stream';
import { requestDevice } from '../src/device.js';
import { presetConfig } from '../src/model/config.js';
import { batchImages, forwardInFlight, type BatchedItem, type FlightBatch } from '../src/model/overlap.js';
import { randomCheckpoint } from '../src/model/random.js';
import { VisionTransformer } from '../src/model/vit.js';
import { createDecodePool } from '../src/pipeline/decode/pool.js';
import { embedDataset } from '../src/pipeline/run.js';
import { decodeResized, type RgbImage } from '../src/preprocess/index.js';
import { ROOT } from './env.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'ti-16' },
    resolution: { type: 'string' },
    batch: { type: 'string', default: '8' },
    images: { type: 'string', default: '96' },
    threads: { type: 'string', default: String(availableParallelism()) },
    repeat: { type: 'string', default: '3' },
    'shard-size': { type: 'string', default: '48' },
  },
});
const config = presetConfig(args.model, args.resolution ? Number(args.resolution) : undefined);
const size = config.imageSize,
  batch = Number(args.batch),
  count = Number(args.images),
  maxThreads = Number(args.threads),
  repeat = Number(args.repeat),
  shardSize = Number(args['shard-size']);

const photosDir = join(ROOT, 'test', 'fixtures', 'pipeline', 'photos');
const photos = readdirSync(photosDir)
  .filter((f) => f.endsWith('.jpg'))
  .sort()
  .map((f) => join(photosDir, f));
const bytes = photos.map((f) => new Uint8Array(readFileSync(f)));
const work = mkdtempSync(join(tmpdir(), 'wgsl-vit-bench-pipeline-'));

async function writeShards(): Promise<string[]> {
  const paths: string[] = [];
  for (let s = 0; s * shardSize < count; s++) {
    const pack = tarStream.pack();
    for (let i = s * shardSize; i < Math.min(count, (s + 1) * shardSize); i++) {
      const key = String(i).padStart(9, '0');
      pack.entry({ name: `${key}.jpg` }, Buffer.from(bytes[i % bytes.length]!));
      pack.entry({ name: `${key}.txt` }, `photo ${i}`);
    }
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
    const p = join(work, `${String(s).padStart(5, '0')}.tar`);
    writeFileSync(p, Buffer.concat(chunks));
    paths.push(p);
  }
  return paths;
}

const best = async (f: () => Promise<number>): Promise<number> => {
  let b = 0;
  for (let i = 0; i < repeat; i++) b = Math.max(b, await f());
  return b;
};
const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));

try {
  const shards = await writeShards();
  const { device, adapterInfo } = await requestDevice();
  const model = await VisionTransformer.load(device, { weights: randomCheckpoint(config, 1), config });
  const threadCounts = Array.from({ length: maxThreads }, (_, i) => i + 1);

  // The model alone: the same images decoded once, batches normalised ahead, forward calls in flight.
  const decoded: RgbImage[] = [];
  for (let i = 0; i < count; i++) decoded.push(await decodeResized(bytes[i % bytes.length]!, size));
  const pre = { size, mean: config.mean, std: config.std };
  const batches: FlightBatch<BatchedItem<number>[]>[] = [];
  for await (const b of batchImages(
    decoded.map((image, i) => ({ image, meta: i })),
    batch,
    pre,
  ))
    batches.push(b);
  const modelOnly = async () => {
    const t0 = performance.now();
    let n = 0;
    for await (const r of forwardInFlight(model, batches, { resolution: size, outputs: ['embedding'] })) n += r.count;
    return n / ((performance.now() - t0) / 1000);
  };
  await modelOnly(); // compile and warm
  const out = join(work, 'out');
  const endToEnd = async (threads: number) => {
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out);
    const s = await embedDataset(model, shards, out, { modelHash: 'bench', batchSize: batch, threads });
    return s.embedded / s.seconds;
  };
  await endToEnd(1); // warm (the pool's WebAssembly compile, the last batch's shape)

  console.log(
    `collection pipeline: ${args.model} at ${size} px (random weights), batch ${batch}, ${count} JPEGs (160–640 px) in ${shards.length} shards; ${adapterInfo.description || adapterInfo.vendor}; ${availableParallelism()} cores; best of ${repeat}\n`,
  );
  console.log(`| decode threads | end to end img/s | model only img/s | end to end / model |`);
  console.log(`|---:|---:|---:|---:|`);
  for (const t of threadCounts) {
    // Alternated in one loop, so that both see the same machine load.
    let e2e = 0,
      mo = 0;
    for (let i = 0; i < repeat; i++) {
      e2e = Math.max(e2e, await endToEnd(t));
      mo = Math.max(mo, await modelOnly());
    }
    console.log(`| ${t} | ${fmt(e2e)} | ${fmt(mo)} | ${(e2e / mo).toFixed(2)} |`);
  }
  model.destroy();
  device.destroy();

  // Decode + resize alone.
  const items = Array.from({ length: count }, (_, i) => ({ bytes: bytes[i % bytes.length]!, label: String(i) }));
  const pooled = async (threads: number) => {
    const pool = createDecodePool({ size, threads });
    try {
      for await (const o of pool.decodeOrdered(items.slice(0, 4 * threads))) if (o.error) throw o.error; // warm
      return await best(async () => {
        const t0 = performance.now();
        for await (const o of pool.decodeOrdered(items)) if (o.error) throw o.error;
        return count / ((performance.now() - t0) / 1000);
      });
    } finally {
      await pool.close();
    }
  };
  const rates: number[] = [];
  for (const t of threadCounts) rates.push(await pooled(t));
  let pillow = 'not measured (no Pillow under /usr/bin/python3)';
  let pillowRate = 0;
  const py = '/usr/bin/python3';
  if (existsSync(py)) {
    try {
      const r = JSON.parse(
        execFileSync(
          py,
          [
            join(ROOT, 'tools', 'pillow-decode.py'),
            '--size',
            String(size),
            '--repeat',
            String(Math.ceil(count / photos.length)),
            ...photos,
          ],
          {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'ignore'],
          },
        ),
      ) as { pillow: string; imagesPerSecond: number };
      pillowRate = r.imagesPerSecond;
      pillow = `${fmt(pillowRate)} img/s (Pillow ${r.pillow})`;
    } catch {
      // no PIL module: said in the line below
    }
  }
  console.log(`\ndecode + resize to ${size}×${size} alone, img/s (the same ${photos.length} JPEGs, repeated)\n`);
  console.log(`| threads | decode pool img/s | × 1 thread |`);
  console.log(`|---:|---:|---:|`);
  rates.forEach((r, i) => console.log(`| ${i + 1} | ${fmt(r)} | ${(r / rates[0]!).toFixed(2)} |`));
  console.log(`\nPillow, one thread: ${pillow}`);
  if (pillowRate) console.log(`one decode thread / Pillow: ${(rates[0]! / pillowRate).toFixed(2)}`);
  console.log(`decode threads per 1000 img/s at one thread's rate: ${Math.ceil(1000 / rates[0]!)}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
