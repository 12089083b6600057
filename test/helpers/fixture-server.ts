// A local HTTP server (127.0.0.1, a free port) that serves test/fixtures the way model hosts do, for
// the URL-loading tests: /range/F with Range support, ETag and Last-Modified; /norange/F always
// whole (200); /changing/F whose ETag differs after the HEAD; /nohead/F ranges without HEAD (405);
// /nolength/F no size announced at all (chunked, Range ignored); /gzip/F as nginx with gzip on:
// to a client that accepts gzip, compressed whole bodies without Content-Length (HEAD too) and no
// ranges, else as /range/; /stall/F answers a GET with its headers, then sends nothing;
// /mutable/ serves `mutable.file` under the ETag `mutable.etag` (a file that changes on the server);
// /missing/… a 404; any other /KIND/F is served as /range/F. CORS headers let a
// page of another origin read it. It counts requests, HEADs, GETs, gzip responses and body bytes;
// `truncate` makes it send half of each announced body and drop the connection; `stallAt` holds
// every ranged GET that starts at that byte unanswered until `release()` (a download that hangs
// mid-load).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fixture } from './fixtures.js';

export interface FixtureServer {
  base: string;
  stats: { requests: number; heads: number; gets: number; gzipped: number; bodyBytes: number };
  truncate: boolean;
  mutable: { file: string; etag: string };
  stallAt: number | null;
  release(): void;
  reset(): void;
  close(): void;
}

export async function startFixtureServer(): Promise<FixtureServer> {
  const zero = () => ({ requests: 0, heads: 0, gets: 0, gzipped: 0, bodyBytes: 0 });
  const s: FixtureServer = {
    base: '',
    stats: zero(),
    truncate: false,
    mutable: { file: 'ov1-ti16-224-d1.safetensors', etag: '"m0"' },
    stallAt: null,
    release: () => held.splice(0).forEach((f) => f()),
    reset: () => Object.assign(s.stats, zero()),
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
  const cors = {
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Headers': 'Range',
    'Access-Control-Expose-Headers': 'ETag, Content-Range, Content-Length, Last-Modified',
  };
  const held: (() => void)[] = [];
  const server = createServer((req, res) => {
    const range0 = /^bytes=(\d+)-/.exec(req.headers.range ?? '');
    if (req.method === 'GET' && range0 && Number(range0[1]) === s.stallAt) {
      held.push(() => serve(req, res));
      return;
    }
    serve(req, res);
  });
  const serve = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'OPTIONS') return res.writeHead(204, cors).end();
    s.stats.requests++;
    if (req.method === 'GET') s.stats.gets++;
    const [, kind, path] = /^\/([a-z]+)\/?(.*)$/.exec(req.url ?? '') ?? [];
    const name = kind === 'mutable' ? s.mutable.file : path;
    if (kind === 'missing' || !name) return res.writeHead(404, cors).end();
    const data = readFileSync(fixture(name));
    const etag = kind === 'mutable' ? s.mutable.etag : kind === 'changing' && req.method !== 'HEAD' ? '"v2"' : '"v1"';
    const headers = { ...cors, ETag: etag, 'Last-Modified': 'Mon, 30 Nov 2026 00:00:00 GMT', 'Accept-Ranges': 'bytes' };
    if (req.method === 'HEAD' && kind === 'nohead') return res.writeHead(405, cors).end();
    if (kind === 'nolength') {
      // No size anywhere: HEAD without Content-Length, the body chunked, Range ignored.
      if (req.method === 'HEAD') return res.writeHead(200, { ...cors, ETag: '"v1"' }).end();
      res.writeHead(200, { ...cors, ETag: '"v1"' });
      s.stats.bodyBytes += data.length;
      res.write(data.subarray(0, data.length >> 1));
      return res.end(data.subarray(data.length >> 1));
    }
    if (kind === 'gzip' && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
      // nginx's gzip filter: no Content-Length (the compressed size is not known up front), no ranges.
      if (req.method === 'HEAD') s.stats.heads++;
      else s.stats.gzipped++;
      res.writeHead(200, { ...cors, ETag: etag, 'Content-Encoding': 'gzip', 'Transfer-Encoding': 'chunked' });
      if (req.method === 'HEAD') return res.end();
      s.stats.bodyBytes += data.length;
      return res.end(gzipSync(data));
    }
    if (req.method === 'HEAD') {
      s.stats.heads++;
      return res.writeHead(200, { ...headers, 'Content-Length': data.length }).end();
    }
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const ranged = !!range && kind !== 'norange';
    const [begin, end] = ranged ? [Number(range[1]), Number(range[2]) + 1] : [0, data.length];
    const body = data.subarray(begin, Math.min(end, data.length));
    res.writeHead(ranged ? 206 : 200, {
      ...headers,
      'Content-Length': body.length,
      ...(ranged ? { 'Content-Range': `bytes ${begin}-${begin + body.length - 1}/${data.length}` } : {}),
    });
    if (kind === 'stall') {
      res.flushHeaders(); // the headers, then nothing until the client gives up
      return;
    }
    if (s.truncate) {
      // Half of what was announced, then the connection closes.
      s.stats.bodyBytes += body.length >> 1;
      res.flushHeaders();
      res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.destroy(), 20));
      return;
    }
    s.stats.bodyBytes += body.length;
    res.end(body);
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  s.base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return s;
}
