// The pipeline's sources (src/pipeline/sources/index.ts): folders, list files and webdataset tar
// shards (local, brace patterns, gzip, HTTP from a server on 127.0.0.1), their order, keys, captions
// and metadata, and each bad input: a clear error naming the source, or a failure record in its place.
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceError } from '../../src/errors.js';
import { expandBraces, openSources, type Part, type SourceItem } from '../../src/pipeline/sources/index.js';
import { fixture } from '../helpers/fixtures.js';
import { makeTar } from '../helpers/webdataset.js';

const jpg = (n: string) => new Uint8Array(readFileSync(fixture(`jpeg/${n}.jpg`)));
const A = jpg('420-q90-17x23'),
  B = jpg('444-q95-45x33'),
  C = jpg('gray-q90-53x41'),
  D = jpg('progressive-444-q90-31x29');
const PNG = new Uint8Array(readFileSync(fixture('chelsea.png')));

async function all(part: Part): Promise<SourceItem[]> {
  const out: SourceItem[] = [];
  for await (const s of part.samples()) out.push(s);
  return out;
}

/** The items of a part until it throws: `[items, error]`. */
async function until(part: Part): Promise<[SourceItem[], unknown]> {
  const out: SourceItem[] = [];
  try {
    for await (const s of part.samples()) out.push(s);
  } catch (e) {
    return [out, e];
  }
  return [out, undefined];
}

const view = (items: SourceItem[]) =>
  items.map((s) =>
    s.error !== undefined
      ? { key: s.key, error: s.error }
      : { key: s.key, ext: s.ext, caption: s.caption, meta: s.meta },
  );

let dir = '';
let shard0: Uint8Array;
let server: Server;
let base = '';
let hold: { release: () => void } | undefined;
const routes = new Map<string, Uint8Array>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-sources-'));
  shard0 = await makeTar([
    ['000000000.jpg', A],
    ['000000000.txt', 'a cat'],
    ['000000000.json', JSON.stringify({ url: 'http://x/a.jpg', width: 17 })],
    ['000000001.jpg', B],
    ['000000001.json', '{"width": 45}'], // no caption: fine
    ['sub/000000002.png', PNG],
    ['sub/000000002.txt', 'a photo'],
  ]);
  writeFileSync(join(dir, '00000.tar'), shard0);
  writeFileSync(join(dir, '00001.tar'), await makeTar([['000000003.jpeg', C]]));
  writeFileSync(join(dir, '00002.tar.gz'), gzipSync(await makeTar([['dir.v2/x.jpg', D]])));

  server = createServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/stall.tar') {
      res.writeHead(200); // headers, then nothing
      return;
    }
    if (url === '/slow.tar') {
      // The first sample and the start of the next member, then nothing until released.
      const body = routes.get('/slow.tar')!;
      res.writeHead(200, { 'Content-Length': body.length });
      res.write(body.subarray(0, 4096));
      hold = { release: () => res.end(body.subarray(4096)) };
      return;
    }
    const body = routes.get(url);
    if (!body) return res.writeHead(404, 'Not Found').end('no');
    res.writeHead(200, { 'Content-Length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  routes.set('/shards/00000.tar', shard0);
  routes.set('/img/a.jpg', A);
  routes.set('/img/b?id=2', B);
  routes.set(
    '/slow.tar',
    await makeTar([
      ['k0.jpg', A],
      ['k1.png', PNG],
    ]),
  );
}, 20_000);

