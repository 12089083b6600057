// A checkpoint at an http(s) URL as a ByteSource: only the bytes a load reads are downloaded, by HTTP
// Range requests, in aligned blocks (adjacent reads coalesce into one request; a safetensors header
// then its tensors, a .bin's zip central directory then the entries used — the vision tower of a
// CLIP .bin does not download the text tower). A server that ignores Range (200 instead of 206) is
// read in one streamed download, block by block into the cache (or, without one, into memory once).
// In Node, blocks are kept in a cache folder under a tag of the server's ETag / Last-Modified / size,
// validated by one HEAD request, so a second load downloads nothing; browsers keep them in Cache
// Storage the same way. Each cached block carries its SHA-256, checked when it is read: a damaged
// block is dropped (one warning) and downloaded again, never used. Requests ask for the identity
// encoding (a compressing server would otherwise announce no size and serve no ranges). Every
// failure is a CheckpointError naming the URL and what happened; a cache that cannot be used is
// a warning, never a failure.
import { ArgumentError, CheckpointError } from '../errors.js';
import { warnOnce } from '../warn.js';
import type { ByteSource, LoadProgress, SourceOptions } from './types.js';

/** Bytes per block: the unit of download, of the cache and of read-ahead. */
export const URL_BLOCK_BYTES = 4 << 20;
/** Blocks kept in memory per source (the cache folder holds the rest). */
const MEMORY_BLOCKS = 8;
/** How long a request may go without receiving anything (headers or body bytes) by default. */
export const DEFAULT_STALL_TIMEOUT_MS = 60_000;
/** Bumped when the layout of cached blocks changes (2: a SHA-256 before each block's bytes). */
const CACHE_FORMAT = 2;
const HASH_BYTES = 32;

/** What identifies one version of the file on the server. */
interface Version {
  size: number;
  etag: string | null;
  lastModified: string | null;
}

