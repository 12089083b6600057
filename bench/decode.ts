// Decode + resize throughput of the decode pool (src/pipeline/decode/pool.ts) for 1…N worker
// threads, beside decodeResized run serially on the main thread (what encodeImages does today):
//   node dist/bench/decode.js [--size 224] [--repeat 20] [--threads N]
// Workloads from test/fixtures: the JPEG set's 1600×1200 file, its nine small files (17×23 … 97×61:
// per-image overhead), and the four PNG photos (300–640 px, pngjs). Each workload is repeated
// --repeat times, decoded through decodeOrdered (input order, bounded in flight) after one warm-up
// pass per pool (module load, the WebAssembly compile). Prints a Markdown table.
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDecodePool, type DecodeItem } from '../src/pipeline/decode/pool.js';
import { decodeResized } from '../src/preprocess/index.js';

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '224' },
    repeat: { type: 'string', default: '20' },
    threads: { type: 'string', default: String(availableParallelism()) },
  },
});
const size = Number(args.size),
  repeat = Number(args.repeat),
  maxThreads = Number(args.threads);

const fixtures = join(import.meta.dirname, '..', '..', 'test', 'fixtures');
const jpegs = readdirSync(join(fixtures, 'jpeg')).filter((f) => f.endsWith('.jpg'));
const load = (files: string[]): DecodeItem[] =>
  files.map((f) => ({ bytes: new Uint8Array(readFileSync(f)), label: f }));
const workloads: [string, DecodeItem[]][] = [
  ['JPEG 1600×1200', load(jpegs.filter((f) => f.includes('1600x1200')).map((f) => join(fixtures, 'jpeg', f)))],
  ['JPEG small ×9', load(jpegs.filter((f) => !f.includes('1600x1200')).map((f) => join(fixtures, 'jpeg', f)))],
  ['PNG photos ×4', load(['chelsea.png', 'coffee.png', 'rocket.png', 'astronaut.png'].map((f) => join(fixtures, f)))],
];

const repeated = (items: DecodeItem[]) => Array.from({ length: repeat }, () => items).flat();

async function mainThread(items: DecodeItem[]): Promise<number> {
  for (const it of items) await decodeResized(it.bytes, size); // warm-up
  const all = repeated(items);
  const t0 = performance.now();
  for (const it of all) await decodeResized(it.bytes, size);
  return all.length / ((performance.now() - t0) / 1000);
}

async function pooled(items: DecodeItem[], threads: number): Promise<number> {
  const pool = createDecodePool({ size, threads });
  try {
    const drain = async (list: DecodeItem[]) => {
      for await (const o of pool.decodeOrdered(list)) if (o.error) throw o.error;
    };
    await drain(Array.from({ length: threads }, () => items).flat()); // every worker warmed up
    const all = repeated(items);
    const t0 = performance.now();
    await drain(all);
    return all.length / ((performance.now() - t0) / 1000);
  } finally {
    await pool.close();
  }
}

const threadCounts = Array.from({ length: maxThreads }, (_, i) => i + 1);
const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
console.log(
  `decode + resize to ${size}×${size}, img/s (${repeat} repeats; ${availableParallelism()} cores available; Node ${process.version})\n`,
);
console.log(
  `| workload | main thread | ${threadCounts.map((t) => `${t} thread${t > 1 ? 's' : ''}`).join(' | ')} | ×${maxThreads}/×1 | threads for 1000 img/s |`,
);
console.log(`|---|---:|${threadCounts.map(() => '---:|').join('')}---:|---:|`);
for (const [name, items] of workloads) {
  const main = await mainThread(items);
  const rates: number[] = [];
  for (const t of threadCounts) rates.push(await pooled(items, t));
  const one = rates[0]!;
  console.log(
    `| ${name} | ${fmt(main)} | ${rates.map(fmt).join(' | ')} | ${(rates.at(-1)! / one).toFixed(2)} | ${Math.ceil(1000 / one)} |`,
  );
}
