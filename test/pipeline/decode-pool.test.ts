// The decode pool (src/pipeline/decode/pool.ts) against decodeResized on the main thread: equal pixels
// bit for bit (the PNG photos and the JPEG set, two sizes, 1 and 2 threads), input order, per-image
// errors that leave the pool working, crashed workers replaced, and close() ending the threads.
//
// The pool runs here from its TypeScript source, but its worker threads run the built worker
// (dist/src/pipeline/decode/worker.js, through `workerUrl`): vitest transforms the modules a test
// imports, not the script of a `new Worker(...)`, and Node 20 cannot run the .ts worker itself. So
// the build is made first when the built worker is missing or older than the sources it is built from
// (asynchronously: a test never blocks its worker's event loop for long).
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ArgumentError, ImageError } from '../../src/errors.js';
import { createDecodePool, type DecodeOutcome } from '../../src/pipeline/decode/pool.js';
import { decodeResized, normalizeBatch, type RgbImage } from '../../src/preprocess/index.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const builtWorker = join(root, 'dist', 'src', 'pipeline', 'decode', 'worker.js');
const builtPool = join(root, 'dist', 'src', 'pipeline', 'decode', 'pool.js');
const workerUrl = pathToFileURL(builtWorker);
const crashUrl = new URL('./crash-worker.mjs', import.meta.url);

