// Webdataset tar shards, read as a stream (a local file, or an http(s) body): never downloaded whole,
// never held whole in memory; only the members of the sample being assembled are buffered.
//
// The tar format is parsed by tar-stream (mafintosh's, v3: maintained, no native code, streaming,
// used by a large part of the npm ecosystem; it handles ustar, pax and GNU long names), rather than a
// parser of our own: tar has enough variants (pax headers, long names, base-256 sizes) to get wrong.
//
// Grouping follows webdataset: a member `dir/name.ext.more` belongs to the sample whose `__key__` is
// `dir/name` (the path up to the first dot of the basename), with extension `ext.more`; a sample's
// members are consecutive in the tar, and a new key starts a new sample. Members without a dot in
// their basename, and entries that are not files (directories, links), are skipped, as webdataset
// does. In a sample: the first member whose extension is one of IMAGE_EXTENSIONS is the image, `txt`
// the caption, `json` the metadata (a JSON object); a sample without an image member, or with bad
// JSON, is a failure record, not an error of the shard.
import { Readable } from 'node:stream';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import tarStream from 'tar-stream';
import { SourceError } from '../../errors.js';
import { concatBytes, fetchChunks, isUrl } from './http.js';
import { IMAGE_EXTENSIONS, type Sample, type SourceItem } from './types.js';

/** True for the names read as tar shards: `.tar`, and gzip-compressed `.tar.gz` / `.tgz` (query string ignored). */
export const isTarName = (s: string): boolean => /\.(tar|tar\.gz|tgz)$/i.test(s.replace(/[?#].*$/, ''));
const isGzip = (s: string) => /\.(tar\.gz|tgz)$/i.test(s.replace(/[?#].*$/, ''));

/** `[key, ext]` of a member name (webdataset's rule), or undefined for a name without an extension. */
export function splitMemberName(name: string): [string, string] | undefined {
  const n = name.replace(/^(\.\/)+/, '');
  const slash = n.lastIndexOf('/');
  const dot = n.indexOf('.', slash + 1);
  if (dot <= slash + 1) return undefined; // no dot, or a name starting with one
  return [n.slice(0, dot), n.slice(dot + 1)];
}

const decoder = new TextDecoder();

/** One assembled sample: its members' bytes by extension (lowercase). */
function toItem(key: string, source: string, members: Map<string, Uint8Array>): SourceItem {
  const image = [...members.keys()].find((e) => IMAGE_EXTENSIONS.includes(e));
  if (image === undefined)
    return {
      key,
      source,
      error: `no image member (${IMAGE_EXTENSIONS.join('/')}; has: ${[...members.keys()].join(', ')})`,
    };
  const item: Sample = { key, source, bytes: members.get(image)!, ext: image };
  const txt = members.get('txt');
  if (txt) item.caption = decoder.decode(txt);
  const json = members.get('json');
  if (json) {
    const meta = parseMeta(json, `${key}.json`);
    if (typeof meta === 'string') return { key, source, error: meta };
    item.meta = meta;
  }
  return item;
}

/** A JSON object, or the reason it is not one. */
export function parseMeta(bytes: Uint8Array, name: string): Record<string, unknown> | string {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(bytes));
  } catch (e) {
    return `bad JSON in ${name}: ${(e as Error).message}`;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return `${name} is not a JSON object`;
  return v as Record<string, unknown>;
}

/** The raw bytes of a shard: a file or an http(s) body, as a Node stream. */
function openRaw(shard: string, timeoutMs: number): Readable {
  if (isUrl(shard)) return Readable.from(fetchChunks(shard, timeoutMs), { objectMode: false });
  return createReadStream(shard);
}

/**
 * The samples of one shard, in member order. Throws a SourceError naming the shard when it cannot be
 * read, is not a tar, or ends early (truncated: the complete samples before are yielded first; the
 * one being read when the data ended is left out, since it may lack members).
 */
export async function* tarSamples(shard: string, timeoutMs: number): AsyncGenerator<SourceItem> {
  const raw = openRaw(shard, timeoutMs);
  const bytes = isGzip(shard) ? raw.pipe(createGunzip()) : raw;
  if (bytes !== raw) raw.on('error', (e) => bytes.destroy(e));
  // The last 1024 bytes of the tar: a complete archive ends with two zero blocks. tar-stream accepts
  // data that stops exactly at a member's end; this catches that truncation (unless the last member's
  // data itself ends in 1 KiB of zeros).
  const tail = new Uint8Array(1024);
  let total = 0;
  async function* tap(src: AsyncIterable<Uint8Array>) {
    for await (const c of src) {
      if (c.length >= 1024) tail.set(c.subarray(c.length - 1024));
      else {
        tail.copyWithin(0, c.length);
        tail.set(c, 1024 - c.length);
      }
      total += c.length;
      yield c;
    }
  }
  const fed = Readable.from(tap(bytes as AsyncIterable<Uint8Array>), { objectMode: false });
  const extract = tarStream.extract();
  fed.on('error', (e) => extract.destroy(e));
  fed.pipe(extract);

  let key: string | undefined;
  let members = new Map<string, Uint8Array>();
  let done = 0;
  const wrap = (e: unknown): SourceError => {
    if (e instanceof SourceError) return e;
    const msg = (e as Error).message;
    if (/unexpected end/i.test(msg)) return truncated(msg);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return new SourceError(shard, 'no such tar shard');
    return new SourceError(shard, `not a readable tar shard: ${msg}`);
  };
  const truncated = (detail: string) =>
    new SourceError(
      shard,
      `truncated tar shard: ${detail} (after ${done} complete samples${key !== undefined ? `; the sample being read, '${key}', is left out` : ''})`,
    );
  try {
    const entries = extract[Symbol.asyncIterator]();
    for (;;) {
      let r: Awaited<ReturnType<typeof entries.next>>;
      try {
        r = await entries.next();
      } catch (e) {
        throw wrap(e);
      }
      if (r.done) break;
      const entry = r.value;
      const type = entry.header.type ?? 'file';
      const split = type === 'file' || type === 'contiguous-file' ? splitMemberName(entry.header.name) : undefined;
      // A new key completes the sample before it: yielded now, before this member's data is read.
      if (split && split[0] !== key) {
        if (key !== undefined) {
          yield toItem(key, shard, members);
          done++;
        }
        key = split[0];
        members = new Map();
      }
      const chunks: Uint8Array[] = [];
      let n = 0;
      try {
        for await (const c of entry as AsyncIterable<Uint8Array>) {
          if (split) chunks.push(c);
          n += c.length;
        }
      } catch (e) {
        throw wrap(e);
      }
      if (!split) continue;
      const ext = split[1].toLowerCase();
      if (!members.has(ext)) members.set(ext, concatBytes(chunks, n));
    }
    if (total < 1024 || tail.some((b) => b !== 0)) throw truncated('no end-of-archive blocks');
    if (key !== undefined) yield toItem(key, shard, members);
  } finally {
    extract.destroy();
    fed.destroy();
    bytes.destroy();
    raw.destroy();
  }
}
