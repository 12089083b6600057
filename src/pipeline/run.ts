// The collection pipeline, end to end (issue 25; docs/datasets.md): sources → decode pool → batched
// forward passes in flight → writers, one part at a time.
//
//   openSources (sources/)  parts, each an async iterable of samples (tar shards streamed)
//   decode pool (decode/)   worker threads decode + resize, up to pool.maxInFlight images ahead
//   batchImages (model/overlap.ts)  batches of `batchSize` images, normalised
//   forwardInFlight (model/overlap.ts)  up to `inFlight` forward calls submitted and not yet read back
//   openOutput (writers/)   the part's npy / Parquet files, atomically, then its record
//
// Host memory stays bounded whatever the collection's size: at most maxInFlight encoded images in
// the pool, one batch being filled, `inFlight` batches on the device, and one part's embeddings
// (its rows × dim floats) before it is written. Output rows are in input order. An unreadable
// sample is left out of the rows and listed in failed/failed_{N}.parquet (or, with `strict`, fails
// the run). A part whose source fails (an unreachable or truncated shard, HTTP 404) is not written,
// so nothing of it looks finished: it is reported in the summary's failedParts and a rerun retries
// it; the other parts go on.
import { ArgumentError, ImageError, SourceError } from '../errors.js';
import { checkOptionKeys, isPositiveInt, type KeyList } from '../options.js';
import { batchImages, forwardInFlight, inOrder, DEFAULT_FLIGHT_DEPTH } from '../model/overlap.js';
import type { CLIPModel } from '../model/clip.js';
import type { ModelDType } from '../model/dtype.js';
import type { VisionTransformer } from '../model/vit.js';
import { decoderNormalizes, type RgbImage } from '../preprocess/index.js';
import { createDecodePool, type DecodePool } from './decode/pool.js';
import { isUrl } from './sources/http.js';
import { openSources, type Part, type Sample, type SourceItem, type Sources } from './sources/index.js';
import { openOutput, type Output, type OutputParams } from './writers/output.js';
import type { EmbeddingDtype, FailedRow, PartRow } from './writers/format.js';

export interface EmbedDatasetOptions {
  /** Identifies the weights and config (hashModelFiles); a rerun into the same output must have the same. */
  modelHash: string;
  /** Images per forward call (default 32). */
  batchSize?: number;
  /** Decode worker threads (default: the cores available − 1). Ignored when `decoder` is given. */
  threads?: number;
  /** A decode pool to use (and leave open); its size must be the model's resolution. */
  decoder?: DecodePool;
  /** Samples per part for folders and list files (default DEFAULT_PART_SIZE); a tar shard is one part. */
  partSize?: number;
  /** Stored embedding dtype (default 'float16'). */
  embDtype?: EmbeddingDtype;
  /** L2-normalise the stored embeddings (default true). */
  normalize?: boolean;
  /** An unreadable sample fails the run (default: it is recorded in failed/ and the run goes on). */
  strict?: boolean;
  /** Replace a previous run in the output folder (default: resume it, or refuse other parameters). */
  overwrite?: boolean;
  /** Only these part indices (a queue worker's job); default every part. */
  parts?: readonly number[];
  /** Forward calls in flight (default 2). */
  inFlight?: number;
  /** Caption embeddings (text_emb/) with a CLIP model's text tower (default: true when the model is a CLIPModel). */
  captions?: boolean;
  /** Called after each batch. */
  onProgress?: (p: EmbedProgress) => void;
  /** Stops the run between batches (the part being embedded is not written); rejects with its reason. */
  signal?: AbortSignal;
}

const EMBED_DATASET_OPTION_KEYS = {
  modelHash: true,
  batchSize: true,
  threads: true,
  decoder: true,
  partSize: true,
  embDtype: true,
  normalize: true,
  strict: true,
  overwrite: true,
  parts: true,
  inFlight: true,
  captions: true,
  onProgress: true,
  signal: true,
} as const satisfies KeyList<EmbedDatasetOptions>;

export interface EmbedProgress {
  /** The part being embedded. */
  part: number;
  /** Samples seen so far in this run (embedded + failed), and of them the failures. */
  samples: number;
  failed: number;
  /** Samples of the parts this run does, where known before reading (folders and lists); tars add theirs as they are read. */
  total?: number;
  /** Parts of this run finished (written) and to do in all (skipped ones are not counted). */
  partsDone: number;
  partsTotal: number;
  /** Embedded images per second since the run began. */
  imagesPerSecond: number;
}

