// The collection pipeline spread over machines with BullMQ on Redis (issue 25, item 5; docs/datasets.md,
// "Scaling out with BullMQ"): a run is one BullMQ flow, a parent job for the run and one child job per
// part; workers on the GPU machines take part jobs, the process that enqueued the run watches them.
//
// An adapter at the edge (package export `wgsl-vit/adapters/bullmq`): nothing of src/ imports it, so the
// library never needs Redis. bullmq and ioredis (its Redis driver, an optional peer of bullmq 6) are
// optional peer dependencies of the package, loaded with `await import()` on first use: without them
// the package works and this module's functions reject with an error saying what to install. This
// file imports nothing of the project, so its declarations mention no bullmq type either and compile
// where bullmq is not installed.
//
// Delivery is at least once: a part whose worker died (or stalled) runs again on another worker, so
// a handler must be idempotent and write atomically (a temporary name renamed into place, as the
// pipeline's writers do: src/pipeline/writers/output.ts): a part done twice then yields the same files.
import type { FlowJob, FlowProducer, Job, Queue, Worker } from 'bullmq';

/** The queue of part jobs unless an option names another; the run (parent) jobs go to `<name>-runs`. */
export const DEFAULT_QUEUE = 'wgsl-vit-parts';

/**
 * The defaults of the worker's lock and stall settings and of a part's retries, chosen for parts that
 * take minutes (one webdataset shard, thousands of images, through a model on a GPU):
 *
 * - `lockDurationMs` 120 s. A worker holds a lock on each job it runs and renews it from a timer on
 *   the main thread's event loop (every lockDuration/4–lockDuration/2). If that loop is blocked longer
 *   than about half the lock (a synchronous shader compilation, a big synchronous write), the lock
 *   expires while the part is still running, another worker takes it and the part runs twice. With
 *   120 s, ~60 s of blocking are survived; decoding runs in worker threads, so the loop stays free.
 *   The price: a part whose worker was SIGKILLed (or lost its machine) waits for its lock to expire
 *   before another worker takes it, so at most lockDuration + stalledInterval (≈ 2.5 min) are lost,
 *   small beside a multi-minute part.
 * - `stalledIntervalMs` 30 s (BullMQ's own default): how often a worker's stalled-jobs checker looks
 *   for active jobs whose lock has expired and moves them back to wait.
 * - `maxStalledCount` 2: a part may be taken back from a dead worker twice; the third stall fails it
 *   ("job stalled more than allowable limit"), so a part that kills its worker every time (a shard that
 *   exhausts memory) fails rather than cycling through every machine forever. BullMQ's default is 1;
 *   2 tolerates one preempted machine and one crash of the same part.
 * - `attempts` 3 with exponential backoff from `backoffMs` 10 s (10 s, 20 s): a part whose handler
 *   throws is retried twice (a transient read error of a shard over HTTP, a full disk freed), then
 *   fails with the handler's message.
 *
 * Each can be set by an option, or for a worker by the environment (WGSL_VIT_QUEUE_LOCK_MS,
 * WGSL_VIT_QUEUE_STALL_MS, WGSL_VIT_QUEUE_MAX_STALLED; an option wins), so that tests of a CLI can
 * shorten them.
 */
export const QUEUE_DEFAULTS = {
  lockDurationMs: 120_000,
  stalledIntervalMs: 30_000,
  maxStalledCount: 2,
  attempts: 3,
  backoffMs: 10_000,
} as const;

/** The environment variables that set a worker's lock and stall settings (a number of ms, a count). */
export const QUEUE_ENV = {
  lockDurationMs: 'WGSL_VIT_QUEUE_LOCK_MS',
  stalledIntervalMs: 'WGSL_VIT_QUEUE_STALL_MS',
  maxStalledCount: 'WGSL_VIT_QUEUE_MAX_STALLED',
} as const;

/** An error of the queue: Redis unreachable, a run that does not exist or differs, bullmq missing. */
export class QueueError extends Error {
  override name = 'QueueError';
}

/**
 * Thrown by a part handler for a failure that retrying cannot mend (a part whose data is invalid):
 * the part fails at once with this message instead of using its remaining attempts.
 */
export class UnrecoverablePartError extends Error {
  override name = 'UnrecoverablePartError';
}

