// `wgsl-vit embed-dataset`: a collection (folders, list files, webdataset tar shards) into an output
// folder in clip-retrieval's layout, resumable; with --queue, one BullMQ job per part for
// `wgsl-vit worker` processes (tools/cli/worker.ts). The help text is at the end.
import { datasetProgress, loadEmbeddingModel, printSummary } from './dataset.js';
import {
  DTYPE_HELP,
  dtypeOption,
  help,
  intOption,
  NO_CACHE_HELP,
  parse,
  required,
  UsageError,
  type Command,
} from './common.js';
import { requestDevice, splitDawnFlags } from '../../src/device.js';
import type { EmbeddingDtype } from '../../src/pipeline/writers/format.js';

/** --emb-dtype: float16 (default) or float32. */
export function embDtypeOption(raw: string | undefined): EmbeddingDtype {
  if (raw === undefined) return 'float16';
  if (raw !== 'float16' && raw !== 'float32')
    throw new UsageError(`--emb-dtype must be float16 or float32, got '${raw}'`);
  return raw;
}

async function embedDatasetCli(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    'embed-dataset',
    argv,
    {
      weights: { type: 'string' },
      config: { type: 'string' },
      output: { type: 'string' },
      'emb-dtype': { type: 'string' },
      'no-normalize': { type: 'boolean' },
      batch: { type: 'string' },
      threads: { type: 'string' },
      'part-size': { type: 'string' },
      queue: { type: 'string' },
      overwrite: { type: 'boolean' },
      strict: { type: 'boolean' },
      'no-captions': { type: 'boolean' },
      json: { type: 'boolean' },
      dtype: { type: 'string' },
      flags: { type: 'string' },
      'no-cache': { type: 'boolean' },
    },
    true,
  );
  if (values.help) return help(embedDatasetCommand);
  required('embed-dataset', values, ['weights', 'config', 'output']);
  if (positionals.length === 0)
    throw new UsageError('no SOURCE given (a folder, a list file or tar shards; see --help)');
  const embDtype = embDtypeOption(values['emb-dtype']);
  const batchSize = intOption('batch', values.batch) ?? 32;
  const threads = intOption('threads', values.threads);
  const partSize = intOption('part-size', values['part-size']);
  const dtype = dtypeOption(values.dtype);
  const { openSources } = await import('../../src/pipeline/sources/index.js');
  const { embedDataset, hashModelFiles } = await import('../../src/pipeline/run.js');
  // The sources first: a SOURCE that does not exist is named before a model is loaded.
  const sources = await openSources(positionals, partSize ? { partSize } : {});
  const modelHash = await hashModelFiles(values.weights!, values.config!);
  if (values.queue) {
    const { enqueueDataset } = await import('./queue.js');
    return enqueueDataset({
      queue: values.queue,
      sources: positionals,
      parts: sources.parts,
      run: {
        weights: values.weights!,
        config: values.config!,
        output: values.output!,
        modelHash,
        embDtype,
        normalize: !values['no-normalize'],
        batchSize,
        partSize: partSize ?? null,
        strict: !!values.strict,
        captions: !values['no-captions'],
        dtype: dtype ?? null,
        overwrite: !!values.overwrite,
      },
      json: !!values.json,
    });
  }

  const { device } = await requestDevice({ dawnFlags: values.flags ? splitDawnFlags(values.flags) : [] });
  const model = await loadEmbeddingModel(device, {
    weights: values.weights!,
    config: values.config!,
    dtype,
    cache: !values['no-cache'],
    captions: !values['no-captions'],
  });
  const controller = new AbortController();
  let stopped: NodeJS.Signals | null = null;
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      stopped = sig;
      controller.abort(new Error(`stopped by ${sig}: the part being embedded is not written; rerun to resume`));
    });
  const bar = await datasetProgress(!values.json);
  try {
    const summary = await embedDataset(model, sources, values.output!, {
      modelHash,
      batchSize,
      threads,
      embDtype,
      normalize: !values['no-normalize'],
      strict: !!values.strict,
      overwrite: !!values.overwrite,
      captions: 'vision' in model ? !values['no-captions'] : undefined,
      onProgress: (p) => bar.update(p),
      signal: controller.signal,
    });
    bar.stop();
    if (values.json) console.log(JSON.stringify(summary, null, 2));
    printSummary('embed-dataset', summary);
    return summary.failedParts.length ? 1 : 0;
  } catch (e) {
    bar.stop();
    if (stopped) {
      console.error(`wgsl-vit embed-dataset: ${(e as Error).message}`);
      return stopped === 'SIGINT' ? 130 : 143;
    }
    throw e;
  } finally {
    model.destroy();
    device.destroy();
  }
}

export const embedDatasetCommand: Command = {
  name: 'embed-dataset',
  help: `usage: wgsl-vit embed-dataset --weights <file> --config <open_clip_config.json> --output OUT SOURCE...
         [--emb-dtype float16|float32] [--no-normalize] [--batch 32] [--threads N] [--part-size 10000]
         [--queue redis://host:port/db] [--overwrite] [--strict] [--no-captions] [--json] [--dtype fp32|fp16|q8] [--no-cache]
  Embeds a whole collection into OUT in clip-retrieval's layout (docs/datasets.md):
  img_emb/img_emb_{N}.npy, text_emb/text_emb_{N}.npy (CLIP checkpoints, captions), metadata/metadata_{N}.parquet,
  failed/failed_{N}.parquet, parts/part_{N}.json and manifest.json; one part N per tar shard, or per
  --part-size samples of a folder or a list file.
  SOURCE        a folder (recursive: .jpg .jpeg .png, with a .txt caption and a .json beside each image),
                a list file (one image path or http(s) URL per line), or webdataset tar shards: paths,
                brace patterns ("shards/{00000..00099}.tar") or http(s) URLs, read as a stream
  --emb-dtype   how embeddings are stored (default float16)
  --no-normalize  store the model's embeddings as they are (default: L2-normalised rows)
  --batch N     images per forward pass (default 32)
  --threads N   decode worker threads (default: the cores available - 1)
  --part-size N samples per part of a folder or a list file (default 10000)
  --queue URL   do not embed here: enqueue one BullMQ job per part on Redis at URL for \`wgsl-vit worker\`
                processes (every worker must see OUT and the SOURCEs at the same paths), and show the
                run's progress until every part is done or has failed
  --overwrite   replace a previous run in OUT (default: resume it; a run with other parameters is refused)
  --strict      an unreadable image fails the run (default: it is left out and listed in failed/)
  --no-captions no text embeddings for captions, even with a CLIP checkpoint
  --json        print the run's summary as JSON on stdout (counts, failures, img/s, time per stage)
  ${DTYPE_HELP}
  ${NO_CACHE_HELP}
  Rerunning the same command resumes: finished parts are skipped, the rest redone.
  Exit status: 0 done; 1 a part's source failed (it is listed, and a rerun retries it) or an error;
  2 a usage error; 130 / 143 stopped by SIGINT / SIGTERM (the part in progress is not written).`,
  run: embedDatasetCli,
};
