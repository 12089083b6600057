// A part worker for test/adapters/bullmq.test.ts: the BUILT adapter (dist/src/adapters/bullmq.js) with
// a stub handler in place of the pipeline. For part i it appends one line per execution to
// <dir>/log_<i>.txt, prints `start <i>`, sleeps (STUB_SLEEP_MS, aborted by the handler's signal),
// then writes <dir>/part_<i>.txt atomically (a temporary name renamed into place: what the pipeline's
// writers do) with `<run.tag>:<part.data.text>`, prints `done <i>` and returns { index, pid }.
// STUB_FAIL lists part indices whose handler throws instead. SIGTERM closes the worker (gracefully,
// or with { abort: true } when STUB_ON_SIGTERM=abort) and the process then exits on its own: a
// connection left open would keep it alive (with STUB_EXIT_AFTER_CLOSE it exits at once, as a command
// does, since a Redis gone away leaves BullMQ's timers behind: PartWorker.close). The lock and stall settings come from the environment
// (WGSL_VIT_QUEUE_LOCK_MS, WGSL_VIT_QUEUE_STALL_MS), as a CLI's tests would set them.
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startWorker } from '../../dist/src/adapters/bullmq.js';

const url = process.env.STUB_URL;
const dir = process.env.STUB_DIR;
const queue = process.env.STUB_QUEUE;
const sleepMs = Number(process.env.STUB_SLEEP_MS ?? 500);
const fail = new Set((process.env.STUB_FAIL ?? '').split(',').filter(Boolean).map(Number));

const worker = await startWorker(
  url,
  async ({ run, part }, ctx) => {
    appendFileSync(join(dir, `log_${part.index}.txt`), `pid ${process.pid} attempt ${ctx.attempt} ${ctx.jobId}\n`);
    process.stdout.write(`start ${part.index}\n`);
    await ctx.progress({ part: part.index, started: true });
    await sleep(sleepMs, undefined, { signal: ctx.signal }); // rejects once the signal aborts
    if (fail.has(part.index)) throw new Error(`stub failure for part ${part.index}`);
    const tmp = join(dir, `.part_${part.index}.txt.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
    writeFileSync(tmp, `${run.tag}:${part.data.text}\n`);
    renameSync(tmp, join(dir, `part_${part.index}.txt`));
    process.stdout.write(`done ${part.index}\n`);
    return { index: part.index, pid: process.pid };
  },
  {
    queue,
    onError: (e) => process.stderr.write(`stub worker ${process.pid}: ${e.message}\n`),
    ...(process.env.STUB_CLOSE_TIMEOUT_MS && { closeTimeoutMs: Number(process.env.STUB_CLOSE_TIMEOUT_MS) }),
  },
);
process.stdout.write(`ready ${JSON.stringify(worker.settings)}\n`);
process.once('SIGTERM', () => {
  process.stdout.write('closing\n');
  worker.close({ abort: process.env.STUB_ON_SIGTERM === 'abort' }).then(
    () => {
      process.stdout.write('closed\n');
      if (process.env.STUB_EXIT_AFTER_CLOSE) process.exit(0); // as a command does (PartWorker.close)
    },
    (e) => {
      process.stderr.write(`close failed: ${e.message}\n`);
      process.exitCode = 1;
    },
  );
});