/** A Redis URL taken apart (parseQueueUrl). */
export interface QueueUrl {
  host: string;
  port: number;
  db: number;
  /** The URL in its normal form, without credentials (for messages): `redis://host:port/db`. */
  url: string;
  username?: string;
  password?: string;
  /** `rediss://`: TLS. */
  tls: boolean;
}

/**
 * Parses `redis://host[:port][/db]` (port 6379 and db 0 by default; `rediss://` for TLS;
 * `redis://user:password@host…` for ACL credentials). Anything else is an Error naming the URL and
 * what is wrong with it.
 */
export function parseQueueUrl(url: string): QueueUrl {
  const bad = (why: string) => new QueueError(`bad Redis URL ${JSON.stringify(url)}: ${why}`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad('not a URL (expected redis://host:port/db, e.g. redis://127.0.0.1:6379/0)');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw bad(`the scheme is ${u.protocol.replace(/:$/, '')}, not redis (or rediss)`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw bad('no host (expected redis://host:port/db)');
  const port = u.port === '' ? 6379 : Number(u.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`port ${u.port} is not in 1…65535`);
  const path = u.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,5}$/.test(path))
    throw bad(`the path /${path} is not a database number (expected /0, /1, …)`);
  const db = path === '' ? 0 : Number(path);
  if (u.search || u.hash) throw bad('a query or fragment is not supported');
  const out: QueueUrl = {
    host,
    port,
    db,
    url: `${u.protocol}//${u.host.replace(/:\d+$/, '')}:${port}/${db}`,
    tls: u.protocol === 'rediss:',
  };
  if (u.username) out.username = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  return out;
}

// ---- the optional peers --------------------------------------------------------------------------

type Bullmq = typeof import('bullmq');

const INSTALL = 'the --queue option needs the bullmq and ioredis packages: npm install bullmq ioredis';

function isMissing(e: unknown, pkg: string): boolean {
  const err = e as { code?: string; message?: string };
  return (
    (err?.code === 'ERR_MODULE_NOT_FOUND' || err?.code === 'MODULE_NOT_FOUND') &&
    new RegExp(`['"]${pkg}['"/]`).test(err.message ?? '')
  );
}

async function load<T>(pkg: 'bullmq' | 'ioredis', imp: () => Promise<T>): Promise<T> {
  try {
    return await imp();
  } catch (e) {
    if (isMissing(e, pkg)) throw new QueueError(`${INSTALL} (${pkg} is not installed)`, { cause: e });
    throw e;
  }
}

const loadBullmq = (): Promise<Bullmq> => load('bullmq', () => import('bullmq'));
const loadIoredis = () => load('ioredis', () => import('ioredis'));

// ---- Redis ---------------------------------------------------------------------------------------

/** The connection options bullmq and ioredis take for a parsed URL. */
function connection(u: QueueUrl) {
  return {
    host: u.host,
    port: u.port,
    db: u.db,
    ...(u.username !== undefined && { username: u.username }),
    ...(u.password !== undefined && { password: u.password }),
    ...(u.tls && { tls: {} }),
  };
}

/** A short reason from a connection error (ioredis wraps some; AggregateError holds several). */
function reasonOf(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length) return reasonOf(e.errors[0]);
  return e instanceof Error ? e.message : String(e);
}

/**
 * Connects to the Redis at `url` and PINGs it. Rejects with a QueueError
 * `Redis at redis://host:port/db is unreachable: <reason>` when it cannot connect or does not answer
 * within `timeoutMs` (never a hang), or `… answered with an error` when it refuses (a wrong password,
 * a database number out of range). The connection is closed either way, so the process can exit.
 */
