// `wgsl-vit worker --queue redis://…`: takes part jobs of `embed-dataset --queue` runs and embeds
// each as a single process would (the same embedDataset, restricted to that part), writing where the
// job says. One device per process; the model of a run is loaded once and kept while jobs of the
// same files come; a job whose weights / config hash differs from the one this machine's files give
// is refused (the part fails at once: the run's files are the same paths everywhere, so a retry
// cannot mend it). SIGTERM / SIGINT: no new job is
// taken, the current part is finished, then the worker exits 0 (a second signal aborts the part,
// which BullMQ then gives to another worker). The help text is at the end.
import { loadEmbeddingModel } from './dataset.js';
import { help, intOption, parse, required, UsageError, type Command } from './common.js';
import type { RunJob } from './queue.js';
import { isUrl } from '../../src/pipeline/sources/http.js';
import { requestDevice, splitDawnFlags } from '../../src/device.js';
import type { EmbeddingModel } from '../../src/pipeline/run.js';
import type { DecodePool } from '../../src/pipeline/decode/pool.js';

async function worker(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    'worker',
    argv,
    {
      queue: { type: 'string' },
      threads: { type: 'string' },
      flags: { type: 'string' },
      'no-cache': { type: 'boolean' },
    },
    true,
  );
  if (values.help) return help(workerCommand);
  required('worker', values, ['queue']);
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}' (see wgsl-vit worker --help)`);
  const threads = intOption('threads', values.threads);
  const q = await import('../../src/adapters/bullmq.js');
  const { embedDataset, hashModelFiles } = await import('../../src/pipeline/run.js');
  const { createDecodePool } = await import('../../src/pipeline/decode/pool.js');
  await q.checkRedis(values.queue!);
  const { device } = await requestDevice({ dawnFlags: values.flags ? splitDawnFlags(values.flags) : [] });

  let loaded: { key: string; model: EmbeddingModel; pool: DecodePool } | null = null;
  const hashes = new Map<string, string>();
  const w = await q.startWorker(values.queue!, async (data, ctx) => {
    const run = data.run as RunJob;
    const index = data.part.index;
    // Hashed once per version of the files (path, size, mtime): a file replaced meanwhile is hashed again.
    const { stat } = await import('node:fs/promises');
    const version = async (f: string) =>
      isUrl(f)
        ? f
        : await stat(f).then(
            (st) => `${f}:${st.size}:${st.mtimeMs}`,
            () => f,
          );
    const files = `${await version(run.weights)}\n${await version(run.config)}`;
    let hash = hashes.get(files);
    if (!hash) hashes.set(files, (hash = await hashModelFiles(run.weights, run.config)));
    // Not retried: the run's files are the same paths for every worker, so another try cannot mend it.
    if (hash !== run.modelHash)
      throw new q.UnrecoverablePartError(
        `this worker's ${run.weights} and ${run.config} hash to ${hash}, the run's model is ${run.modelHash}: not the same files here`,
      );
    const key = `${hash}|${run.dtype}|${run.captions}`;
    if (loaded?.key !== key) {
      if (loaded) {
        await loaded.pool.close();
        loaded.model.destroy();
        loaded = null;
      }
      const model = await loadEmbeddingModel(device, {
        weights: run.weights,
        config: run.config,
        dtype: run.dtype ?? undefined,
        cache: !values['no-cache'],
        captions: run.captions,
      });
      const { imageSize: size, mean, std } = ('vision' in model ? model.vision : model).config;
      const pool = createDecodePool({ size, normalize: { mean, std }, ...(threads ? { threads } : {}) });
      loaded = { key, model, pool };
      console.error(`wgsl-vit worker: loaded ${run.weights} (${hash.slice(0, 19)}…)`);
    }
    const summary = await embedDataset(loaded.model, run.sources!, run.output, {
      modelHash: run.modelHash,
      batchSize: run.batchSize,
      decoder: loaded.pool,
      ...(run.partSize ? { partSize: run.partSize } : {}),
      embDtype: run.embDtype,
      normalize: run.normalize,
      strict: run.strict,
      captions: 'vision' in loaded.model ? run.captions : undefined,
      parts: [index],
      signal: ctx.signal,
      onProgress: (p) => void ctx.progress({ samples: p.samples, failed: p.failed }).catch(() => {}),
    });
    if (summary.failedParts.length) throw new Error(summary.failedParts[0]!.reason);
    console.error(
      `wgsl-vit worker: part ${index} of run in ${run.output}: ${summary.embedded} images, ${summary.failed} left out, ${summary.imagesPerSecond.toFixed(1)} img/s${summary.parts.skipped ? ' (already done)' : ''}`,
    );
    return { rows: summary.embedded, failed: summary.failed, skipped: summary.parts.skipped > 0 };
  });
  const s = w.settings;
  console.error(
    `wgsl-vit worker: waiting for parts on ${values.queue} (lock ${s.lockDurationMs / 1000} s, stall check every ${s.stalledIntervalMs / 1000} s)`,
  );
  const stop = await new Promise<NodeJS.Signals>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve(sig));
  });
  console.error(`wgsl-vit worker: ${stop}: finishing the current part, taking no new one (signal again to abort it)`);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void w.close({ abort: true }));
  await w.close();
  const l = loaded as { model: EmbeddingModel; pool: DecodePool } | null;
  if (l) {
    await l.pool.close();
    l.model.destroy();
  }
  device.destroy();
  // BullMQ's timers can outlive a lost connection: the part is settled, so end here.
  process.exit(0);
}

export const workerCommand: Command = {
  name: 'worker',
  help: `usage: wgsl-vit worker --queue redis://host:port/db [--threads N] [--no-cache]
  Takes the parts of \`wgsl-vit embed-dataset --queue\` runs from BullMQ on Redis at the URL and embeds
  them, one at a time, on this machine's device, writing each where its run says (OUT and the SOURCEs
  must be at the same paths on every machine). Start one per GPU. Progress goes to the run's coordinator.
  --threads N   decode worker threads (default: the cores available - 1)
  A job whose weights / config files hash differently here than when the run was enqueued fails at once.
  SIGTERM / SIGINT: finishes the current part and exits 0; a second signal aborts it (another worker
  redoes it). A worker killed outright (SIGKILL) loses its lock: after the stall interval the part goes
  to another worker (docs/datasets.md, "Scaling out").
  Exit status: 0 stopped by a signal after its part; 1 Redis unreachable or an error; 2 a usage error.`,
  run: worker,
};
