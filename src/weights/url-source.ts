// A checkpoint at an http(s) URL as a ByteSource: only the bytes a load reads are downloaded, by HTTP
// Range requests, in aligned blocks (adjacent reads coalesce into one request; a safetensors header
// then its tensors, a .bin's zip central directory then the entries used — the vision tower of a
// CLIP .bin does not download the text tower). A server that ignores Range (200 instead of 206) is
// read in one streamed download instead. In Node, blocks are kept in a cache folder and validated
// against the server's ETag / Last-Modified / size by one HEAD request, so a second load downloads
// nothing; browsers keep them in Cache Storage the same way. Every failure is a CheckpointError
// naming the URL and what happened.
import { CheckpointError } from '../errors.js';
import type { ByteSource, LoadProgress, SourceOptions } from './types.js';

/** Bytes per block: the unit of download, of the cache and of read-ahead. */
export const URL_BLOCK_BYTES = 4 << 20;
/** Blocks kept in memory per source (the cache folder holds the rest). */
const MEMORY_BLOCKS = 8;

/** What identifies one version of the file on the server. */
interface Version {
  size: number;
  etag: string | null;
  lastModified: string | null;
}

/** Where downloaded blocks are kept between loads. */
interface BlockStore {
  meta(): Promise<(Version & { url: string }) | null>;
  setMeta(v: Version & { url: string }): Promise<void>;
  get(block: number): Promise<Uint8Array | null>;
  put(block: number, bytes: Uint8Array): Promise<void>;
  clear(): Promise<void>;
}

