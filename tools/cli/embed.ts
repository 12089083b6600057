// `wgsl-vit embed`: the command (its help text, with the options and exit statuses, is at the end).
import { barStream } from './child.js';
import {
  help,
  UsageError,
  parse,
  intOption,
  required,
  checkOut,
  dtypeOption,
  DTYPE_HELP,
  precisionOption,
  PRECISION_HELP,
  NO_CACHE_HELP,
  type Command,
  urlLoadProgress,
} from './common.js';
import type { ModelDType } from '../../src/model/dtype.js';
import type { Precision } from '../../src/kernels/program/precision.js';
import { requestDevice, splitDawnFlags } from '../../src/device.js';
import { VisionTransformer } from '../../src/model/vit.js';
import { extname } from 'node:path';

async function embed(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    'embed',
    argv,
    {
      weights: { type: 'string' },
      config: { type: 'string' },
      out: { type: 'string' },
      tokens: { type: 'boolean' },
      batch: { type: 'string' },
      resolution: { type: 'string' },
      'max-pixels': { type: 'string' },
      threads: { type: 'string' },
      flags: { type: 'string' },
      dtype: { type: 'string' },
      precision: { type: 'string' },
      text: { type: 'string', multiple: true },
      'no-cache': { type: 'boolean' },
    },
    true,
  );
  if (values.help) return help(embedCommand);
  required('embed', values, ['weights', 'config']);
  const dtype = dtypeOption(values.dtype);
  const precision = precisionOption(values.precision);
  if (values.text) {
    if (positionals.length) throw new UsageError('--text embeds texts; give images in another call');
    const imageOnly = (['tokens', 'resolution', 'batch', 'max-pixels', 'threads'] as const).filter(
      (k) => values[k] !== undefined,
    );
    if (imageOnly.length)
      throw new UsageError(
        `${imageOnly.map((k) => `--${k}`).join(', ')} ${imageOnly.length > 1 ? 'are' : 'is'} for images, not --text (text embeddings have no tokens output, resolution or image batch)`,
      );
    return embedTexts(
      values.text,
      values.weights!,
      values.config!,
      values.out,
      values.flags,
      dtype,
      !values['no-cache'],
      precision,
    );
  }
  if (positionals.length === 0) throw new UsageError('no images given (see wgsl-vit embed --help)');
  const batch = intOption('batch', values.batch) ?? 32;
  const resolution = intOption('resolution', values.resolution);
  const maxPixels = intOption('max-pixels', values['max-pixels']);
  const threads = intOption('threads', values.threads);
  if (values.out) checkOut(values.out, ['.json', '.npy', '.safetensors']);
  const { encodeImages } = await import('../../src/model/encode.js');
  const { toNpy, toSafetensors, rows } = await import('../../src/io/writers.js');
  const { writeFileSync } = await import('node:fs');
  const { default: cliProgress } = await import('cli-progress');
  const { device, adapterInfo } = await requestDevice({ dawnFlags: values.flags ? splitDawnFlags(values.flags) : [] });
  const loading = await urlLoadProgress(values.weights!);
  const model = await VisionTransformer.load(device, {
    weights: values.weights!,
    config: values.config!,
    dtype,
    precision,
    onProgress: loading.onProgress,
    cache: !values['no-cache'],
  });
  loading.done();
  const res = resolution ?? model.config.imageSize;
  if (res % model.config.patchSize !== 0)
    throw new UsageError(`--resolution ${res} is not a multiple of the patch size ${model.config.patchSize}`);
  const bar =
    positionals.length > 1
      ? new cliProgress.SingleBar(
          {
            format: 'encoding [{bar}] {value}/{total} images | {eta_formatted} left',
            stream: barStream(),
            noTTYOutput: false,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
  bar?.start(positionals.length, 0);
  // Several images: decoded (and normalised) in worker threads while the forward passes run.
  const { createDecodePool } = await import('../../src/pipeline/decode/pool.js');
  const pool =
    positionals.length > 1
      ? createDecodePool({
          size: res,
          normalize: { mean: model.config.mean, std: model.config.std },
          ...(maxPixels ? { maxPixels } : {}),
          ...(threads ? { threads } : {}),
        })
      : undefined;
  const r = await encodeImages(model, positionals, {
    decoder: pool,
    resolution: res,
    batchSize: batch,
    maxPixels,
    outputs: values.tokens ? ['embedding', 'tokens'] : ['embedding'],
    onImageError: 'skip',
    onProgress: (done) => bar?.update(done),
  }).finally(() => pool?.close());
  bar?.stop();
  for (const f of r.failed) console.error(`wgsl-vit embed: left out ${f.message}`);
  const encoded = r.indices.map((i) => positionals[i]!);
  if (r.count === 0) {
    console.error(`wgsl-vit embed: none of the ${positionals.length} images could be encoded; nothing written`);
    model.destroy();
    device.destroy();
    return 1;
  }
  const g = res / model.config.patchSize;
  const emb = { name: 'embedding', shape: [r.count, model.config.embedDim], data: r.embedding! };
  const tok = r.tokens ? { name: 'tokens', shape: [r.count, g * g, model.config.width], data: r.tokens } : null;
  if (values.out) {
    const out = values.out,
      ext = extname(out).toLowerCase();
    if (ext === '.npy') {
      writeFileSync(out, toNpy(emb));
      if (tok) writeFileSync(out.replace(/\.npy$/i, '.tokens.npy'), toNpy(tok));
    } else if (ext === '.safetensors') {
      writeFileSync(
        out,
        toSafetensors(tok ? [emb, tok] : [emb], {
          images: JSON.stringify(encoded),
          weights: values.weights!,
          resolution: String(res),
        }),
      );
    } else {
      writeFileSync(
        out,
        JSON.stringify({
          images: encoded,
          failed: r.failed,
          resolution: res,
          embedding: rows(emb),
          ...(tok ? { tokens: rows(tok) } : {}),
        }),
      );
    }
  } else {
    for (const [i, p] of encoded.entries()) {
      const e = emb.data.subarray(i * emb.shape[1]!, (i + 1) * emb.shape[1]!);
      console.log(
        `${p}: [${Array.from(e.subarray(0, 4), (v) => v.toFixed(4)).join(', ')}, …] (${emb.shape[1]} values)`,
      );
    }
  }
  const left = r.failed.length ? `; ${r.failed.length} left out (see above)` : '';
  console.error(
    `${r.count} images, ${(r.ms / 1000).toFixed(2)} s, ${((r.count * 1000) / r.ms).toFixed(2)} img/s on ${adapterInfo.description || adapterInfo.vendor} (decoding and preprocessing included)${values.out ? `; wrote ${values.out}` : ''}${left}`,
  );
  model.destroy();
  device.destroy();
  return r.failed.length ? 1 : 0;
}

async function embedTexts(
  texts: string[],
  weights: string,
  config: string,
  out: string | undefined,
  flags: string | undefined,
  dtype: ModelDType | undefined,
  cache: boolean,
  precision: Precision | undefined,
): Promise<number> {
  if (out) checkOut(out, ['.json', '.npy', '.safetensors']);
  const { CLIPModel } = await import('../../src/model/clip.js');
  const { toNpy, toSafetensors, rows } = await import('../../src/io/writers.js');
  const { writeFileSync } = await import('node:fs');
  const { device } = await requestDevice({ dawnFlags: flags ? splitDawnFlags(flags) : [] });
  const clip = await CLIPModel.load(device, { weights, config, dtype, precision, cache });
  const t0 = performance.now();
  const emb = { name: 'text_embedding', shape: [texts.length, clip.embedDim], data: await clip.encodeTexts(texts) };
  const ms = performance.now() - t0;
  if (out) {
    const ext = extname(out).toLowerCase();
    if (ext === '.npy') writeFileSync(out, toNpy(emb));
    else if (ext === '.safetensors')
      writeFileSync(out, toSafetensors([emb], { texts: JSON.stringify(texts), weights }));
    else writeFileSync(out, JSON.stringify({ texts, text_embedding: rows(emb) }));
  } else {
    for (const [i, t] of texts.entries()) {
      const e = emb.data.subarray(i * clip.embedDim, (i + 1) * clip.embedDim);
      console.log(
        `${JSON.stringify(t)}: [${Array.from(e.subarray(0, 4), (v) => v.toFixed(4)).join(', ')}, …] (${clip.embedDim} values)`,
      );
    }
  }
  console.error(`${texts.length} texts, ${(ms / 1000).toFixed(2)} s${out ? `; wrote ${out}` : ''}`);
  clip.destroy();
  device.destroy();
  return 0;
}

export const embedCommand: Command = {
  name: 'embed',
  help: `usage: wgsl-vit embed --weights <file> --config <open_clip_config.json> IMAGE... [--out FILE] [--tokens] [--batch 32] [--resolution S] [--max-pixels N] [--threads N] [--dtype fp32|fp16|q8] [--precision f32|f16] [--no-cache]
       wgsl-vit embed --weights <file> --config <open_clip_config.json> --text "a photo of a cat" [--text ...] [--out FILE] [--no-cache]
  IMAGE is a file path or an http(s) URL (fetched; a failed fetch names the URL).
  Decodes (PNG, JPEG: pixels equal Pillow's), preprocesses (squash resize with Pillow's bilinear
  filter, the config's mean/std) and encodes images: the embeddings (or, with --out, the file) are
  the output; a summary line (images, time, img/s) goes to stderr.
  --out FILE    .json, .npy or .safetensors: embeddings [N, E] (and tokens [N, g², W] with
                --tokens; with .npy the tokens go to NAME.tokens.npy). Checked before any work.
  --batch N     images decoded and run per forward call (default 32)
  --resolution S  run at S×S pixels (a multiple of the patch size; default: the checkpoint's)
  --max-pixels N  refuse images larger than N pixels before decoding (default 89478485, Pillow's)
  --threads N   decode worker threads for several images (default: the cores available - 1); a whole
                collection is better served by \`wgsl-vit embed-dataset\` (resumable, clip-retrieval's files)
  --text T      text embeddings [N, E] of an OpenVision 1 (CLIP) checkpoint instead (repeat for several)
  ${DTYPE_HELP}
  ${PRECISION_HELP}
  ${NO_CACHE_HELP}
  An image that cannot be read or decoded is reported by name on stderr and left out; the others
  are encoded and written (their list is in the output). Exit status: 0 when every image was
  encoded, 1 when any was left out (or nothing could be encoded), 2 for a usage error.`,
  run: embed,
};