/** Milliseconds spent in each stage; the stages overlap, so they do not add up to the wall time. */
export interface StageTimes {
  /** Waiting for the next sample from its source (file reads, tar stream, HTTP). */
  read: number;
  /** Decode + resize, summed over the worker threads (their busy time). */
  decode: number;
  /** Normalising batches into the model's input on the main thread. */
  preprocess: number;
  /** Each batch's forward call, upload to read-back (overlapping batches counted each). */
  forward: number;
  /** Caption embeddings through the text tower. */
  text: number;
  /** Writing parts (encoding npy / Parquet, writing, syncing, renaming). */
  write: number;
}

export interface EmbedSummary {
  output: string;
  /** Parts of the sources, parts this run wrote, parts already done (skipped), parts whose source failed. */
  parts: { total: number; written: number; skipped: number; failed: number };
  /** Samples this run read (embedded + failed), embedded, and left out as unreadable. */
  samples: number;
  embedded: number;
  failed: number;
  /** The unreadable samples (each also in its part's failed/failed_{N}.parquet), the first 1000. */
  failures: { part: number; key: string; source: string; reason: string }[];
  /** The parts not written because their source failed, with why (a rerun retries them). */
  failedParts: { part: number; id: string; reason: string }[];
  seconds: number;
  imagesPerSecond: number;
  stages: StageTimes;
  /** Decode worker threads used. */
  threads: number;
}

/** The model of a run: a vision tower, or a CLIP model (its vision tower, and its text tower for captions). */
export type EmbeddingModel = VisionTransformer | CLIPModel;

const isClip = (m: EmbeddingModel): m is CLIPModel => 'vision' in m && 'text' in m;

/** What embedPart needs besides the part: the open output, the model, a pool, the resolved options. */
export interface PartContext {
  model: EmbeddingModel;
  output: Output;
  decoder: DecodePool;
  batchSize: number;
  inFlight: number;
  strict: boolean;
  captions: boolean;
  signal?: AbortSignal;
  stages: StageTimes;
  /** Called after each batch with the samples and failures seen so far in this part. */
  onBatch?: (samples: number, failed: number) => void;
}

/** What embedPart did. */
export interface PartResult {
  part: number;
  rows: number;
  failures: FailedRow[];
  /** Where each failure came from (parallel to failures). */
  failureSources: string[];
}

type Meta = { sample?: Sample; key: string; source: string; reason?: string };

/** Times the waits for the next item of an async iterable into `stages.read`. */
async function* timedRead(items: AsyncIterable<SourceItem>, stages: StageTimes): AsyncGenerator<SourceItem> {
  const it = items[Symbol.asyncIterator]();
  try {
    for (;;) {
      const t0 = performance.now();
      const r = await it.next();
      stages.read += performance.now() - t0;
      if (r.done) return;
      yield r.value;
    }
  } finally {
    await it.return?.();
  }
}

/**
 * Embeds one part and writes it (its files, then its record): rows in input order, unreadable
 * samples in failures. Throws the source's SourceError when the part's source fails (nothing is
 * written), an ImageError with `strict`, or the signal's reason when aborted.
 */