/** Where downloaded blocks of one version of one URL are kept between loads. */
interface BlockStore {
  /** Block `block` if stored, whole and intact (a damaged one is dropped, with a warning); else null. */
  get(block: number, length: number): Promise<Uint8Array | null>;
  /** Stores a block; false when it could not be stored (said once; the load goes on without the cache). */
  put(block: number, bytes: Uint8Array): Promise<boolean>;
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/** What the tag of one version of one URL hashes: blocks of other versions are never read as this one's. */
const versionKey = (url: string, v: Version) => JSON.stringify([CACHE_FORMAT, url, v.size, v.etag, v.lastModified]);

const corruptMessage = (url: string, block: number, where: string) =>
  `the cached block ${block} of ${url} (${where}) is damaged (its SHA-256 or length differs from what was stored): dropped, downloading it again`;

/**
 * The Node cache folder for `url` (WGSL_VIT_CACHE, default ~/.cache/wgsl-vit/downloads), one
 * subfolder per URL holding `<tag>.<block>.blk` files: the version's tag, then each block as its
 * SHA-256 followed by its bytes, written to a temporary name and renamed (a file under its final name
 * is always complete). The folder itself is never removed: opening a version deletes the other
 * versions' block files one by one (a file another process is writing at the same moment is its
 * loss, never an error), so concurrent loads of a changed file cannot trip over each other.
 * Null (with one warning naming the folder) when the folder cannot be created.
 */
async function nodeBlockStore(url: string, version: Version): Promise<BlockStore | null> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const os = await import('node:os');
  const { createHash } = await import('node:crypto');
  const sha256hex = (s: string) => createHash('sha256').update(s).digest('hex');
  const root = process.env.WGSL_VIT_CACHE || path.join(os.homedir(), '.cache', 'wgsl-vit', 'downloads');
  const dir = path.join(root, sha256hex(url).slice(0, 32));
  const tag = sha256hex(versionKey(url, version)).slice(0, 16);
  const unusable = (e: unknown) =>
    warnOnce(
      `the download cache folder ${root} cannot be used (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): loading without it (set WGSL_VIT_CACHE to a writable folder, or pass cache: false / --no-cache)`,
    );
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (e) {
    unusable(e);
    return null;
  }
  // Other versions' blocks (and the first cache format's files, and temporary files left by a
  // process that died more than an hour ago) are deleted; errors are ignored (another process may
  // be deleting the same files).
  try {
    const now = Date.now();
    for (const name of await fs.readdir(dir)) {
      const f = path.join(dir, name);
      if (name.endsWith('.tmp')) {
        const st = await fs.stat(f).catch(() => null);
        if (st && now - st.mtimeMs > 3600_000) await fs.rm(f, { force: true }).catch(() => {});
      } else if (!name.startsWith(`${tag}.`)) await fs.rm(f, { force: true, recursive: true }).catch(() => {});
    }
  } catch {
    // an unreadable folder: the puts below will say so
  }
  const file = (block: number) => path.join(dir, `${tag}.${block}.blk`);
  let broken = false;
  return {
    async get(block, length) {
      let buf: Uint8Array;
      try {
        buf = await fs.readFile(file(block));
      } catch {
        return null;
      }
      const bytes = buf.subarray(HASH_BYTES);
      if (
        buf.length !== HASH_BYTES + length ||
        !sameBytes(createHash('sha256').update(bytes).digest(), buf.subarray(0, HASH_BYTES))
      ) {
        console.warn(`wgsl-vit: ${corruptMessage(url, block, file(block))}`);
        await fs.rm(file(block), { force: true }).catch(() => {});
        return null;
      }
      return bytes;
    },
    async put(block, bytes) {
      if (broken) return false;
      const tmp = `${file(block)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      try {
        const fh = await fs.open(tmp, 'w');
        try {
          await fh.writev([createHash('sha256').update(bytes).digest(), bytes]);
        } finally {
          await fh.close();
        }
        await fs.rename(tmp, file(block));
        return true;
      } catch (e) {
        await fs.rm(tmp, { force: true }).catch(() => {});
        broken = true;
        unusable(e);
        return false;
      }
    },
  };
}

/**
 * The browser cache: Cache Storage ('wgsl-vit-downloads'), one entry per block keyed by the URL with
 * a `wgsl-vit=<tag>-block-N` query parameter (the version's tag, as in Node) and its SHA-256 in an
 * `x-wgsl-vit-sha256` header, checked when read. Cache Storage rather than OPFS: it is there in every
 * browser context that has fetch (pages and workers, no permission prompt), stores a Response as
 * one atomic put — an entry appears only once its body is complete, so an interrupted download
 * leaves none — and the browser evicts it with the site's other caches when space runs low.
 */
async function cacheStorageBlockStore(url: string, version: Version): Promise<BlockStore | null> {
  if (typeof caches === 'undefined' || typeof crypto === 'undefined' || !crypto.subtle) return null;
  let cache: Cache;
  try {
    cache = await caches.open('wgsl-vit-downloads');
  } catch {
    return null; // e.g. an insecure context
  }
  const digest = async (b: Uint8Array) =>
    new Uint8Array(await crypto.subtle.digest('SHA-256', b as Uint8Array<ArrayBuffer>));
  const vtag = hex(await digest(new TextEncoder().encode(versionKey(url, version)))).slice(0, 16);
  const key = (block: number) => {
    const u = new URL(url);
    u.searchParams.append('wgsl-vit', `${vtag}-block-${block}`);
    return u.toString();
  };
  // Entries of this URL under another version (or the first format's) are deleted.
  try {
    for (const req of await cache.keys()) {
      const u = new URL(req.url);
      const what = u.searchParams.get('wgsl-vit');
      if (what === null || what.startsWith(`${vtag}-`)) continue;
      u.searchParams.delete('wgsl-vit');
      if (u.toString() === new URL(url).toString()) await cache.delete(req);
    }
  } catch {
    // nothing to clean, or a cache that cannot be listed
  }
  let broken = false;
  return {
    async get(block, length) {
      const r = await cache.match(key(block)).catch(() => undefined);
      if (!r) return null;
      const bytes = new Uint8Array(await r.arrayBuffer());
      if (bytes.length !== length || hex(await digest(bytes)) !== r.headers.get('x-wgsl-vit-sha256')) {
        console.warn(`wgsl-vit: ${corruptMessage(url, block, 'Cache Storage wgsl-vit-downloads')}`);
        await cache.delete(key(block)).catch(() => {});
        return null;
      }
      return bytes;
    },
    async put(block, bytes) {
      if (broken) return false;
      try {
        const headers = { 'x-wgsl-vit-sha256': hex(await digest(bytes)) };
        await cache.put(key(block), new Response(bytes as Uint8Array<ArrayBuffer>, { headers }));
        return true;
      } catch (e) {
        broken = true;
        warnOnce(`Cache Storage cannot keep the downloads (${(e as Error).message}): loading without it`);
        return false;
      }
    },
  };
}

function versionOf(r: Response, size: number): Version {
  return { size, etag: r.headers.get('etag'), lastModified: r.headers.get('last-modified') };
}

const duration = (ms: number) => (ms < 1000 ? `${ms} ms` : `${ms / 1000} s`);

/** What a Node network error's cause says (`error.cause.code`, e.g. ECONNREFUSED), if anything. */
function networkCause(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : null;
  if (!code) return '';
  const plain: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
  };
  const msg = typeof cause?.message === 'string' && cause.message ? cause.message : code;
  return `${plain[code] ?? msg} (${code}${plain[code] ? `: ${msg}` : ''})`;
}

/** One response whose headers arrived: its body read chunk by chunk under the stall timeout. */
interface Exchange {
  r: Response;
  /** The next chunk of the body, or null at its end. */
  next(): Promise<Uint8Array | null>;
  /** Drops the rest of the body. */
  cancel(): void;
}

/** Opens `url` for ranged reads (see the top of this file). */
export async function openUrlSource(url: string, opts: SourceOptions = {}): Promise<ByteSource> {
  const stallMs = opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  if (typeof stallMs !== 'number' || !(stallMs > 0))
    throw new ArgumentError(
      'load',
      'stallTimeoutMs',
      `must be a positive number of milliseconds, got ${String(stallMs)}`,
    );
  const signal = opts.signal;
  const fail = (what: string, cause?: unknown) => {
    const e = new CheckpointError(url, what);
    if (cause !== undefined) e.cause = cause;
    return e;
  };
  /** Errors that end the load at once (abort, stall), never taken for a server without HEAD. */
  const final = new WeakSet<Error>();
  const abortError = () => {
    const reason: unknown = signal?.reason;
    const why =
      reason instanceof Error
        ? reason.message
        : typeof reason === 'string' || typeof reason === 'number'
          ? String(reason)
          : '';
    const e = fail(`the load was aborted${why ? ` (${why})` : ''}`, reason);
    final.add(e);
    return e;
  };
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;

  /**
   * One request. The caller's signal aborts it; so does the stall timer, running while the request
   * waits for its headers and while a read waits for the next chunk, so a server that stops sending
   * fails after `stallMs` of silence instead of never.
   */
  const exchange = async (init: RequestInit, what: string): Promise<Exchange> => {
    if (signal?.aborted) throw abortError();
    const ctl = new AbortController();
    let stalled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      if (Number.isFinite(stallMs))
        timer = setTimeout(() => {
          stalled = true;
          ctl.abort();
        }, stallMs);
    };
    const onAbort = () => ctl.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    /** The stall or abort error, if that is what ended the request. */
    const ended = (stage: string): CheckpointError | null => {
      if (signal?.aborted) return abortError();
      if (!stalled) return null;
      const e = fail(
        `nothing arrived for ${duration(stallMs)} ${stage} (${what}): the server stalled (stallTimeoutMs is ${stallMs})`,
      );
      final.add(e);
      return e;
    };
    // Node's fetch asks for gzip by default; a compressing server then announces no length and
    // serves no ranges. (In a browser Accept-Encoding is the browser's to set.)
    const headers = {
      ...(isNode ? { 'Accept-Encoding': 'identity' } : {}),
      ...(init.headers as Record<string, string>),
    };
    arm();
    let r: Response;
    try {
      r = await fetch(url, { ...init, headers, signal: ctl.signal });
      clearTimeout(timer);
    } catch (e) {
      settle();
      const end = ended('waiting for the response headers');
      if (end) throw end;
      const browser = typeof window !== 'undefined';
      throw fail(
        `cannot be fetched: ${networkCause(e) || `${(e as Error).message}${browser ? ' (a network error, or the server refused it by CORS)' : ' (network error)'}`}`,
        e,
      );
    }
    const reader = r.body?.getReader();
    return {
      r,
      async next() {
        if (!reader) {
          settle();
          return null;
        }
        try {
          arm();
          const { done, value } = await reader.read();
          clearTimeout(timer);
          if (done) {
            settle();
            return null;
          }
          return value;
        } catch (e) {
          settle();
          throw ended('in the middle of the body') ?? e;
        }
      },
      cancel() {
        settle();
        reader?.cancel().catch(() => {});
      },
    };
  };

  /** `x`, unless its status is an error: then a CheckpointError saying which. */
  const checked = (x: Exchange): Exchange => {
    const r = x.r;
    if (r.ok) return x;
    x.cancel();
    if (r.status === 404) throw fail('HTTP 404 Not Found: no file at this URL');
    if (r.status === 401 || r.status === 403) throw fail(`HTTP ${r.status} ${r.statusText}: access refused`);
    throw fail(`HTTP ${r.status} ${r.statusText}`);
  };
  const request = async (init: RequestInit, what: string) => checked(await exchange(init, what));

  // The file's version: one HEAD request (no body); a server without HEAD is asked for byte 0.
  let version: Version;
  // In a browser the HEAD bypasses the HTTP cache's heuristic freshness: the server itself says
  // whether the cached blocks are still this file. (Node's fetch has no HTTP cache.)
  const headInit: RequestInit = isNode ? { method: 'HEAD' } : { method: 'HEAD', cache: 'no-cache' };
  let head: Exchange | null = null;
  try {
    head = await exchange(headInit, 'HEAD');
  } catch (e) {
    if (final.has(e as Error)) throw e;
  }
  if (head && (head.r.status === 405 || head.r.status === 501)) {
    head.cancel();
    head = null;
  }
  if (head) {
    checked(head).cancel();
    const len = Number(head.r.headers.get('content-length'));
    version = versionOf(head.r, Number.isFinite(len) && head.r.headers.has('content-length') ? len : -1);
  } else {
    const x = await request({ headers: { Range: 'bytes=0-0' } }, 'the first byte');
    const r = x.r;
    const total = /\/(\d+)$/.exec(r.headers.get('content-range') ?? '')?.[1];
    version = versionOf(r, total ? Number(total) : Number(r.headers.get('content-length') ?? -1));
    x.cancel();
  }
  let size = version.size; // known after a whole download when no size was announced

  let loaded = 0;
  const progress = (n: number) => {
    loaded += n;
    opts.onProgress?.({
      file: url,
      phase: 'download',
      loaded,
      total: Math.max(size, loaded),
    } satisfies LoadProgress);
  };
  /** Reads the rest of `x` as the body of `what`; a break-off is a CheckpointError. */
  const chunks = async function* (x: Exchange): AsyncGenerator<Uint8Array> {
    let got = 0;
    for (;;) {
      let value: Uint8Array | null;
      try {
        value = await x.next();
      } catch (e) {
        if (final.has(e as Error)) throw e;
        throw fail(`the download broke off after ${got} bytes: ${(e as Error).message}`, e);
      }
      if (!value) return;
      got += value.length;
      progress(value.length);
      yield value;
    }
  };
  const shorter = (got: number, expected: number) =>
    fail(`the response is shorter than announced: ${got} of ${expected} bytes (truncated download)`);
  const longer = (got: number, expected: number) =>
    fail(`the response is longer than announced: ${got} bytes where ${expected} were expected`);

  // Only a version that can be validated later (a size, and an ETag or Last-Modified) is cached.
  const cacheable = opts.cache !== false && version.size >= 0 && !!(version.etag || version.lastModified);
  const store = !cacheable
    ? null
    : isNode
      ? await nodeBlockStore(url, version)
      : await cacheStorageBlockStore(url, version);

  const memory = new Map<number, Uint8Array>();
  const keep = (block: number, bytes: Uint8Array) => {
    memory.delete(block);
    memory.set(block, bytes);
    while (memory.size > MEMORY_BLOCKS) memory.delete(memory.keys().next().value!);
  };
  /** Blocks of a whole download that no cache holds: kept for the source's life (one copy of the file). */
  const pinned = new Map<number, Uint8Array>();

  /** Bytes block `b` holds (the last one may be short). */
  const blockLength = (b: number) => Math.min(URL_BLOCK_BYTES, size - b * URL_BLOCK_BYTES);

  /** A response of another version than the HEAD's: the file changed on the server. */
  const checkVersion = (r: Response) => {
    const now = versionOf(r, version.size);
    if (
      (version.etag && now.etag && now.etag !== version.etag) ||
      (version.lastModified && now.lastModified && now.lastModified !== version.lastModified)
    )
      throw fail(
        `the file changed on the server between requests (${version.etag ? `ETag ${version.etag} → ${now.etag}` : `Last-Modified ${version.lastModified} → ${now.lastModified}`}); load it again`,
      );
  };

  /**
   * The whole file from a 200 response (a server that ignores Range, or one that announced no
   * size), streamed block by block into the cache — or, where there is none, into `pinned` — so
   * that the file is never held twice. Returns the blocks first..last.
   */
  const downloadWhole = async (x: Exchange, first = 0, last = -1): Promise<Map<number, Uint8Array>> => {
    checkVersion(x.r);
    const announced = x.r.headers.has('content-length') ? Number(x.r.headers.get('content-length')) : -1;
    if (version.size >= 0 && announced >= 0 && announced !== version.size) {
      x.cancel();
      throw fail(`the file changed on the server between requests (size ${version.size}, now ${announced})`);
    }
    const expected = version.size >= 0 ? version.size : announced;
    const out = new Map<number, Uint8Array>();
    let b = 0;
    let got = 0;
    let cur = new Uint8Array(expected >= 0 ? Math.min(URL_BLOCK_BYTES, expected) : URL_BLOCK_BYTES);
    let fill = 0;
    // Only the blocks asked for stay in memory (unless no cache took them): the rest is on disk.
    const emit = async (bytes: Uint8Array) => {
      if (!(store && (await store.put(b, bytes)))) pinned.set(b, bytes);
      else if (b >= first && b <= last) keep(b, bytes);
      if (b >= first && b <= last) out.set(b, bytes);
      b++;
    };
    for await (const chunk of chunks(x)) {
      if (expected >= 0 && got + chunk.length > expected) {
        x.cancel();
        throw longer(got + chunk.length, expected);
      }
      got += chunk.length;
      let o = 0;
      while (o < chunk.length) {
        const n = Math.min(cur.length - fill, chunk.length - o);
        cur.set(chunk.subarray(o, o + n), fill);
        fill += n;
        o += n;
        if (fill === cur.length) {
          await emit(cur);
          const left = expected >= 0 ? expected - b * URL_BLOCK_BYTES : URL_BLOCK_BYTES;
          cur = new Uint8Array(Math.max(0, Math.min(URL_BLOCK_BYTES, left)));
          fill = 0;
        }
      }
    }
    if (expected >= 0 && got < expected) throw shorter(got, expected);
    if (fill > 0) await emit(cur.slice(0, fill));
    if (size < 0) size = got;
    return out;
  };

  /**
   * Downloads blocks first..last in one Range request and returns them (also kept in memory and in
   * the cache). A server that ignores Range sends the whole file instead: streamed into the cache.
   */
  const fetchBlocks = async (first: number, last: number): Promise<Map<number, Uint8Array>> => {
    const begin = first * URL_BLOCK_BYTES;
    const end = Math.min(size, (last + 1) * URL_BLOCK_BYTES);
    const x = await request({ headers: { Range: `bytes=${begin}-${end - 1}` } }, `bytes ${begin}-${end - 1}`);
    const r = x.r;
    if (r.status === 200) return downloadWhole(x, first, last);
    if (r.status !== 206) {
      x.cancel();
      throw fail(`HTTP ${r.status} to a range request`);
    }
    try {
      checkVersion(r);
    } catch (e) {
      x.cancel();
      throw e;
    }
    const cr = /bytes (\d+)-(\d+)\/(\d+|\*)/.exec(r.headers.get('content-range') ?? '');
    if (!cr || Number(cr[1]) !== begin || Number(cr[2]) !== end - 1) {
      x.cancel();
      throw fail(
        `the server answered bytes ${r.headers.get('content-range') ?? '(no Content-Range)'} to a request for ${begin}-${end - 1}`,
      );
    }
    // Read whole and checked before any block is kept: a broken response leaves nothing behind.
    const body = new Uint8Array(end - begin);
    let got = 0;
    for await (const chunk of chunks(x)) {
      if (got + chunk.length > body.length) {
        x.cancel();
        throw longer(got + chunk.length, body.length);
      }
      body.set(chunk, got);
      got += chunk.length;
    }
    if (got < body.length) throw shorter(got, body.length);
    const out = new Map<number, Uint8Array>();
    for (let b = first; b <= last; b++) {
      const bytes = body.slice((b - first) * URL_BLOCK_BYTES, (b - first) * URL_BLOCK_BYTES + blockLength(b));
      out.set(b, bytes);
      keep(b, bytes);
      await store?.put(b, bytes);
    }
    return out;
  };

  /** Block `b` from memory or the cache, if there. */
  const stored = async (b: number): Promise<Uint8Array | null> => {
    const m = pinned.get(b) ?? memory.get(b);
    if (m) return m;
    const c = store ? await store.get(b, blockLength(b)) : null;
    if (c) keep(b, c);
    return c;
  };

  // No size announced: no range can be asked for; one whole download tells it.
  if (version.size < 0) await downloadWhole(await request({}, 'the whole file'));

  return {
    name: url,
    get size() {
      return size;
    },
    async read(begin: number, end: number): Promise<Uint8Array> {
      if (signal?.aborted) throw abortError();
      if (end <= begin) return new Uint8Array(0);
      const first = Math.floor(begin / URL_BLOCK_BYTES),
        last = Math.floor((end - 1) / URL_BLOCK_BYTES);
      const blocks = new Map<number, Uint8Array>();
      let run: number | null = null; // missing blocks are fetched in runs: one request per run
      for (let b = first; b <= last + 1; b++) {
        const have = b <= last ? (blocks.get(b) ?? (await stored(b))) : null;
        if (have) blocks.set(b, have);
        const missing = b <= last && !have;
        if (missing && run === null) run = b;
        if (!missing && run !== null) {
          for (const [k, v] of await fetchBlocks(run, b - 1)) blocks.set(k, v);
          run = null;
        }
      }
      // A new array (its own buffer, offset 0), never a view of a kept block.
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
