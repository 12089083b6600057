// A decode pool's worker thread (started by ./pool.ts from the compiled worker.js beside it): decodes
// and resizes one image at a time with the library's own decodeResized (src/preprocess/index.ts: PNG
// with pngjs, JPEG with the libjpeg-turbo WebAssembly module of src/preprocess/jpeg.ts, compiled
// once per worker), so the pixels equal the main thread's bit for bit. The result's pixel buffer is
// transferred to the main thread, not copied. A bad image is answered with a 'failed' reply; nothing
// an image does ends the worker short of a crash, which the pool handles.
import { parentPort, workerData } from 'node:worker_threads';
import { ImageError } from '../../errors.js';
import { decodeResized, normalizeBatch } from '../../preprocess/index.js';
import type { WorkerConfig, WorkerReply, WorkerRequest } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('worker.js is the decode pool worker: it runs in a worker thread started by the pool');
const { size, maxPixels, normalize } = workerData as WorkerConfig;
const reply = (r: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(r, transfer);

/** An error's text without the `<bytes>: ` prefix decodeImage gives images passed as bytes. */
function detailOf(e: unknown): string {
  if (e instanceof ImageError)
    return e.message.startsWith(`${e.image}: `) ? e.message.slice(e.image.length + 2) : e.message;
  return `cannot be decoded: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
}

async function handle({ id, bytes, pixels }: WorkerRequest): Promise<void> {
  const t0 = performance.now();
  try {
    const img = await decodeResized(bytes, size, { maxPixels });
    if (pixels) {
      // The same function the main thread would run on this image, so the values are the same bit for bit.
      const out = normalizeBatch([img], { size, mean: normalize!.mean, std: normalize!.std });
      reply({ kind: 'pixels', id, pixels: out, ms: performance.now() - t0 }, [out.buffer as ArrayBuffer]);
      return;
    }
    // Only a buffer holding exactly these pixels is transferred (decoders allocate one per image).
    const data =
      img.data.byteOffset === 0 && img.data.byteLength === img.data.buffer.byteLength ? img.data : img.data.slice();
    const ms = performance.now() - t0;
    reply({ kind: 'done', id, width: img.width, height: img.height, data, ms }, [data.buffer as ArrayBuffer]);
  } catch (e) {
    reply({ kind: 'failed', id, detail: detailOf(e), ms: performance.now() - t0 });
  }
}

port.on('message', (req: WorkerRequest) => void handle(req));
reply({ kind: 'ready' });