export async function checkRedis(url: string, timeoutMs = 5000): Promise<void> {
  const u = parseQueueUrl(url);
  const { Redis } = await loadIoredis();
  const client = new Redis({
    ...connection(u),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    disconnectTimeout: 500, // a server that stopped answering gets its socket destroyed soon, not after 2 s
  });
  let lastError: unknown;
  client.on('error', (e) => (lastError = e)); // reported through connect()'s rejection
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([
      (async () => {
        await client.connect();
        const pong = await client.ping();
        if (pong !== 'PONG') throw new Error(`PING answered ${JSON.stringify(pong)}, not PONG`);
        // ioredis selects the database as it connects, but only reports a failure as an 'error' event.
        if (u.db !== 0) await client.select(u.db);
        await client.quit();
      })(),
      timeout,
    ]);
  } catch (e) {
    const replied = (e as { name?: string }).name === 'ReplyError';
    // ioredis rejects connect() with "Connection is closed." after the socket's own error
    // (ECONNREFUSED, ENOTFOUND…), which its 'error' event carried: that one names the cause.
    const reason = lastError !== undefined && !replied ? reasonOf(lastError) : reasonOf(e);
    throw new QueueError(`Redis at ${u.url} ${replied ? 'answered with an error' : 'is unreachable'}: ${reason}`, {
      cause: e,
    });
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

/**
 * Resolves `p`, or rejects with a QueueError naming the URL when Redis does not answer within `ms`
 * or the request fails (a connection lost midway).
 */
async function answered<T>(p: Promise<T>, u: QueueUrl, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new QueueError(`Redis at ${u.url} stopped answering: ${what} had no reply within ${ms} ms`)),
          ms,
        );
      }),
    ]);
  } catch (e) {
    if (e instanceof QueueError) throw e;
    throw new QueueError(`Redis at ${u.url}: ${what} failed: ${reasonOf(e)}`, { cause: e });
  } finally {
    clearTimeout(timer);
  }
}

// ---- runs ----------------------------------------------------------------------------------------

/** A run to enqueue: its parameters (JSON) and its parts, each with its index and data (JSON). */
export interface Run {
  /** Letters, digits, `.`, `_`, `-` (up to 128): the job ids are made from it. */
  runId: string;
  /** The run's parameters (the model, the output folder…), given to every part's handler. JSON. */
  data: unknown;
  parts: { index: number; data: unknown }[];
}

/** Options of enqueueRun. */
export interface EnqueueOptions {
  /** The part queue (default DEFAULT_QUEUE); the run's parent job goes to `<queue>-runs`. */
  queue?: string;
  /** Tries of a part whose handler throws (default QUEUE_DEFAULTS.attempts). */
  attempts?: number;
  /** The first retry's delay; each next one doubles (default QUEUE_DEFAULTS.backoffMs). */
  backoffMs?: number;
  /** How long Redis may take to answer the connection check (default 5000 ms). */
  timeoutMs?: number;
  /** How long Redis may take to answer each request after it (default 30 s). */
  requestTimeoutMs?: number;
}

/** What enqueueRun did: parts newly added, parts already there, failed parts put back to run again. */
export interface EnqueueResult {
  added: number;
  existing: number;
  retried: number;
}

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The parent (run) job's id. BullMQ refuses a custom id that is an integer or holds a `:`. */
export const runJobId = (runId: string): string => `${runId}.run`;
/** A part's job id, the same on every enqueue of the run, so that enqueueing twice adds nothing. */
export const partJobId = (runId: string, index: number): string => `${runId}.part-${index}`;

/** The data of a run's parent job. */
interface RunJobData {
  runId: string;
  run: unknown;
  parts: number[];
}

/** The data of a part job. */
interface PartJobData {
  runId: string;
  run: unknown;
  part: { index: number; data: unknown };
}

function checkQueueName(queue: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(queue))
    throw new QueueError(`bad queue name ${JSON.stringify(queue)}: letters, digits, '.', '_', '-' only`);
  return queue;
}

function checkRunId(runId: string): void {
  if (typeof runId !== 'string' || !RUN_ID.test(runId))
    throw new QueueError(
      `bad run id ${JSON.stringify(runId)}: 1–128 letters, digits, '.', '_', '-' (starting with a letter or digit)`,
    );
}

const positiveInt = (v: number | undefined, name: string, min = 1): number | undefined => {
  if (v !== undefined && (!Number.isInteger(v) || v < min))
    throw new QueueError(`${name} must be an integer ≥ ${min}, not ${String(v)}`);
  return v;
};

function json(value: unknown, what: string): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(value);
  } catch (e) {
    throw new QueueError(`${what} is not JSON: ${reasonOf(e)}`);
  }
  if (s === undefined) throw new QueueError(`${what} is not JSON (${typeof value})`);
  return s;
}