export async function embedPart(ctx: PartContext, part: Part): Promise<PartResult> {
  const vision = isClip(ctx.model) ? ctx.model.vision : ctx.model;
  const { decoder, stages } = ctx;
  const size = decoder.size;
  const pixelsToo = decoderNormalizes(decoder, vision.config); // normalised in the workers too
  const decodeOne = async (item: SourceItem): Promise<{ image?: RgbImage | Float32Array; meta: Meta }> => {
    if (item.error !== undefined) return { meta: { key: item.key, source: item.source, reason: item.error } };
    try {
      const image = pixelsToo
        ? await decoder.decodePixels(item.bytes, item.key)
        : await decoder.decode(item.bytes, item.key);
      return { image, meta: { sample: item, key: item.key, source: item.source } };
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      const reason = e.message.startsWith(`${item.key}: `) ? e.message.slice(item.key.length + 2) : e.message;
      return { meta: { key: item.key, source: item.source, reason } };
    }
  };
  const rows: PartRow[] = [];
  const failures: FailedRow[] = [];
  const failureSources: string[] = [];
  const embeddings: Float32Array[] = [];
  let seen = 0;
  const decoded = inOrder(timedRead(part.samples(), stages), decodeOne, decoder.maxInFlight);
  const pre = { size, mean: vision.config.mean, std: vision.config.std };
  async function* timedBatches() {
    const it = batchImages(decoded, ctx.batchSize, pre)[Symbol.asyncIterator]();
    try {
      for (;;) {
        ctx.signal?.throwIfAborted();
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    } finally {
      await it.return?.(undefined);
    }
  }
  const decodeMs0 = decoder.stats.decodeMs;
  for await (const r of forwardInFlight(
    vision,
    timedBatches(),
    { resolution: size, outputs: ['embedding'] },
    ctx.inFlight,
  )) {
    for (const { meta, row } of r.tag) {
      seen++;
      if (row >= 0) {
        const s = meta.sample!;
        // clip-retrieval's image_path: the __key__ for a webdataset, the image's path or URL otherwise
        rows.push({
          key: s.key,
          image_path: part.kind === 'tar' ? s.key : s.source,
          caption: s.caption ?? null,
          meta: s.meta ?? null,
        });
      } else {
        if (ctx.strict) throw new ImageError(`${meta.source} (${meta.key})`, `${meta.reason} (--strict)`);
        failures.push({ key: meta.key, reason: meta.reason! });
        failureSources.push(meta.source);
      }
    }
    stages.forward += r.ms;
    stages.preprocess += r.preprocessMs;
    if (r.count > 0) embeddings.push(r.outputs.embedding!);
    ctx.onBatch?.(seen, failures.length);
  }
  stages.decode += decoder.stats.decodeMs - decodeMs0;
  ctx.signal?.throwIfAborted();
  const dim = isClip(ctx.model) ? ctx.model.embedDim : vision.config.embedDim;
  const all = new Float32Array(rows.length * dim);
  let o = 0;
  for (const e of embeddings) {
    all.set(e, o);
    o += e.length;
  }
  let textEmbeddings: Float32Array | undefined;
  if (ctx.captions && isClip(ctx.model) && rows.some((r) => r.caption != null)) {
    const t0 = performance.now();
    // Rows without a caption get a zero row (it stays zero when normalised); metadata says caption null.
    textEmbeddings = new Float32Array(rows.length * dim);
    const withCaption = rows.flatMap((r, i) => (r.caption != null ? [i] : []));
    const texts = await ctx.model.encodeTexts(withCaption.map((i) => rows[i]!.caption!));
    withCaption.forEach((i, j) => textEmbeddings!.set(texts.subarray(j * dim, (j + 1) * dim), i * dim));
    stages.text += performance.now() - t0;
  }
  const t0 = performance.now();
  await ctx.output.writePart(part.index, { embeddings: all, dim, textEmbeddings, rows, failed: failures });
  stages.write += performance.now() - t0;
  return { part: part.index, rows: rows.length, failures, failureSources };
}

/**
 * Embeds a collection into an output folder in clip-retrieval's layout, resuming a previous run of
 * the same parameters there (its finished parts are skipped). `sources` are SOURCE arguments
 * (folders, list files, tar shards, brace patterns, http(s) shard URLs) or what openSources returned.
 */
export async function embedDataset(
  model: EmbeddingModel,
  sources: readonly string[] | Sources,
  outDir: string,
  opts: EmbedDatasetOptions,
): Promise<EmbedSummary> {
  const where = 'embedDataset';
  checkOptionKeys(where, opts, EMBED_DATASET_OPTION_KEYS);
  const t0 = performance.now();
  const vision = isClip(model) ? model.vision : model;
  const batchSize = opts.batchSize ?? 32;
  if (!isPositiveInt(batchSize))
    throw new ArgumentError(where, 'batchSize', `must be a positive integer, got ${String(batchSize)}`);
  const inFlight = opts.inFlight ?? DEFAULT_FLIGHT_DEPTH;
  if (!isPositiveInt(inFlight))
    throw new ArgumentError(where, 'inFlight', `must be a positive integer, got ${String(inFlight)}`);
  if (
    opts.parts !== undefined &&
    (!Array.isArray(opts.parts) || !opts.parts.every((n) => Number.isInteger(n) && n >= 0))
  )
    throw new ArgumentError(where, 'parts', 'must be an array of part indices (non-negative integers)');
  if (opts.captions && !isClip(model))
    throw new ArgumentError(where, 'captions', 'needs a CLIPModel (this model has no text tower)');
  const resolution = vision.config.imageSize;
  if (opts.decoder && opts.decoder.size !== resolution)
    throw new ArgumentError(where, 'decoder', `resizes to ${opts.decoder.size} px, the model runs at ${resolution} px`);
  const opened = Array.isArray(sources)
    ? await openSources(sources as readonly string[], opts.partSize === undefined ? {} : { partSize: opts.partSize })
    : (sources as Sources);
  const params: OutputParams = {
    modelHash: opts.modelHash,
    resolution,
    dtype: vision.dtype,
    embDtype: opts.embDtype ?? 'float16',
    normalize: opts.normalize ?? true,
  };
  const output = await openOutput(outDir, params, { overwrite: opts.overwrite ?? false });
  const wanted = opts.parts ? new Set(opts.parts) : null;
  for (const n of wanted ?? [])
    if (n >= opened.parts.length)
      throw new ArgumentError(
        where,
        'parts',
        `part ${n} does not exist (the sources have ${opened.parts.length} parts)`,
      );
  const todo: Part[] = [];
  let skipped = 0;
  for (const p of opened.parts) {
    if (wanted && !wanted.has(p.index)) continue;
    if (await output.isPartDone(p.index)) skipped++;
    else todo.push(p);
  }

  const stages: StageTimes = { read: 0, decode: 0, preprocess: 0, forward: 0, text: 0, write: 0 };
  const summary: EmbedSummary = {
    output: outDir,
    parts: { total: opened.parts.length, written: 0, skipped, failed: 0 },
    samples: 0,
    embedded: 0,
    failed: 0,
    failures: [],
    failedParts: [],
    seconds: 0,
    imagesPerSecond: 0,
    stages,
    threads: 0,
  };
  if (todo.length === 0) {
    summary.seconds = (performance.now() - t0) / 1000;
    return summary;
  }
  const decoder =
    opts.decoder ??
    createDecodePool({
      size: resolution,
      normalize: { mean: vision.config.mean, std: vision.config.std },
      ...(opts.threads ? { threads: opts.threads } : {}),
    });
  summary.threads = decoder.threads;
  let known = todo.every((p) => p.size !== undefined) ? todo.reduce((a, p) => a + p.size!, 0) : undefined;
  const rate = () => summary.embedded / Math.max(1e-9, (performance.now() - t0) / 1000);
  try {
    for (const part of todo) {
      const before = { samples: summary.samples, failed: summary.failed };
      const ctx: PartContext = {
        model,
        output,
        decoder,
        batchSize,
        inFlight,
        strict: opts.strict ?? false,
        captions: opts.captions ?? isClip(model),
        signal: opts.signal,
        stages,
        onBatch: (samples, failed) =>
          opts.onProgress?.({
            part: part.index,
            samples: before.samples + samples,
            failed: before.failed + failed,
            total: known === undefined ? undefined : Math.max(known, before.samples + samples),
            partsDone: summary.parts.written,
            partsTotal: todo.length,
            imagesPerSecond: (summary.embedded + samples - failed) / Math.max(1e-9, (performance.now() - t0) / 1000),
          }),
      };
      let r: PartResult;
      try {
        r = await embedPart(ctx, part);
      } catch (e) {
        if (!(e instanceof SourceError)) throw e;
        summary.parts.failed++;
        summary.failedParts.push({ part: part.index, id: part.id, reason: e.message });
        continue;
      }
      summary.parts.written++;
      summary.samples += r.rows + r.failures.length;
      summary.embedded += r.rows;
      summary.failed += r.failures.length;
      r.failures.forEach((f, i) => {
        if (summary.failures.length < 1000)
          summary.failures.push({ part: part.index, key: f.key, source: r.failureSources[i]!, reason: f.reason });
      });
      if (known !== undefined && part.size === undefined) known += r.rows + r.failures.length;
    }
  } finally {
    if (!opts.decoder) await decoder.close();
  }
  summary.seconds = (performance.now() - t0) / 1000;
  summary.imagesPerSecond = rate();
  return summary;
}

/**
 * A hash identifying a model's files (sha256 of the config's bytes, then the weights'), for the
 * output's manifest and a queue worker's check that it runs the same model. Local paths are read
 * (streamed); an http(s) URL is identified by its text (the download cache keys it the same way).
 */
export async function hashModelFiles(weights: string, config: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  const { createReadStream } = await import('node:fs');
  const h = createHash('sha256');
  for (const f of [config, weights]) {
    if (isUrl(f)) {
      h.update(`url:${f}\n`);
      continue;
    }
    try {
      for await (const chunk of createReadStream(f)) h.update(chunk as Buffer);
    } catch (e) {
      throw new SourceError(f, `cannot be read to hash the model: ${(e as Error).message}`);
    }
    h.update('\n');
  }
  return `sha256:${h.digest('hex')}`;
}

/**
 * The output parameters a run of these files will record, without loading the model: the config's
 * resolution, and the matrices' dtype (`dtype`, else the file's own, as a load would choose). A
 * queue's coordinator opens the output with these before enqueueing, so that a rerun with other
 * parameters is refused at once, not by the workers.
 */
export async function runParams(
  weights: string,
  config: string,
  o: { modelHash: string; dtype?: ModelDType; embDtype?: EmbeddingDtype; normalize?: boolean },
): Promise<OutputParams> {
  const { readOpenClipConfig } = await import('../model/config.js');
  const { openCheckpoint } = await import('../weights/index.js');
  const { storedModelDType } = await import('../model/dtype.js');
  const cfg = await readOpenClipConfig(config);
  const ckpt = await openCheckpoint(weights);
  const dtype = o.dtype ?? storedModelDType(ckpt, ckpt.tensors.keys());
  return {
    modelHash: o.modelHash,
    resolution: cfg.imageSize,
    dtype,
    embDtype: o.embDtype ?? 'float16',
    normalize: o.normalize ?? true,
  };
}