/** The newest modification time among the sources the built worker and pool come from. */
function newestSource(): number {
  const dirs = ['src/pipeline/decode', 'src/preprocess'].map((d) => join(root, d));
  const files = dirs.flatMap((d) => readdirSync(d).map((f) => join(d, f)));
  files.push(join(root, 'src', 'errors.ts'), join(root, 'src', 'options.ts'));
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

const fixtures = join(root, 'test', 'fixtures');
const files = [
  ...['chelsea.png', 'coffee.png', 'rocket.png', 'astronaut.png'].map((f) => join(fixtures, f)),
  ...readdirSync(join(fixtures, 'jpeg'))
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .map((f) => join(fixtures, 'jpeg', f)),
];
const bytesOf = new Map(files.map((f) => [f, new Uint8Array(readFileSync(f))]));
const SIZES = [224, 61]; // the model's usual side, and an odd one below some inputs and above others
const small = join(fixtures, 'jpeg', '420-q90-17x23.jpg');
const big = join(fixtures, 'jpeg', '420-q75-1600x1200.jpg');

const same = (a: RgbImage, b: RgbImage) =>
  a.width === b.width && a.height === b.height && Buffer.from(a.data).equals(Buffer.from(b.data));

describe('decode pool', () => {
  const reference = new Map<string, RgbImage>(); // `${size} ${file}` → decodeResized on the main thread

  beforeAll(async () => {
    if (!existsSync(builtWorker) || !existsSync(builtPool) || statSync(builtWorker).mtimeMs < newestSource())
      await run('npm', ['run', 'build'], { cwd: root, timeout: 300_000 });
    for (const size of SIZES)
      for (const f of files) reference.set(`${size} ${f}`, await decodeResized(bytesOf.get(f)!, size));
  }, 320_000);

  for (const threads of [1, 2])
    for (const size of SIZES)
      it(`${threads} thread(s), ${size}×${size}: pixels equal decodeResized's bit for bit, in input order`, async () => {
        const pool = createDecodePool({ size, threads, workerUrl });
        try {
          expect(pool.threads).toBe(threads);
          // All submitted at once (the large JPEG first, so later ones finish before it on 2 threads),
          // then awaited in the order they were made.
          const order = [big, ...files.filter((f) => f !== big)];
          const pending = order.map((f) => pool.decode(bytesOf.get(f)!, f));
          for (const [i, p] of pending.entries()) {
            const got = await p;
            expect(same(got, reference.get(`${size} ${order[i]}`)!), order[i]).toBe(true);
            expect(got.data.buffer.byteLength).toBe(size * size * 3); // its own buffer, transferred
          }
          expect(pool.stats).toMatchObject({ decoded: order.length, failed: 0, running: 0, queued: 0 });
        } finally {
          await pool.close();
        }
      }, 30_000);

  it('decodeOrdered yields input order with at most maxInFlight in flight; a bad image is an outcome', async () => {
    const pool = createDecodePool({ size: 61, threads: 2, maxInFlight: 3, workerUrl });
    try {
      const items = [big, small, ...files, small].map((f) => ({ bytes: bytesOf.get(f)!, label: f }));
      items.splice(3, 0, { bytes: new Uint8Array([0xff, 0xd8, 0xff, 0, 1, 2]), label: 'broken.jpg' });
      let maxSeen = 0;
      async function* source() {
        for (const it of items) {
          const s = pool.stats;
          maxSeen = Math.max(maxSeen, s.running + s.queued);
          await Promise.resolve(); // an asynchronous source, as files or a tar stream are
          yield it;
        }
      }
      const out: DecodeOutcome[] = [];
      for await (const o of pool.decodeOrdered(source())) out.push(o);
      expect(out.map((o) => o.index)).toEqual(items.map((_, i) => i));
      expect(out.map((o) => o.label)).toEqual(items.map((it) => it.label));
      expect(maxSeen).toBeLessThanOrEqual(3);
      for (const o of out)
        if (o.label === 'broken.jpg') expect(o.error).toBeInstanceOf(ImageError);
        else expect(same(o.image!, reference.get(`61 ${o.label}`)!), o.label).toBe(true);
    } finally {
      await pool.close();
    }
  }, 30_000);

  it('ready() waits while maxInFlight jobs are unsettled', async () => {
    const pool = createDecodePool({ size: 61, threads: 1, maxInFlight: 2, workerUrl });
    try {
      const a = pool.decode(bytesOf.get(big)!, big);
      const b = pool.decode(bytesOf.get(small)!, small);
      let isReady = false;
      const r = pool.ready().then(() => (isReady = true));
      await new Promise((res) => setTimeout(res, 5));
      expect(isReady).toBe(false);
      await a;
      await r;
      expect(isReady).toBe(true);
      await b;
    } finally {
      await pool.close();
    }
  }, 30_000);

  it('a corrupt image rejects with an ImageError naming its label, and the pool keeps working', async () => {
    const pool = createDecodePool({ size: 224, threads: 1, workerUrl });
    try {
      const jpeg = bytesOf.get(big)!;
      const png = bytesOf.get(files[0]!)!;
      const bad: [string, Uint8Array][] = [
        ['noise.bin', new Uint8Array(64).fill(7)],
        ['truncated.jpg', jpeg.slice(0, jpeg.length >> 1)],
        ['corrupt.png', Uint8Array.from(png.subarray(0, 200), (v, i) => (i > 40 ? v ^ 0x5a : v))],
      ];
      for (const [label, bytes] of bad) {
        const e = await pool.decode(bytes, label).then(
          () => null,
          (err: unknown) => err,
        );
        expect(e, label).toBeInstanceOf(ImageError);
        expect((e as ImageError).image).toBe(label);
        expect((e as ImageError).message.startsWith(`${label}: `)).toBe(true);
        expect(same(await pool.decode(jpeg, 'good'), reference.get(`224 ${big}`)!)).toBe(true);
      }
      expect(pool.stats).toMatchObject({ decoded: 3, failed: 3, workersReplaced: 0, workers: 1 });
      // a view into a larger buffer sends only its own bytes
      const padded = new Uint8Array(png.length + 10);
      padded.set(png, 5);
      expect(
        same(await pool.decode(padded.subarray(5, 5 + png.length), 'view'), reference.get(`224 ${files[0]}`)!),
      ).toBe(true);
    } finally {
      await pool.close();
    }
  }, 30_000);

  it('a worker that crashes fails its job with a clear ImageError and is replaced', async () => {
    const pool = createDecodePool({ size: 61, threads: 1, workerUrl: crashUrl });
    try {
      const bytes = bytesOf.get(small)!;
      await expect(pool.decode(bytes, 'EXIT')).rejects.toThrow(/^EXIT: the decode worker crashed .*exit code 7/);
      expect(same(await pool.decode(bytes, 'after exit'), reference.get(`61 ${small}`)!)).toBe(true);
      await expect(pool.decode(bytes, 'THROW')).rejects.toThrow(/^THROW: the decode worker crashed .*boom/);
      const after = [pool.decode(bytes, 'a'), pool.decode(bytes, 'b')];
      for (const p of after) expect(same(await p, reference.get(`61 ${small}`)!)).toBe(true);
      expect(pool.stats).toMatchObject({ workersReplaced: 2, workers: 1, decoded: 3, failed: 2 });
    } finally {
      await pool.close();
    }
  }, 30_000);

  it('a worker script that cannot start fails every call with the reason (no restart loop)', async () => {
    const pool = createDecodePool({
      size: 61,
      threads: 2,
      workerUrl: new URL('./no-such-worker.mjs', import.meta.url),
    });
    await expect(pool.decode(bytesOf.get(small)!, 'x')).rejects.toThrow(/could not start.*no-such-worker/s);
    await expect(pool.decode(bytesOf.get(small)!, 'y')).rejects.toThrow(/could not start/);
    await pool.close();
    expect(pool.stats.workers).toBe(0);
  }, 30_000);

  it('close() ends the workers: pending jobs reject, later calls reject', async () => {
    const pool = createDecodePool({ size: 61, threads: 2, workerUrl });
    expect(pool.stats.workers).toBe(2);
    const pending = [big, big, big].map((f, i) =>
      pool.decode(bytesOf.get(f)!, `job ${i}`).then(
        () => null,
        (e: unknown) => e,
      ),
    );
    await pool.close();
    expect(pool.stats.workers).toBe(0);
    for (const [i, p] of pending.entries())
      expect(String(await p)).toMatch(new RegExp(`^ImageError: job ${i}: .*closed`));
    await expect(pool.decode(bytesOf.get(small)!, 'late')).rejects.toThrow(/late: the decode pool is closed/);
    await pool.close(); // idempotent
  }, 30_000);

  for (const closeIt of [true, false])
    it(`a process using the built pool exits by itself ${closeIt ? 'after close()' : 'without close() (idle workers are unref’d)'}`, async () => {
      const script = [
        `import { createDecodePool } from ${JSON.stringify(pathToFileURL(builtPool).href)};`,
        `import { readFileSync } from 'node:fs';`,
        `const pool = createDecodePool({ size: 32, threads: 2 });`, // the default worker.js beside it
        `const img = await pool.decode(readFileSync(${JSON.stringify(small)}), 'x');`,
        closeIt ? `await pool.close();` : '',
        `console.log(img.width, img.height);`,
      ].join('\n');
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
      expect(stdout.trim()).toBe('32 32');
    }, 30_000);

  it('options: the default thread count, and bad options refused', async () => {
    const pool = createDecodePool({ size: 8, workerUrl });
    expect(pool.threads).toBe(Math.max(1, availableParallelism() - 1));
    expect(pool.maxInFlight).toBe(4 * pool.threads);
    await pool.close();
    expect(() => createDecodePool({ size: 0 })).toThrow(ArgumentError);
    expect(() => createDecodePool({ size: 8, threads: 1.5 })).toThrow(/threads/);
    expect(() => createDecodePool({ size: 8, thread: 2 } as never)).toThrow(/thread/);
  });

  it('decodePixels: normalised in the worker, equal bit for bit to normalizeBatch of the decoded image', async () => {
    const normalize = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;
    const pool = createDecodePool({ size: 61, threads: 1, workerUrl, normalize });
    const plain = createDecodePool({ size: 61, threads: 1, workerUrl });
    try {
      for (const f of files.slice(0, 6)) {
        const px = await pool.decodePixels(bytesOf.get(f)!, f);
        expect(px).toEqual(normalizeBatch([reference.get(`61 ${f}`)!], { size: 61, ...normalize }));
      }
      await expect(pool.decodePixels(new Uint8Array([1, 2, 3]), 'junk')).rejects.toThrow(ImageError);
      await expect(plain.decodePixels(bytesOf.get(files[0]!)!, 'x')).rejects.toThrow(/normalize/);
      expect(() =>
        createDecodePool({ size: 61, workerUrl, normalize: { mean: [0, 0], std: [1, 1, 1] } as never }),
      ).toThrow(ArgumentError);
    } finally {
      await pool.close();
      await plain.close();
    }
  });
});
