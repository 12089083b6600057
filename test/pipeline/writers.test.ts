// The output side of a collection run (src/pipeline/writers/): clip-retrieval's files, read back by
// an independent parse (.npy header and values here, Parquet with hyparquet), the manifest, atomic
// and idempotent parts, refusals. The numpy reading of the committed fixture run is
// test/fixtures/pipeline/read-embeddings.txt (made by tools/read-embeddings.py; Python is not needed here).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { flattenJson } from '../../src/pipeline/writers/format.js';
import { OutputError, openOutput, type OutputParams, type PartInput } from '../../src/pipeline/writers/output.js';
import { readNpy } from '../helpers/npy.js';

const PARAMS: OutputParams = { modelHash: 'sha256:abc123', resolution: 224, dtype: 'fp32' };
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'pipeline');

const tmp = () => mkdtempSync(join(tmpdir(), 'wgsl-vit-writers-'));

/** Seeded values in [-2, 2) (a small LCG: the test owns its data). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 4 - 2;
  }
  return out;
}

function part(n: number, rows: number, dim = 8, text = false): PartInput {
  return {
    embeddings: values(rows * dim, 100 + n),
    dim,
    ...(text ? { textEmbeddings: values(rows * dim, 200 + n) } : {}),
    rows: Array.from({ length: rows }, (_, i) => ({
      key: `${String(n).padStart(5, '0')}${String(i).padStart(4, '0')}`,
      image_path: `shard${n}/${i}.jpg`,
      caption: i === 1 ? null : `caption ${n}.${i}`,
      meta:
        i === 2
          ? null
          : { width: 100 + i, nsfw: i % 2 === 0, exif: { make: `cam${i}`, f: 2.8 }, tags: ['a', i], key: 'dup' },
    })),
    failed: n === 1 ? [{ key: 'bad', reason: 'not a JPEG or PNG' }] : [],
  };
}

function normalised(x: Float32Array, rows: number, dim: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = Array.from(x.subarray(r * dim, (r + 1) * dim));
    const norm = Math.sqrt(row.reduce((a, v) => a + v * v, 0));
    out.push(...row.map((v) => v / norm));
  }
  return out;
}

const parquetFile = (path: string) => {
  const b = readFileSync(path);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
};

describe('pipeline writers: the output folder', () => {
  it("writes clip-retrieval's layout: float16 normalised npy, metadata aligned row for row, failures, a manifest", async () => {
    const dir = tmp();
    const out = await openOutput(dir, PARAMS);
    const p0 = part(0, 5, 8, true);
    const p1 = part(1, 3);
    await out.writePart(0, p0);
    await out.writePart(1, p1);
    expect(readdirSync(join(dir, 'img_emb')).sort()).toEqual(['img_emb_0.npy', 'img_emb_1.npy']);
    expect(readdirSync(join(dir, 'text_emb'))).toEqual(['text_emb_0.npy']);
    expect(readdirSync(join(dir, 'metadata')).sort()).toEqual(['metadata_0.parquet', 'metadata_1.parquet']);
    expect(readdirSync(join(dir, 'failed'))).toEqual(['failed_1.parquet']);

    for (const [file, x, rows] of [
      ['img_emb/img_emb_0.npy', p0.embeddings, 5],
      ['text_emb/text_emb_0.npy', p0.textEmbeddings!, 5],
      ['img_emb/img_emb_1.npy', p1.embeddings, 3],
    ] as const) {
      const npy = readNpy(readFileSync(join(dir, file)));
      expect(npy.descr).toBe('<f2');
      expect(npy.shape).toEqual([rows, 8]);
      const ref = normalised(x, rows, 8);
      // float16 rounding of the normalised value (half an ulp: 2⁻¹¹ relative), through float32
      ref.forEach((r, i) =>
        expect(Math.abs(npy.data[i]! - r)).toBeLessThanOrEqual(Math.abs(r) * 2 ** -11 * (1 + 2 ** -12) + 2 ** -25),
      );
    }

    const meta = await parquetReadObjects({ file: parquetFile(join(dir, 'metadata/metadata_0.parquet')) });
    expect(meta.map((r) => r.key)).toEqual(p0.rows.map((r) => r.key));
    expect(meta.map((r) => r.image_path)).toEqual(p0.rows.map((r) => r.image_path));
    expect(meta.map((r) => r.caption)).toEqual(['caption 0.0', null, 'caption 0.2', 'caption 0.3', 'caption 0.4']);
    const schema = parquetSchema(parquetMetadata(parquetFile(join(dir, 'metadata/metadata_0.parquet'))));
    expect(schema.children.map((c) => c.element.name)).toEqual([
      'key',
      'image_path',
      'caption',
      'exif.f',
      'exif.make',
      'json.key',
      'nsfw',
      'tags',
      'width',
    ]);
    expect(meta[0]).toMatchObject({
      width: 100,
      nsfw: true,
      'exif.make': 'cam0',
      'exif.f': 2.8,
      tags: '["a",0]',
      'json.key': 'dup',
    });
    expect(meta[2]).toMatchObject({ width: null, nsfw: null, 'exif.make': null, tags: null });
    expect(meta[3]).toMatchObject({ width: 103, nsfw: false });

    const failed = await parquetReadObjects({ file: parquetFile(join(dir, 'failed/failed_1.parquet')) });
    expect(failed).toEqual([{ key: 'bad', reason: 'not a JPEG or PNG' }]);

    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.params).toEqual({ ...PARAMS, embDtype: 'float16', normalize: true });
    expect(Object.keys(manifest.parts)).toEqual(['0', '1']);
    expect(manifest.parts['1']).toMatchObject({ rows: 3, failed: 1 });
    expect(Object.keys(manifest.parts['1'].files)).toEqual([
      'failed/failed_1.parquet',
      'metadata/metadata_1.parquet',
      'img_emb/img_emb_1.npy',
    ]);
    expect(await out.isPartDone(0)).toBe(true);
    expect(await out.isPartDone(2)).toBe(false);
    expect(await out.doneParts()).toEqual([0, 1]);
    // no temporaries left behind
    for (const f of ['', 'img_emb', 'text_emb', 'metadata', 'failed'])
      expect(readdirSync(join(dir, f)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('float32 without normalisation stores the values as given; an empty part is a valid [0, dim] file', async () => {
    const dir = tmp();
    const out = await openOutput(dir, { ...PARAMS, embDtype: 'float32', normalize: false });
    const p = part(0, 4);
    await out.writePart(0, p);
    const npy = readNpy(readFileSync(join(dir, 'img_emb/img_emb_0.npy')));
    expect(npy.descr).toBe('<f4');
    expect(npy.shape).toEqual([4, 8]);
    expect(npy.data).toEqual(Array.from(p.embeddings));
    await out.writePart(3, {
      embeddings: new Float32Array(0),
      dim: 8,
      rows: [],
      failed: [{ key: 'x', reason: 'truncated' }],
    });
    expect(readNpy(readFileSync(join(dir, 'img_emb/img_emb_3.npy'))).shape).toEqual([0, 8]);
    expect(await parquetReadObjects({ file: parquetFile(join(dir, 'metadata/metadata_3.parquet')) })).toEqual([]);
  });

  it('a part written twice (or by another process) is the same bytes', async () => {
    const [a, b] = [tmp(), tmp()];
    const oa = await openOutput(a, PARAMS);
    await oa.writePart(1, part(1, 6, 16, true));
    const first = new Map(
      [
        'img_emb/img_emb_1.npy',
        'text_emb/text_emb_1.npy',
        'metadata/metadata_1.parquet',
        'failed/failed_1.parquet',
      ].map((f) => [f, readFileSync(join(a, f))]),
    );
    await oa.writePart(1, part(1, 6, 16, true));
    const ob = await openOutput(b, PARAMS);
    await ob.writePart(1, part(1, 6, 16, true));
    for (const [f, bytes] of first) {
      expect(readFileSync(join(a, f)).equals(bytes)).toBe(true);
      expect(readFileSync(join(b, f)).equals(bytes)).toBe(true);
    }
    expect(readFileSync(join(a, 'manifest.json'), 'utf8')).toBe(readFileSync(join(b, 'manifest.json'), 'utf8'));
  });

  it('resumes with the same parameters, refuses other ones naming the parameter, replaces the run with overwrite', async () => {
    const dir = tmp();
    await (await openOutput(dir, PARAMS)).writePart(0, part(0, 2));
    const again = await openOutput(dir, { ...PARAMS, embDtype: 'float16', normalize: true });
    expect(await again.doneParts()).toEqual([0]);

    for (const [k, v] of [
      ['embDtype', 'float32'],
      ['normalize', false],
      ['resolution', 336],
      ['modelHash', 'sha256:other'],
      ['dtype', 'fp16'],
    ] as const) {
      const e = await openOutput(dir, { ...PARAMS, [k]: v }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(OutputError);
      expect((e as OutputError).parameter).toBe(k);
      expect((e as Error).message).toContain(`'${k}'`);
      expect((e as Error).message).toContain(dir);
    }
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const fresh = await openOutput(dir, { ...PARAMS, embDtype: 'float32' }, { overwrite: true });
    expect(await fresh.doneParts()).toEqual([]);
    expect(existsSync(join(dir, 'img_emb/img_emb_0.npy'))).toBe(false);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine'); // only the run's files go
    expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).params.embDtype).toBe('float32');
  });

  it('refuses part files without a manifest, bad parameters, and a folder that cannot be written', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'img_emb'));
    writeFileSync(join(dir, 'img_emb', 'img_emb_0.npy'), 'x');
    await expect(openOutput(dir, PARAMS)).rejects.toThrow(/img_emb\/img_emb_0\.npy.*no manifest|no manifest.*img_emb/);
    await expect(openOutput(tmp(), { ...PARAMS, embDtype: 'bfloat16' as 'float16' })).rejects.toThrow(
      /params\.embDtype/,
    );
    await expect(openOutput(tmp(), { ...PARAMS, normalise: true } as OutputParams)).rejects.toThrow(
      /params\.normalise.*normalize/,
    );
    await expect(openOutput(tmp(), PARAMS, { overwrit: true } as object)).rejects.toThrow(/overwrit/);

    const file = join(tmp(), 'a-file');
    writeFileSync(file, '');
    const under = join(file, 'out');
    const e = await openOutput(under, PARAMS).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OutputError);
    expect((e as Error).message).toContain(under);
    expect((e as Error).message).toMatch(/cannot be written/);

    const out = await openOutput(tmp(), PARAMS);
    await expect(out.writePart(0, { ...part(0, 3), dim: 7 })).rejects.toThrow(/3 rows × 7/);
    await expect(out.writePart(-1, part(0, 1))).rejects.toThrow(/part index/);
  });

  it('a killed write leaves nothing that looks finished, and the part is redone', async () => {
    const dir = tmp();
    const out = await openOutput(dir, PARAMS);
    await out.writePart(0, part(0, 3));
    const good = readFileSync(join(dir, 'img_emb/img_emb_0.npy'));
    // Killed while writing part 2's temporaries: hidden names no glob of part files matches.
    writeFileSync(join(dir, 'img_emb', '.img_emb_2.npy.tmp-4242-deadbeef'), good.subarray(0, 50));
    writeFileSync(join(dir, 'metadata', '.metadata_2.parquet.tmp-4242-deadbeef'), 'PAR1');
    // Killed after the renames of part 1 but before its manifest entry.
    writeFileSync(join(dir, 'img_emb', 'img_emb_1.npy'), good);
    const resumed = await openOutput(dir, PARAMS);
    expect(
      readdirSync(join(dir, 'img_emb'))
        .filter((n) => /^img_emb_\d+\.npy$/.test(n))
        .sort(),
    ).toEqual(['img_emb_0.npy', 'img_emb_1.npy']);
    expect(await resumed.isPartDone(2)).toBe(false);
    expect(await resumed.isPartDone(1)).toBe(false);
    expect(await resumed.doneParts()).toEqual([0]);
    writeFileSync(join(dir, 'img_emb/img_emb_0.npy'), good.subarray(0, good.length - 1));
    expect(await resumed.isPartDone(0)).toBe(false); // damaged: its recorded size no longer matches
    await resumed.writePart(0, part(0, 3));
    await resumed.writePart(1, part(1, 2));
    await resumed.writePart(2, part(2, 4));
    expect(readFileSync(join(dir, 'img_emb/img_emb_0.npy')).equals(good)).toBe(true);
    expect(await resumed.doneParts()).toEqual([0, 1, 2]);
    // overwrite clears the leftovers too
    await openOutput(dir, PARAMS, { overwrite: true });
    expect(readdirSync(join(dir, 'img_emb'))).toEqual([]);
    expect(readdirSync(join(dir, 'metadata'))).toEqual([]);
  });

  it('flattens nested JSON with dots, keeps arrays as JSON text, renames fields that shadow fixed columns', () => {
    expect([...flattenJson({ a: { b: { c: 1 } }, d: [1, { e: 2 }], f: {}, caption: 'x', g: null })]).toEqual([
      ['a.b.c', 1],
      ['d', [1, { e: 2 }]],
      ['f', {}],
      ['json.caption', 'x'],
      ['g', null],
    ]);
  });
});

describe('pipeline writers: the committed fixture run', () => {
  // Two parts (one float16 with text embeddings, one with a failure) in test/fixtures/pipeline/out/;
  // UPDATE_PIPELINE_FIXTURE=1 rewrites it, then tools/read-embeddings.py makes read-embeddings.txt.
  const fixtureRun = async (dir: string) => {
    const out = await openOutput(dir, PARAMS, { overwrite: true });
    await out.writePart(0, part(0, 5, 8, true));
    await out.writePart(1, part(1, 3));
  };

  it('is reproduced byte for byte, and agrees with what numpy read from it', async () => {
    const committed = join(FIXTURE, 'out');
    if (process.env.UPDATE_PIPELINE_FIXTURE) {
      rmSync(committed, { recursive: true, force: true });
      await fixtureRun(committed);
    }
    const dir = tmp();
    await fixtureRun(dir);
    const files = ['manifest.json', 'img_emb/img_emb_0.npy', 'text_emb/text_emb_0.npy', 'img_emb/img_emb_1.npy'];
    for (const f of files) expect(readFileSync(join(dir, f)).equals(readFileSync(join(committed, f))), f).toBe(true);

    // numpy's view (tools/read-embeddings.py): lines "<file> <dtype> <shape> <sum as float64> <first row's norm>"
    const lines = readFileSync(join(FIXTURE, 'read-embeddings.txt'), 'utf8').trim().split('\n');
    const npys = lines.filter((l) => /^(img|text)_emb\//.test(l));
    expect(npys.length).toBe(3);
    for (const line of npys) {
      const [file, dtype, shape, sum, norm0] = line.split(' ');
      const npy = readNpy(readFileSync(join(dir, file!)));
      expect(dtype).toBe('float16');
      expect(shape).toBe(`(${npy.shape.join(',')})`);
      expect(Math.abs(npy.data.reduce((a, v) => a + v, 0) - Number(sum))).toBeLessThan(1e-9);
      const dim = npy.shape[1]!;
      expect(Math.abs(Math.hypot(...npy.data.slice(0, dim)) - Number(norm0))).toBeLessThan(1e-9);
      expect(Math.abs(Number(norm0) - 1)).toBeLessThan(2 ** -10);
    }
  });
});