afterAll(() => {
  server?.closeAllConnections();
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('expandBraces', () => {
  it('expands zero-padded ranges, comma lists, nesting and products, in order', () => {
    expect(expandBraces('shards/{00000..00003}.tar')).toEqual([
      'shards/00000.tar',
      'shards/00001.tar',
      'shards/00002.tar',
      'shards/00003.tar',
    ]);
    expect(expandBraces('{8..11}')).toEqual(['8', '9', '10', '11']);
    expect(expandBraces('{08..10}')).toEqual(['08', '09', '10']);
    expect(expandBraces('{3..1}')).toEqual(['3', '2', '1']);
    expect(expandBraces('{a,b}{1,2}')).toEqual(['a1', 'a2', 'b1', 'b2']);
    expect(expandBraces('x/{a,b{0..1}}.tar')).toEqual(['x/a.tar', 'x/b0.tar', 'x/b1.tar']);
    expect(expandBraces('{a,}z')).toEqual(['az', 'z']);
  });
  it('keeps what is not a pattern literally', () => {
    expect(expandBraces('plain.tar')).toEqual(['plain.tar']);
    expect(expandBraces('a{x}b')).toEqual(['a{x}b']);
    expect(expandBraces('a{1..2')).toEqual(['a{1..2']);
    expect(expandBraces('{x}{1,2}')).toEqual(['{x}1', '{x}2']);
  });
  it('refuses a range too large to list', () => {
    expect(() => expandBraces('{0..99999999}')).toThrow(/at most/);
  });
});

describe('tar shards', () => {
  it('groups members by __key__, with captions and metadata; one part per shard, in order', async () => {
    const { parts } = await openSources([join(dir, '{00000..00001}.tar'), join(dir, '00002.tar.gz')]);
    expect(parts.map((p) => [p.index, p.kind, p.id])).toEqual([
      [0, 'tar', join(dir, '00000.tar')],
      [1, 'tar', join(dir, '00001.tar')],
      [2, 'tar', join(dir, '00002.tar.gz')],
    ]);
    const items = await all(parts[0]!);
    expect(view(items)).toEqual([
      { key: '000000000', ext: 'jpg', caption: 'a cat', meta: { url: 'http://x/a.jpg', width: 17 } },
      { key: '000000001', ext: 'jpg', caption: undefined, meta: { width: 45 } },
      { key: 'sub/000000002', ext: 'png', caption: 'a photo', meta: undefined },
    ]);
    expect(items[0]!.error === undefined && items[0]!.bytes).toEqual(A);
    expect(items[2]!.error === undefined && items[2]!.bytes).toEqual(PNG);
    expect(items.every((s) => s.source === join(dir, '00000.tar'))).toBe(true);
    expect(view(await all(parts[1]!))).toEqual([
      { key: '000000003', ext: 'jpeg', caption: undefined, meta: undefined },
    ]);
    expect(view(await all(parts[2]!))).toEqual([{ key: 'dir.v2/x', ext: 'jpg', caption: undefined, meta: undefined }]);
  });

  it('a part can be left early and read again from the start', async () => {
    const part = (await openSources([join(dir, '00000.tar')])).parts[0]!;
    for await (const s of part.samples()) {
      expect(s.key).toBe('000000000');
      break;
    }
    expect((await all(part)).map((s) => s.key)).toEqual(['000000000', '000000001', 'sub/000000002']);
  });

  it('a sample without an image, or with bad JSON, is a failure in its place; the shard goes on', async () => {
    const p = join(dir, 'bad-members.tar');
    writeFileSync(
      p,
      await makeTar([
        ['a.jpg', A],
        ['b.txt', 'only a caption'],
        ['b.bin', 'x'],
        ['c.jpg', B],
        ['c.json', '{"width": '],
        ['d.png', PNG],
      ]),
    );
    const { parts } = await openSources([p]);
    const items = await all(parts[0]!);
    expect(items.map((s) => [s.key, s.error !== undefined])).toEqual([
      ['a', false],
      ['b', true],
      ['c', true],
      ['d', false],
    ]);
    expect(items[1]!.error).toMatch(/no image member.*has: txt, bin/);
    expect(items[2]!.error).toMatch(/bad JSON in c\.json/);
  });

  it('a truncated shard: the samples before are yielded, then an error naming the shard', async () => {
    const cutMid = join(dir, 'cut-mid.tar');
    writeFileSync(cutMid, shard0.subarray(0, shard0.length - 2000)); // inside the PNG member
    let [items, err] = await until((await openSources([cutMid])).parts[0]!);
    expect(items.map((s) => s.key)).toEqual(['000000000', '000000001']);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as Error).message).toContain(cutMid);
    expect((err as Error).message).toMatch(/truncated.*'sub\/000000002', is left out/);

    // Cut exactly at a member's end (no end-of-archive blocks): tar-stream sees no error, the tail check does.
    const tar = await makeTar([
      ['a.jpg', A],
      ['b.jpg', B],
    ]);
    const cutEdge = join(dir, 'cut-edge.tar');
    writeFileSync(
      cutEdge,
      tar.subarray(0, 512 + Math.ceil(A.length / 512) * 512 + 512 + Math.ceil(B.length / 512) * 512),
    );
    [items, err] = await until((await openSources([cutEdge])).parts[0]!);
    expect(items.map((s) => s.key)).toEqual(['a']);
    expect((err as Error).message).toMatch(/cut-edge\.tar: truncated tar shard: no end-of-archive blocks/);
  });

  it('a file that is not a tar is an error naming it', async () => {
    const p = join(dir, 'not.tar');
    writeFileSync(p, new Uint8Array(3000).fill(65));
    const [items, err] = await until((await openSources([p])).parts[0]!);
    expect(items).toEqual([]);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as Error).message).toContain(p);
  });

  it('over HTTP: read as a stream; a 404 and a stalled server are errors naming the URL', async () => {
    const { parts } = await openSources([`${base}/shards/{00000..00000}.tar`, `${base}/shards/00404.tar`], {
      timeoutMs: 2000,
    });
    expect(view(await all(parts[0]!)).map((s) => s.key)).toEqual(['000000000', '000000001', 'sub/000000002']);
    const [, err] = await until(parts[1]!);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as Error).message).toBe(`${base}/shards/00404.tar: HTTP 404 Not Found`);

    const stalled = (await openSources([`${base}/stall.tar`], { timeoutMs: 300 })).parts[0]!;
    const [, e2] = await until(stalled);
    expect((e2 as Error).message).toMatch(/stall\.tar: no response or no data for 300 ms/);
  }, 10_000);

  it('over HTTP: the first sample arrives before the body is complete', async () => {
    const part = (await openSources([`${base}/slow.tar`], { timeoutMs: 5000 })).parts[0]!;
    const it = part.samples()[Symbol.asyncIterator]();
    const first = await it.next(); // the server has sent 4096 bytes and holds the rest
    expect(first.value?.key).toBe('k0');
    hold!.release();
    expect((await it.next()).value?.key).toBe('k1');
    expect((await it.next()).done).toBe(true);
  }, 10_000);
});