/** Opens what a function of this module needs, and closes all of it afterwards whatever happens. */
async function withQueues<T>(
  u: QueueUrl,
  queue: string,
  use: (q: { parts: Queue; runs: Queue; bull: Bullmq }) => Promise<T>,
): Promise<T> {
  const bull = await loadBullmq();
  const opts = { connection: connection(u) };
  const parts = new bull.Queue(queue, opts);
  const runs = new bull.Queue(`${queue}-runs`, opts);
  const swallow = () => {}; // connection errors surface as rejected requests (or the timeouts here)
  parts.on('error', swallow);
  runs.on('error', swallow);
  try {
    return await use({ parts, runs, bull });
  } finally {
    // A Redis that went away leaves close() pending forever (its QUIT never answered): wait a few
    // seconds, then drop the connections.
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      Promise.allSettled([parts.close(), runs.close()]).then(() => true),
      new Promise<false>((r) => (timer = setTimeout(() => r(false), 2000))),
    ]);
    clearTimeout(timer);
    if (!closed) void Promise.allSettled([parts.disconnect(), runs.disconnect()]);
  }
}

/**
 * Enqueues a run: one BullMQ flow, a parent job `<runId>.run` in `<queue>-runs` holding the run's
 * parameters and its part indices, and a child job `<runId>.part-<index>` per part in `queue`, each
 * holding the run's parameters and its part. The ids are deterministic, so enqueueing the same run
 * again adds only what is missing and never duplicates a part; parts that failed (after their
 * attempts) are put back to run again, with their attempts reset. A run id already there with other
 * parameters or other parts is refused (a QueueError naming what differs). Redis unreachable: a
 * QueueError within `timeoutMs`.
 */
export async function enqueueRun(url: string, run: Run, opts: EnqueueOptions = {}): Promise<EnqueueResult> {
  const u = parseQueueUrl(url);
  const queue = checkQueueName(opts.queue ?? DEFAULT_QUEUE);
  checkRunId(run.runId);
  const attempts = positiveInt(opts.attempts, 'attempts') ?? QUEUE_DEFAULTS.attempts;
  const backoffMs = positiveInt(opts.backoffMs, 'backoffMs', 0) ?? QUEUE_DEFAULTS.backoffMs;
  const timeoutMs = positiveInt(opts.timeoutMs, 'timeoutMs') ?? 5000;
  const requestTimeoutMs = positiveInt(opts.requestTimeoutMs, 'requestTimeoutMs') ?? 30_000;
  const runJson = json(run.data, `run ${run.runId}'s data`);
  if (!Array.isArray(run.parts)) throw new QueueError(`run ${run.runId} has no parts array`);
  const seen = new Set<number>();
  const partJson = new Map<number, string>();
  for (const p of run.parts) {
    if (!Number.isSafeInteger(p?.index) || p.index < 0)
      throw new QueueError(`run ${run.runId}: part index ${String(p?.index)} is not an integer ≥ 0`);
    if (seen.has(p.index)) throw new QueueError(`run ${run.runId}: part ${p.index} is listed twice`);
    seen.add(p.index);
    partJson.set(p.index, json(p.data, `run ${run.runId}'s part ${p.index} data`));
  }
  await checkRedis(url, timeoutMs);
  return withQueues(u, queue, async ({ parts, runs, bull }) => {
    const ask = <T>(p: Promise<T>, what: string) => answered(p, u, requestTimeoutMs, what);
    const parent = (await ask(runs.getJob(runJobId(run.runId)), 'reading the run')) as Job<RunJobData> | undefined;
    if (parent) {
      if (json(parent.data.run, 'stored run data') !== runJson)
        throw new QueueError(
          `run ${run.runId} is already in queue ${queue} at ${u.url} with other parameters (there: ${json(parent.data.run, '')}, now: ${runJson}); use another run id, or removeRun it first`,
        );
      const there = [...parent.data.parts].sort((a, b) => a - b).join(',');
      const now = run.parts
        .map((p) => p.index)
        .sort((a, b) => a - b)
        .join(',');
      if (there !== now)
        throw new QueueError(
          `run ${run.runId} is already in queue ${queue} at ${u.url} with other parts (there: ${there}, now: ${now})`,
        );
    }
    const before = (await ask(
      Promise.all(run.parts.map((p) => parts.getJob(partJobId(run.runId, p.index)))),
      'reading the parts',
    )) as (Job<PartJobData> | undefined)[];
    for (const job of before)
      if (job && json(job.data?.part?.data ?? null, '') !== partJson.get(job.data?.part?.index))
        throw new QueueError(
          `run ${run.runId} is already in queue ${queue} at ${u.url}, and part ${job.data?.part?.index ?? job.id} has other data there`,
        );
    const flow: FlowJob = {
      name: 'run',
      queueName: `${queue}-runs`,
      data: { runId: run.runId, run: run.data, parts: run.parts.map((p) => p.index) } satisfies RunJobData,
      opts: { jobId: runJobId(run.runId) },
      children: run.parts.map((p) => ({
        name: 'part',
        queueName: queue,
        data: { runId: run.runId, run: run.data, part: { index: p.index, data: p.data } } satisfies PartJobData,
        opts: {
          jobId: partJobId(run.runId, p.index),
          attempts,
          backoff: { type: 'exponential', delay: backoffMs },
        },
      })),
    };
    const producer: FlowProducer = new bull.FlowProducer({ connection: connection(u) });
    producer.on('error', () => {});
    try {
      await ask(producer.add(flow), 'adding the run');
    } finally {
      await producer.close();
    }
    let retried = 0;
    for (const job of before)
      if (job && (await ask(job.getState(), 'reading a part')) === 'failed') {
        await ask(job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true }), 'retrying a part');
        retried++;
      }
    const existing = before.filter(Boolean).length;
    return { added: run.parts.length - existing, existing, retried };
  });
}

