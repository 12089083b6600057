// A benchmark row server: the model and text rows of bench/run.ts, run in another runtime (Deno, on its own
// WebGPU) at the parent's request, so that the parent can alternate the rows' timing rounds between
// two implementations on the same adapter (bench/runtimes.ts starts it and speaks to it). One JSON
// request per line on stdin; one reply per request on stdout, a line that starts with REPLY_TAG
// (anything else a library prints goes to stderr, or is ignored by the parent).
//   deno run -A dist/bench/row-server.js
import { createInterface } from 'node:readline';
import { openTextSession, type TextSession } from './clip.js';
import { prepare } from './rows.js';
import { openRowSession, type RowSession } from './row-session.js';
import { REPLY_TAG, type ServerRequest } from './runtimes.js';

let session: RowSession | TextSession | null = null;

async function handle(req: ServerRequest): Promise<unknown> {
  switch (req.op) {
    case 'open': {
      session?.close();
      session = null;
      const p = await prepare(req.row, req.dtype);
      session = await openRowSession(p, { flags: req.flags, warmup: req.warmup, kernels: req.kernels });
      return { implementation: session.implementation, timestamps: session.timestamps, firstRunMs: session.firstRunMs };
    }
    case 'open-text': {
      session?.close();
      session = null;
      session = await openTextSession(req.spec, { flags: req.flags, warmup: req.warmup });
      return { implementation: session.implementation, firstRunMs: session.firstRunMs };
    }
    case 'time':
      if (!session) throw new Error('row server: time before open');
      return session.time(req.opts);
    case 'finish': {
      if (!session) throw new Error('row server: finish before open');
      const s = session;
      session = null;
      return s.finish(req.inFlightCalls);
    }
    case 'close':
      session?.close();
      session = null;
      return {};
  }
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const req = JSON.parse(line) as ServerRequest;
  if (req.op === 'exit') break;
  let reply: { ok: true; value: unknown } | { ok: false; error: string };
  try {
    reply = { ok: true, value: await handle(req) };
  } catch (e) {
    reply = { ok: false, error: (e as Error).message };
  }
  process.stdout.write(`${REPLY_TAG}${JSON.stringify(reply)}\n`);
}
(session as RowSession | TextSession | null)?.close();
process.exit(0);
