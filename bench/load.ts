// Load time and peak host memory of one model load, for the loading path (issue: full-size
// checkpoints from a path, a Blob or a URL, streamed to the GPU). One load per process, so the
// peak RSS (process.resourceUsage().maxRSS) is that load's:
//   node dist/bench/load.js --weights FILE --config FILE [--tower vision|clip] [--url [--port N]] [--cache]
// --url serves the file's folder from a local HTTP server (a child process, Range support) and
// loads by URL (no cache unless --cache; the cache is keyed by URL, so give a --port to reuse it).
// Prints one JSON line.
import { spawn } from 'node:child_process';
import { basename, dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { requestDevice } from '../src/device.js';
import { CLIPModel } from '../src/model/clip.js';
import { VisionTransformer } from '../src/model/vit.js';

const { values: args } = parseArgs({
  options: {
    weights: { type: 'string' },
    config: { type: 'string' },
    tower: { type: 'string', default: 'vision' },
    url: { type: 'boolean', default: false },
    cache: { type: 'boolean', default: false },
    port: { type: 'string', default: '0' },
  },
});
if (!args.weights || !args.config)
  throw new Error('usage: load.js --weights FILE --config FILE [--tower vision|clip] [--url] [--cache]');

/** A child process serving `dir` with Range support on a free port; resolves to its base URL. */
function serveDir(dir: string, port: number): Promise<{ base: string; stop(): void }> {
  const code = `
const http = require('node:http'), fs = require('node:fs'), path = require('node:path');
const dir = ${JSON.stringify(dir)};
const s = http.createServer((req, res) => {
  const f = path.join(dir, decodeURIComponent(req.url));
  let st; try { st = fs.statSync(f); } catch { return res.writeHead(404).end(); }
  const h = { ETag: '"' + st.mtimeMs + '-' + st.size + '"', 'Accept-Ranges': 'bytes' };
  if (req.method === 'HEAD') return res.writeHead(200, { ...h, 'Content-Length': st.size }).end();
  const m = /bytes=(\\d+)-(\\d+)/.exec(req.headers.range || '');
  const [b, e] = m ? [+m[1], Math.min(+m[2], st.size - 1)] : [0, st.size - 1];
  res.writeHead(m ? 206 : 200, { ...h, 'Content-Length': e - b + 1, ...(m ? { 'Content-Range': 'bytes ' + b + '-' + e + '/' + st.size } : {}) });
  fs.createReadStream(f, { start: b, end: e }).pipe(res);
});
s.listen(${port}, '127.0.0.1', () => console.log(s.address().port));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((res) =>
    child.stdout.once('data', (d: Buffer) =>
      res({ base: `http://127.0.0.1:${String(d).trim()}`, stop: () => child.kill() }),
    ),
  );
}

const { device } = await requestDevice();
const server = args.url ? await serveDir(dirname(resolve(args.weights)), Number(args.port)) : null;
const weights = server ? `${server.base}/${basename(args.weights)}` : args.weights;
const t0 = performance.now();
const model =
  args.tower === 'clip'
    ? await CLIPModel.load(device, { weights, config: args.config, cache: args.cache })
    : await VisionTransformer.load(device, { weights, config: args.config, cache: args.cache });
const ms = performance.now() - t0;
const weightBytes =
  model instanceof CLIPModel ? model.vision.weightBytes() + model.text.weightBytes() : model.weightBytes();
const peak = process.resourceUsage().maxRSS * 1024;
console.log(
  JSON.stringify({
    tower: args.tower,
    source: server ? 'url' : 'path',
    ms: Math.round(ms),
    weightMB: Math.round(weightBytes / 2 ** 20),
    peakRssMB: Math.round(peak / 2 ** 20),
    peakOverWeights: +(peak / weightBytes).toFixed(2),
  }),
);
model.destroy();
server?.stop();
device.destroy();
process.exit(0);