/** Removes a run (its parent job and every part job) from the queue, e.g. before enqueueing it anew. */
export async function removeRun(
  url: string,
  runId: string,
  opts: { queue?: string; timeoutMs?: number; requestTimeoutMs?: number } = {},
): Promise<void> {
  const u = parseQueueUrl(url);
  const queue = checkQueueName(opts.queue ?? DEFAULT_QUEUE);
  checkRunId(runId);
  const timeoutMs = positiveInt(opts.timeoutMs, 'timeoutMs') ?? 5000;
  const requestTimeoutMs = positiveInt(opts.requestTimeoutMs, 'requestTimeoutMs') ?? 30_000;
  await checkRedis(url, timeoutMs);
  await withQueues(u, queue, async ({ parts, runs }) => {
    const ask = <T>(p: Promise<T>, what: string) => answered(p, u, requestTimeoutMs, what);
    const parent = (await ask(runs.getJob(runJobId(runId)), 'reading the run')) as Job<RunJobData> | undefined;
    if (!parent) return;
    try {
      await ask(parent.remove({ removeChildren: true }), 'removing the run');
    } catch (e) {
      const cause = (e as Error).cause; // a refusal (a part locked by a worker), not a Redis gone silent
      if (cause === undefined) throw e;
      throw new QueueError(`run ${runId} could not be removed (a part still running?): ${reasonOf(cause)}`, { cause });
    }
    for (const index of parent.data.parts) await ask(parts.remove(partJobId(runId, index)), 'removing a part'); // any left behind
  });
}

/** A run's state, given to watchRun's onProgress after each poll. */
export interface RunStatus {
  total: number;
  /** Parts completed. */
  done: number;
  /** Parts that failed after their attempts (or stalled too often). */
  failed: number;
  /** Parts a worker is running now. */
  active: number;
  /** Parts waiting for a worker (or for their retry's backoff). */
  waiting: number;
  /** The progress that the running parts' handlers last reported (ctx.progress), by part index. */
  progress: { index: number; value: number | object }[];
}

/** Options of watchRun. */
export interface WatchOptions {
  queue?: string;
  onProgress?(status: RunStatus): void;
  /** Stops watching: watchRun rejects with the signal's reason (the run itself goes on). */
  signal?: AbortSignal;
  /** Time between polls (default 1000 ms). */
  pollMs?: number;
  /** How long Redis may take to answer the connection check (default 5000 ms). */
  timeoutMs?: number;
  /** How long Redis may take to answer each request of a poll (default 30 s): a Redis that stops answering is a QueueError. */
  requestTimeoutMs?: number;
}

