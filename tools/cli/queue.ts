// The queue side of `embed-dataset --queue` (the coordinator) and `wgsl-vit worker`: BullMQ on Redis,
// through the adapter src/adapters/bullmq.ts (docs/datasets.md, "Scaling out"). The library's
// pipeline knows nothing of it: a job is one part index of a run, and a worker runs the same
// embedDataset as a single process does, restricted to that part.
import { datasetProgress } from './dataset.js';
import { isUrl } from '../../src/pipeline/sources/http.js';
import type { Part } from '../../src/pipeline/sources/types.js';
import type { EmbeddingDtype } from '../../src/pipeline/writers/format.js';
import type { ModelDType } from '../../src/model/dtype.js';

/** A run as its jobs carry it: everything a worker needs to redo exactly what a single process would. */
export interface RunJob {
  weights: string;
  config: string;
  output: string;
  modelHash: string;
  embDtype: EmbeddingDtype;
  normalize: boolean;
  batchSize: number;
  partSize: number | null;
  strict: boolean;
  captions: boolean;
  dtype: ModelDType | null;
  overwrite: boolean;
  /** The SOURCE arguments, as given (a worker opens them itself: paths every worker sees, or URLs). */
  sources?: string[];
}

/**
 * Opens the output (refusing other parameters, unless overwrite), enqueues one job per part not yet
 * done (one flow per run), and shows the run's progress until every part is done or has failed.
 */
export async function enqueueDataset(o: {
  queue: string;
  sources: string[];
  parts: Part[];
  run: RunJob;
  json: boolean;
}): Promise<number> {
  const q = await import('../../src/adapters/bullmq.js');
  const { runParams } = await import('../../src/pipeline/run.js');
  const { openOutput } = await import('../../src/pipeline/writers/output.js');
  const { createHash } = await import('node:crypto');
  const path = await import('node:path');
  await q.checkRedis(o.queue);
  // Absolute paths: a worker runs in another folder (on another machine, where the same paths hold).
  const abs = (p: string) => (isUrl(p) ? p : path.resolve(p));
  const run: RunJob = {
    ...o.run,
    weights: abs(o.run.weights),
    config: abs(o.run.config),
    output: abs(o.run.output),
    sources: o.sources.map(abs),
    overwrite: false,
  };
  const params = await runParams(run.weights, run.config, {
    modelHash: run.modelHash,
    dtype: run.dtype ?? undefined,
    embDtype: run.embDtype,
    normalize: run.normalize,
  });
  const output = await openOutput(run.output, params, { overwrite: o.run.overwrite });
  const done = new Set(await output.doneParts());
  const todo = o.parts.filter((p) => !done.has(p.index));
  // Every part is enqueued, done or not (the run's part list is its identity in the queue); a worker
  // given a part already done finds its record and returns at once.
  // The run's id: what it does and which parts it still has to do. Rerunning the same command while
  // nothing has finished joins the same run (its parts' job ids are the same: none is queued twice).
  // Once parts have finished, a rerun is a new run for what is left (a completed job of the old run
  // would not run again, even if its part's files had gone); its parts already done, and the old
  // run's jobs still queued, find their part's record and return at once. --overwrite always starts a
  // new run (the old run's jobs completed for files that overwrite has removed).
  const runId = createHash('sha256')
    .update(JSON.stringify({ run, todo: todo.map((p) => p.index), fresh: o.run.overwrite ? Date.now() : null }))
    .digest('hex')
    .slice(0, 16);
  const t0 = performance.now();
  if (todo.length) {
    const e = await q.enqueueRun(o.queue, {
      runId,
      data: run,
      parts: o.parts.map((p) => ({ index: p.index, data: { id: p.id } })),
    });
    console.error(
      `wgsl-vit embed-dataset: run ${runId}: ${todo.length} parts on ${o.queue} (${e.added} added, ${e.existing} already queued, ${e.retried} failed ones retried; ${done.size} already done); start \`wgsl-vit worker --queue ${o.queue}\` where the GPUs are`,
    );
  }
  const bar = await datasetProgress(!o.json);
  const result = todo.length
    ? await q.watchRun(o.queue, runId, {
        requestTimeoutMs: 30_000,
        onProgress: (s) =>
          bar.update({
            part: -1,
            samples: 0,
            failed: s.failed,
            partsDone: s.done,
            partsTotal: s.total,
            imagesPerSecond: 0,
          }),
      })
    : { done: [] as number[], failed: [] as { index: number; reason: string }[] };
  bar.stop();
  const manifest = await output.refreshManifest();
  const seconds = (performance.now() - t0) / 1000;
  const rows = Object.values(manifest.parts).reduce((a, p) => a + p.rows, 0);
  const failedRows = Object.values(manifest.parts).reduce((a, p) => a + p.failed, 0);
  const summary = {
    output: run.output,
    runId,
    parts: { total: o.parts.length, done: Object.keys(manifest.parts).length, failed: result.failed.length },
    embedded: rows,
    failed: failedRows,
    failedParts: result.failed,
    seconds,
  };
  if (o.json) console.log(JSON.stringify(summary, null, 2));
  console.error(
    `wgsl-vit embed-dataset: ${summary.parts.done} of ${summary.parts.total} parts done (${rows} images, ${failedRows} left out) in ${seconds.toFixed(1)} s; into ${run.output}`,
  );
  for (const f of result.failed) console.error(`  part ${f.index} failed after its retries: ${f.reason}`);
  // The files are the truth: a part the queue calls done must have its record in OUT.
  const failed = new Set(result.failed.map((f) => f.index));
  const missing = o.parts.filter((p) => !(String(p.index) in manifest.parts) && !failed.has(p.index));
  for (const p of missing)
    console.error(
      `  part ${p.index} (${p.id}): the queue reports it done, but OUT has no record of it; rerun to redo it`,
    );
  return result.failed.length || missing.length ? 1 : 0;
}