/** The Node cache folder for `url` (WGSL_VIT_CACHE, default ~/.cache/wgsl-vit/downloads), one subfolder per URL. */
async function nodeBlockStore(url: string): Promise<BlockStore> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const os = await import('node:os');
  const { createHash } = await import('node:crypto');
  const root = process.env.WGSL_VIT_CACHE || path.join(os.homedir(), '.cache', 'wgsl-vit', 'downloads');
  const dir = path.join(root, createHash('sha256').update(url).digest('hex').slice(0, 32));
  const file = (name: string) => path.join(dir, name);
  // Written to a temporary name, then renamed: a file under its final name is always complete.
  const atomic = async (name: string, data: Uint8Array | string) => {
    await fs.mkdir(dir, { recursive: true });
    const tmp = file(`${name}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, file(name));
  };
  return {
    async meta() {
      try {
        return JSON.parse(await fs.readFile(file('meta.json'), 'utf8')) as Version & { url: string };
      } catch {
        return null;
      }
    },
    setMeta: (v) => atomic('meta.json', JSON.stringify(v)),
    async get(block) {
      try {
        return new Uint8Array(await fs.readFile(file(`${block}.blk`)));
      } catch {
        return null;
      }
    },
    put: (block, bytes) => atomic(`${block}.blk`, bytes),
    clear: () => fs.rm(dir, { recursive: true, force: true }),
  };
}

/**
 * The browser cache: Cache Storage ('wgsl-vit-downloads'), one entry per block keyed by the URL with
 * a `wgsl-vit=block-N` query parameter. Cache Storage rather than OPFS: it is there in every
 * browser context that has fetch (pages and workers, no permission prompt), stores a Response as
 * one atomic put — an entry appears only once its body is complete, so an interrupted download
 * leaves none — and the browser evicts it with the site's other caches when space runs low.
 */
async function cacheStorageBlockStore(url: string): Promise<BlockStore | null> {
  if (typeof caches === 'undefined') return null;
  let cache: Cache;
  try {
    cache = await caches.open('wgsl-vit-downloads');
  } catch {
    return null; // e.g. an insecure context
  }
  const key = (what: string) => {
    const u = new URL(url);
    u.searchParams.append('wgsl-vit', what);
    return u.toString();
  };
  const mine = (req: Request) => {
    const u = new URL(req.url);
    if (!u.searchParams.has('wgsl-vit')) return false;
    u.searchParams.delete('wgsl-vit');
    return u.toString() === new URL(url).toString();
  };
  return {
    async meta() {
      const r = await cache.match(key('meta'));
      return r ? ((await r.json()) as Version & { url: string }) : null;
    },
    setMeta: (v) => cache.put(key('meta'), new Response(JSON.stringify(v))),
    async get(block) {
      const r = await cache.match(key(`block-${block}`));
      return r ? new Uint8Array(await r.arrayBuffer()) : null;
    },
    put: (block, bytes) => cache.put(key(`block-${block}`), new Response(bytes as Uint8Array<ArrayBuffer>)),
    async clear() {
      for (const req of await cache.keys()) if (mine(req)) await cache.delete(req);
    },
  };
}

function versionOf(r: Response, size: number): Version {
  return { size, etag: r.headers.get('etag'), lastModified: r.headers.get('last-modified') };
}

/** Whether two versions are the same file: equal size, and equal ETag (or Last-Modified when there is no ETag). */
function sameVersion(a: Version, b: Version): boolean {
  if (a.size !== b.size) return false;
  if (a.etag || b.etag) return a.etag === b.etag;
  if (a.lastModified || b.lastModified) return a.lastModified === b.lastModified;
  return false; // nothing to validate with: never trusted
}

/** Opens `url` for ranged reads (see the top of this file). */
export async function openUrlSource(url: string, opts: SourceOptions = {}): Promise<ByteSource> {
  const fail = (what: string) => new CheckpointError(url, what);
  /** `r`, unless its status is an error: then a CheckpointError saying which. */
  const checked = (r: Response): Response => {
    if (r.status === 404) throw fail('HTTP 404 Not Found: no file at this URL');
    if (r.status === 401 || r.status === 403) throw fail(`HTTP ${r.status} ${r.statusText}: access refused`);
    if (!r.ok) throw fail(`HTTP ${r.status} ${r.statusText}`);
    return r;
  };
  const request = async (init: RequestInit): Promise<Response> => {
    let r: Response;
    try {
      r = await fetch(url, init);
    } catch (e) {
      const browser = typeof window !== 'undefined';
      throw fail(
        `cannot be fetched: ${(e as Error).message}${browser ? ' (a network error, or the server refused it by CORS)' : ' (network error)'}`,
      );
    }
    return checked(r);
  };
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  const store = opts.cache === false ? null : isNode ? await nodeBlockStore(url) : await cacheStorageBlockStore(url);

  // The file's version: one HEAD request (no body); a server without HEAD is asked for byte 0.
  let version: Version;
  // In a browser the HEAD bypasses the HTTP cache's heuristic freshness: the server itself says
  // whether the cached blocks are still this file. (Node's fetch has no HTTP cache.)
  const headInit: RequestInit = isNode ? { method: 'HEAD' } : { method: 'HEAD', cache: 'no-cache' };
  let head = await fetch(url, headInit).catch(() => null);
  if (head && (head.status === 405 || head.status === 501)) head = null;
  if (head) {
    checked(head);
    const len = Number(head.headers.get('content-length'));
    version = versionOf(head, Number.isFinite(len) && head.headers.has('content-length') ? len : -1);
  } else {
    const r = await request({ headers: { Range: 'bytes=0-0' } });
    const total = /\/(\d+)$/.exec(r.headers.get('content-range') ?? '')?.[1];
    version = versionOf(r, total ? Number(total) : Number(r.headers.get('content-length') ?? -1));
    await r.body?.cancel();
  }

  let loaded = 0;
  const progress = (n: number) => {
    loaded += n;
    opts.onProgress?.({
      file: url,
      phase: 'download',
      loaded,
      total: Math.max(version.size, loaded),
    } satisfies LoadProgress);
  };
  /** The whole body of `r`, streamed, checked against its announced length. */
  const readBody = async (r: Response, expected: number): Promise<Uint8Array> => {
    const parts: Uint8Array[] = [];
    let got = 0;
    const reader = r.body?.getReader();
    try {
      while (reader) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        got += value.length;
        progress(value.length);
      }
    } catch (e) {
      throw fail(`the download broke off after ${got} bytes: ${(e as Error).message}`);
    }
    if (expected >= 0 && got < expected)
      throw fail(`the response is shorter than announced: ${got} of ${expected} bytes (truncated download)`);
    if (expected >= 0 && got > expected)
      throw fail(`the response is longer than announced: ${got} bytes where ${expected} were expected`);
    const out = new Uint8Array(got);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };

  // The cache holds blocks of this very version, or is started anew.
  if (store) {
    const meta = await store.meta();
    if (!meta || meta.url !== url || !sameVersion(meta, version)) {
      await store.clear();
      if (version.size >= 0 && (version.etag || version.lastModified)) await store.setMeta({ url, ...version });
    }
  }
  const cacheable = !!store && version.size >= 0 && !!(version.etag || version.lastModified);

  let whole: Uint8Array | null = null; // the whole file, when the server would not serve ranges
  const memory = new Map<number, Uint8Array>();
  const keep = (block: number, bytes: Uint8Array) => {
    memory.delete(block);
    memory.set(block, bytes);
    while (memory.size > MEMORY_BLOCKS) memory.delete(memory.keys().next().value!);
  };
  const size = () => (whole ? whole.length : version.size);

  /** The whole file from a 200 response (a server that ignores Range, or announced no size). */
  const downloadWhole = async (r: Response): Promise<Uint8Array> =>
    readBody(r, r.headers.has('content-length') ? Number(r.headers.get('content-length')) : -1);

  /** Bytes block `b` holds (the last one may be short). */
  const blockLength = (b: number) => Math.min(URL_BLOCK_BYTES, size() - b * URL_BLOCK_BYTES);

  /**
   * Downloads blocks first..last in one Range request and returns them (also kept in memory and in
   * the cache); null when the server ignored Range and sent the whole file (now in `whole`).
   */
  const fetchBlocks = async (first: number, last: number): Promise<Map<number, Uint8Array> | null> => {
    const begin = first * URL_BLOCK_BYTES;
    const end = Math.min(size(), (last + 1) * URL_BLOCK_BYTES);
    const r = await request({ headers: { Range: `bytes=${begin}-${end - 1}` } });
    if (r.status === 200) {
      whole = await downloadWhole(r);
      if (version.size >= 0 && whole.length !== version.size)
        throw fail(`the file changed on the server between requests (size ${version.size}, now ${whole.length})`);
      return null;
    }
    if (r.status !== 206) throw fail(`HTTP ${r.status} to a range request`);
    const now = versionOf(r, version.size);
    if (
      (version.etag && now.etag && now.etag !== version.etag) ||
      (version.lastModified && now.lastModified && now.lastModified !== version.lastModified)
    )
      throw fail(
        `the file changed on the server between requests (${version.etag ? `ETag ${version.etag} → ${now.etag}` : `Last-Modified ${version.lastModified} → ${now.lastModified}`}); load it again`,
      );
    const cr = /bytes (\d+)-(\d+)\/(\d+|\*)/.exec(r.headers.get('content-range') ?? '');
    if (!cr || Number(cr[1]) !== begin || Number(cr[2]) !== end - 1)
      throw fail(
        `the server answered bytes ${r.headers.get('content-range') ?? '(no Content-Range)'} to a request for ${begin}-${end - 1}`,
      );
    const body = await readBody(r, end - begin);
    const out = new Map<number, Uint8Array>();
    for (let b = first; b <= last; b++) {
      const bytes = body.slice((b - first) * URL_BLOCK_BYTES, (b - first) * URL_BLOCK_BYTES + blockLength(b));
      out.set(b, bytes);
      keep(b, bytes);
      if (cacheable) await store.put(b, bytes);
    }
    return out;
  };

  /** Block `b` from memory or the cache, if there. */
  const stored = async (b: number): Promise<Uint8Array | null> => {
    const m = memory.get(b);
    if (m) return m;
    const c = cacheable ? await store.get(b) : null;
    if (c && c.length === blockLength(b)) {
      keep(b, c);
      return c;
    }
    return null;
  };

  // No size announced: no range can be asked for; one whole download tells it.
  if (version.size < 0) whole = await downloadWhole(await request({}));

  return {
    name: url,
    get size() {
      return size();
    },
    async read(begin: number, end: number): Promise<Uint8Array> {
      if (whole) return whole.subarray(begin, end);
      if (end <= begin) return new Uint8Array(0);
      const first = Math.floor(begin / URL_BLOCK_BYTES),
        last = Math.floor((end - 1) / URL_BLOCK_BYTES);
      const blocks = new Map<number, Uint8Array>();
      let run: number | null = null; // missing blocks are fetched in runs: one request per run
      for (let b = first; b <= last + 1; b++) {
        const have = b <= last ? await stored(b) : null;
        if (have) blocks.set(b, have);
        const missing = b <= last && !have;
        if (missing && run === null) run = b;
        if (!missing && run !== null) {
          const got = await fetchBlocks(run, b - 1);
          if (!got) return whole!.subarray(begin, end);
          for (const [k, v] of got) blocks.set(k, v);
          run = null;
        }
      }
      const out = new Uint8Array(end - begin);
      for (let b = first; b <= last; b++) {
        const bytes = blocks.get(b)!;
        const s = Math.max(begin, b * URL_BLOCK_BYTES),
          e = Math.min(end, b * URL_BLOCK_BYTES + bytes.length);
        out.set(bytes.subarray(s - b * URL_BLOCK_BYTES, e - b * URL_BLOCK_BYTES), s - begin);
      }
      return out;
    },
  };
}