/** How a run ended: the parts completed (their handlers' results by index) and the parts that failed. */
export interface RunResult {
  done: number[];
  failed: { index: number; reason: string }[];
  /** Each completed part's handler result (JSON), by part index. */
  results: Record<number, unknown>;
}

/**
 * Watches a run until every part has completed or failed after its attempts, calling onProgress
 * after each poll; resolves with the completed part indices and the failed ones with BullMQ's
 * failedReason (the handler's error message, or `job stalled more than allowable limit`). A run id
 * not in the queue is a QueueError; so is Redis not answering (within timeoutMs at the start,
 * requestTimeoutMs later).
 */
export async function watchRun(url: string, runId: string, opts: WatchOptions = {}): Promise<RunResult> {
  const u = parseQueueUrl(url);
  const queue = checkQueueName(opts.queue ?? DEFAULT_QUEUE);
  checkRunId(runId);
  const pollMs = positiveInt(opts.pollMs, 'pollMs') ?? 1000;
  const timeoutMs = positiveInt(opts.timeoutMs, 'timeoutMs') ?? 5000;
  const requestTimeoutMs = positiveInt(opts.requestTimeoutMs, 'requestTimeoutMs') ?? 30_000;
  const { signal } = opts;
  signal?.throwIfAborted();
  await checkRedis(url, timeoutMs);
  return withQueues(u, queue, async ({ parts, runs }) => {
    const ask = <T>(p: Promise<T>, what: string) => answered(p, u, requestTimeoutMs, what);
    const parent = (await ask(runs.getJob(runJobId(runId)), 'reading the run')) as Job<RunJobData> | undefined;
    if (!parent) throw new QueueError(`no run ${runId} in queue ${queue} at ${u.url}`);
    const indices = [...parent.data.parts].sort((a, b) => a - b);
    const done = new Map<number, unknown>();
    const failed = new Map<number, string>();
    for (;;) {
      const open = indices.filter((i) => !done.has(i) && !failed.has(i));
      const progress: RunStatus['progress'] = [];
      let active = 0;
      for (let at = 0; at < open.length; at += 500) {
        const batch = open.slice(at, at + 500);
        const jobs = await ask(
          Promise.all(
            batch.map(async (i) => {
              const job = (await parts.getJob(partJobId(runId, i))) as Job<PartJobData> | undefined;
              return { i, job, state: job ? await job.getState() : 'missing' };
            }),
          ),
          'polling the parts',
        );
        for (const { i, job, state } of jobs) {
          if (!job) failed.set(i, `its job ${partJobId(runId, i)} is missing from queue ${queue} (removed?)`);
          else if (state === 'completed') done.set(i, job.returnvalue);
          else if (state === 'failed') failed.set(i, job.failedReason || 'failed (no reason recorded)');
          else if (state === 'active') {
            active++;
            if (job.progress !== undefined && job.progress !== 0)
              progress.push({ index: i, value: job.progress as number | object });
          }
        }
      }
      const status: RunStatus = {
        total: indices.length,
        done: done.size,
        failed: failed.size,
        active,
        waiting: indices.length - done.size - failed.size - active,
        progress,
      };
      opts.onProgress?.(status);
      if (done.size + failed.size === indices.length) break;
      await sleep(pollMs, signal);
    }
    return {
      done: [...done.keys()].sort((a, b) => a - b),
      failed: [...failed].sort((a, b) => a[0] - b[0]).map(([index, reason]) => ({ index, reason })),
      results: Object.fromEntries([...done].sort((a, b) => a[0] - b[0])),
    };
  });
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// ---- workers -------------------------------------------------------------------------------------

/** What a part handler is given about its job. */
export interface PartContext {
  /** The BullMQ job id, `<runId>.part-<index>`. */
  jobId: string;
  runId: string;
  /** 1 on the first try; more after a failure (a stall does not count). */
  attempt: number;
  /** Reports progress (job.updateProgress): a number (e.g. a percentage) or a JSON object. */
  progress(value: number | object): Promise<void>;
  /**
   * Aborted when the worker is closed with `{ abort: true }` (e.g. a second SIGTERM): stop soon and
   * throw; the part is then released to the queue for another worker, without using an attempt.
   */
  signal: AbortSignal;
}

/**
 * A part handler: runs one part of a run and returns its result (JSON: kept as the job's return
 * value, watchRun's `results`). At-least-once: it may run again for the same part (after its worker
 * died, or on a retry), so it must be idempotent and write its outputs atomically (a temporary name
 * renamed into place). Throwing fails this attempt (retried with backoff up to `attempts`);
 * throwing an UnrecoverablePartError fails the part at once.
 */
export type PartHandler = (
  data: { run: unknown; part: { index: number; data: unknown } },
  ctx: PartContext,
) => Promise<unknown>;

/** Options of startWorker. Lock and stall settings: QUEUE_DEFAULTS says which and why. */
export interface WorkerOptions {
  queue?: string;
  /** Parts run at once by this process (default 1: one device per process). */
  concurrency?: number;
  /** Default: WGSL_VIT_QUEUE_LOCK_MS, else QUEUE_DEFAULTS.lockDurationMs. */
  lockDurationMs?: number;
  /** Default: WGSL_VIT_QUEUE_STALL_MS, else QUEUE_DEFAULTS.stalledIntervalMs. */
  stalledIntervalMs?: number;
  /** Default: WGSL_VIT_QUEUE_MAX_STALLED, else QUEUE_DEFAULTS.maxStalledCount. */
  maxStalledCount?: number;
  /** How long Redis may take to answer the connection check at start (default 5000 ms). */
  timeoutMs?: number;
  /**
   * How long close() waits, once the handlers have settled, for BullMQ to record the parts and close
   * its connections (default 10 s); past it (Redis gone) the connections are dropped, so the process
   * can still exit, and a part not recorded as done is taken again once its lock expires.
   */
  closeTimeoutMs?: number;
  /** Errors of the worker itself (a lost connection, a lock that could not be renewed); default: printed to stderr. */
  onError?: (error: Error) => void;
  /** The environment read for the settings' defaults (default process.env). */
  env?: Record<string, string | undefined>;
}

/** A running worker (startWorker). */
export interface PartWorker {
  /**
   * Stops taking parts and resolves once the current ones are settled and the connections closed:
   * by default they run to their end (BullMQ's graceful close; what SIGTERM should call). With
   * `{ abort: true }` (also after a graceful close began, e.g. on a second signal) the handlers'
   * signals abort, and a part whose handler then throws is released back to the queue at once.
   * When Redis has gone away, close() still resolves, closeTimeoutMs after the last handler settled
   * (reported through onError), but BullMQ's own timers (lock renewal, stalled checks) may then keep
   * the process alive: a command should exit (process.exit) once close() has resolved.
   */
  close(opts?: { abort?: boolean }): Promise<void>;
  /** Whether close() was called. */
  readonly closing: boolean;
  /** The settings in effect (options, else the environment, else QUEUE_DEFAULTS). */
  readonly settings: {
    concurrency: number;
    lockDurationMs: number;
    stalledIntervalMs: number;
    maxStalledCount: number;
  };
}

/** The worker's lock and stall settings from its options, the environment and the defaults. */
export function workerSettings(opts: WorkerOptions = {}): PartWorker['settings'] {
  const env = opts.env ?? process.env;
  const pick = (key: keyof typeof QUEUE_ENV, min: number): number => {
    const given = positiveInt(opts[key], key, min);
    if (given !== undefined) return given;
    const raw = env[QUEUE_ENV[key]];
    if (raw !== undefined && raw !== '') {
      if (!/^\d+$/.test(raw.trim()) || Number(raw) < min)
        throw new QueueError(`${QUEUE_ENV[key]}=${JSON.stringify(raw)} is not an integer ≥ ${min}`);
      return Number(raw);
    }
    return QUEUE_DEFAULTS[key];
  };
  return {
    concurrency: positiveInt(opts.concurrency, 'concurrency') ?? 1,
    lockDurationMs: pick('lockDurationMs', 1),
    stalledIntervalMs: pick('stalledIntervalMs', 1),
    maxStalledCount: pick('maxStalledCount', 0),
  };
}

/**
 * Starts a BullMQ worker on the part queue: it takes part jobs (never the runs' parent jobs, which
 * live in `<queue>-runs`), calls `handler` with the run's parameters and the part, and records its
 * result, or its failure for a retry. Rejects with a QueueError when Redis is unreachable (within
 * timeoutMs) or a setting is invalid. See PartWorker.close for SIGTERM.
 */
export async function startWorker(url: string, handler: PartHandler, opts: WorkerOptions = {}): Promise<PartWorker> {
  const u = parseQueueUrl(url);
  const queue = checkQueueName(opts.queue ?? DEFAULT_QUEUE);
  const settings = workerSettings(opts);
  const timeoutMs = positiveInt(opts.timeoutMs, 'timeoutMs') ?? 5000;
  const closeTimeoutMs = positiveInt(opts.closeTimeoutMs, 'closeTimeoutMs') ?? 10_000;
  await checkRedis(url, timeoutMs);
  const bull = await loadBullmq();
  const running = new Set<AbortController>();
  // Parts being processed (the handler and what follows it: recording, releasing), and who waits for none.
  let inProcessor = 0;
  const idle: (() => void)[] = [];
  const whenIdle = () => (inProcessor === 0 ? Promise.resolve() : new Promise<void>((r) => idle.push(r)));
  let releasing = false;
  const processor = async (job: Job<PartJobData>, token?: string, jobSignal?: AbortSignal): Promise<unknown> => {
    const part = job.data?.part as PartJobData['part'] | undefined;
    if (!Number.isSafeInteger(part?.index))
      throw new bull.UnrecoverableError(
        `job ${job.id} in queue ${queue} is not a wgsl-vit part (no part index in its data)`,
      );
    const ac = new AbortController();
    const onCancel = () => ac.abort(jobSignal?.reason);
    jobSignal?.addEventListener('abort', onCancel, { once: true });
    running.add(ac);
    inProcessor++;
    if (releasing) ac.abort(new Error('worker closing'));
    try {
      return await handler(
        { run: job.data.run, part: job.data.part },
        {
          jobId: job.id!,
          runId: job.data.runId,
          attempt: job.attemptsMade + 1,
          progress: (value) => job.updateProgress(value),
          signal: ac.signal,
        },
      );
    } catch (e) {
      if (releasing && ac.signal.aborted && token) {
        await job.moveToWait(token); // back to the queue, no attempt used
        throw new bull.WaitingError();
      }
      if (e instanceof UnrecoverablePartError) throw new bull.UnrecoverableError(e.message);
      throw e;
    } finally {
      running.delete(ac);
      jobSignal?.removeEventListener('abort', onCancel);
      if (--inProcessor === 0) idle.splice(0).forEach((r) => r());
    }
  };
  const worker: Worker = new bull.Worker(queue, processor, {
    connection: connection(u),
    concurrency: settings.concurrency,
    lockDuration: settings.lockDurationMs,
    stalledInterval: settings.stalledIntervalMs,
    maxStalledCount: settings.maxStalledCount,
    autorun: true,
  });
  const onError =
    opts.onError ?? ((e: Error) => process.stderr.write(`wgsl-vit worker (${u.url}, ${queue}): ${e.message}\n`));
  worker.on('error', (e) => onError(e));
  let closing: Promise<void> | undefined;
  return {
    settings,
    get closing() {
      return closing !== undefined;
    },
    close({ abort = false } = {}) {
      if (abort) {
        releasing = true;
        for (const ac of running) ac.abort(new Error('worker closing'));
      }
      closing ??= (async () => {
        const graceful = worker.close().then(
          () => true,
          (e: Error) => (onError(e), true),
        );
        await whenIdle(); // no new part starts: the worker is closing
        let timer: NodeJS.Timeout | undefined;
        const closed = await Promise.race([
          graceful,
          new Promise<false>((r) => (timer = setTimeout(() => r(false), closeTimeoutMs))),
        ]);
        clearTimeout(timer);
        if (!closed) {
          onError(
            new QueueError(
              `Redis at ${u.url} did not answer within ${closeTimeoutMs} ms of the last part's end while the worker closed: its connections are dropped (a part not recorded as done is taken again once its lock expires)`,
            ),
          );
          await Promise.race([worker.disconnect().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
        }
      })();
      return closing;
    },
  };
}