describe('folders and list files', () => {
  it('a folder: recursive, byte-ordered by relative path, captions and metadata beside, cut into parts', async () => {
    const f = join(dir, 'photos');
    mkdirSync(join(f, 'b', 'c'), { recursive: true });
    mkdirSync(join(f, 'a.d'));
    writeFileSync(join(f, 'b', 'c', 'z.JPG'), A);
    writeFileSync(join(f, 'b', 'c', 'z.txt'), 'zed');
    writeFileSync(join(f, 'a.d', 'x.png'), PNG);
    writeFileSync(join(f, 'a.d', 'x.json'), '{"k": [1, 2]}');
    writeFileSync(join(f, 'B.jpeg'), B);
    writeFileSync(join(f, 'é.jpg'), C);
    writeFileSync(join(f, 'notes.txt'), 'not a caption of anything');
    writeFileSync(join(f, 'bad.jpg'), D);
    writeFileSync(join(f, 'bad.json'), 'nope');
    const { parts } = await openSources([f], { partSize: 2 });
    expect(parts.map((p) => [p.index, p.id, p.size])).toEqual([
      [0, `${f}#0`, 2],
      [1, `${f}#1`, 2],
      [2, `${f}#2`, 1],
    ]);
    const items = (await Promise.all(parts.map(all))).flat();
    expect(view(items)).toEqual([
      { key: 'B', ext: 'jpeg', caption: undefined, meta: undefined },
      { key: 'a.d/x', ext: 'png', caption: undefined, meta: { k: [1, 2] } },
      { key: 'b/c/z', ext: 'jpg', caption: 'zed', meta: undefined },
      { key: 'bad', error: expect.stringMatching(/bad JSON in .*bad\.json/) },
      { key: 'é', ext: 'jpg', caption: undefined, meta: undefined },
    ]);
    expect(items[2]!.source).toBe(join(f, 'b', 'c', 'z.JPG'));
  });

  it('a list file: paths and URLs in order, comments and blank lines skipped; an unreadable entry is a failure', async () => {
    const l = join(dir, 'list');
    mkdirSync(l);
    writeFileSync(join(l, 'one.jpg'), A);
    writeFileSync(join(l, 'one.txt'), 'first');
    writeFileSync(join(l, 'junk.jpg'), 'not an image at all');
    const list = join(l, 'images.txt');
    writeFileSync(
      list,
      [
        '# images',
        'one.jpg',
        '',
        `  ${base}/img/a.jpg  `,
        `${base}/img/b?id=2`,
        `${base}/img/missing.jpg`,
        'gone.png',
        'junk.jpg',
        `${join(dir, 'photos', 'B.jpeg')}`,
      ].join('\n'),
    );
    const { parts } = await openSources([list], { timeoutMs: 2000 });
    expect(parts.map((p) => [p.kind, p.size])).toEqual([['list', 7]]);
    const items = await all(parts[0]!);
    expect(view(items)).toEqual([
      { key: 'one', ext: 'jpg', caption: 'first', meta: undefined },
      { key: `${base}/img/a`, ext: 'jpg', caption: undefined, meta: undefined },
      { key: `${base}/img/b?id=2`, ext: 'jpg', caption: undefined, meta: undefined },
      { key: `${base}/img/missing`, error: 'HTTP 404 Not Found' },
      { key: 'gone', error: expect.stringMatching(/cannot read: ENOENT/) },
      { key: 'junk', ext: 'jpg', caption: undefined, meta: undefined }, // the decoder, later, finds it is not a JPEG
      { key: join(dir, 'photos', 'B'), ext: 'jpeg', caption: undefined, meta: undefined },
    ]);
  }, 10_000);
});

describe('bad SOURCEs', () => {
  it('a missing folder, list file or shard, an empty folder or list, an http(s) SOURCE that is not a tar: errors naming them', async () => {
    const missing = join(dir, 'nowhere');
    await expect(openSources([missing])).rejects.toThrow(`${missing}: no such file or folder`);
    await expect(openSources([join(dir, '{00000..00009}.tar')])).rejects.toThrow(
      `${join(dir, '00002.tar')}: no such file or folder`,
    );
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    await expect(openSources([empty])).rejects.toThrow(`${empty}: no images`);
    writeFileSync(join(dir, 'empty.txt'), '# nothing\n\n');
    await expect(openSources([join(dir, 'empty.txt')])).rejects.toThrow(/empty\.txt: the list file names no image/);
    await expect(openSources([`${base}/img/a.jpg`])).rejects.toThrow(/must be a tar shard/);
    await expect(openSources([])).rejects.toThrow(/specs/);
    await expect(openSources([dir], { partSize: 0 })).rejects.toThrow(/partSize/);
    await expect(openSources([dir], { partsize: 2 } as object)).rejects.toThrow(/partsize/);
  });
});
