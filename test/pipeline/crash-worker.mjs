// A decode worker that crashes on demand, for test/pipeline/decode-pool.test.ts: an image labelled
// EXIT ends the thread (process.exit), one labelled THROW throws outside any decode (an uncaught
// exception). The real worker (the built one) is loaded first, so it has said it is ready and takes
// every image too; this listener, after its own, ends the thread before its decode answers.
import { parentPort } from 'node:worker_threads';

await import(new URL('../../dist/src/pipeline/decode/worker.js', import.meta.url).href);
parentPort.on('message', (req) => {
  if (req.label === 'EXIT') process.exit(7);
  if (req.label === 'THROW') throw new Error('boom outside a decode');
});
