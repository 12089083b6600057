// `wgsl-vit classify`: the command (its help text, with the options and exit statuses, is at the end).
import { barStream } from './child.js';
import {
  help,
  UsageError,
  parse,
  intOption,
  required,
  dtypeOption,
  DTYPE_HELP,
  precisionOption,
  PRECISION_HELP,
  NO_CACHE_HELP,
  type Command,
  urlLoadProgress,
} from './common.js';
import { requestDevice, splitDawnFlags } from '../../src/device.js';

async function classify(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    'classify',
    argv,
    {
      weights: { type: 'string' },
      config: { type: 'string' },
      labels: { type: 'string' },
      template: { type: 'string', multiple: true },
      top: { type: 'string' },
      json: { type: 'boolean' },
      batch: { type: 'string' },
      'max-pixels': { type: 'string' },
      flags: { type: 'string' },
      dtype: { type: 'string' },
      precision: { type: 'string' },
      'no-cache': { type: 'boolean' },
    },
    true,
  );
  if (values.help) return help(classifyCommand);
  required('classify', values, ['weights', 'config', 'labels']);
  if (positionals.length === 0) throw new UsageError('no images given (see wgsl-vit classify --help)');
  const labels = values.labels!.split(',').map((l) => l.trim());
  if (labels.every((l) => l === ''))
    throw new UsageError('--labels has no labels (give them comma-separated: --labels "cat,dog")');
  // An empty label is refused, as the API refuses it (zeroShot), not dropped.
  const empty = labels.findIndex((l) => l === '');
  if (empty >= 0)
    throw new UsageError(
      `--labels: label ${empty + 1} of ${labels.length} is empty (${JSON.stringify(values.labels)}); remove the extra comma`,
    );
  const templates = values.template ?? ['a photo of a {}.'];
  for (const t of templates)
    if (!t.includes('{}')) throw new UsageError(`--template ${JSON.stringify(t)} has no {} where the label goes`);
  const top = intOption('top', values.top) ?? 5;
  const batch = intOption('batch', values.batch) ?? 32;
  const maxPixels = intOption('max-pixels', values['max-pixels']);
  const { CLIPModel, softmaxRows } = await import('../../src/model/clip.js');
  const { encodeImages } = await import('../../src/model/encode.js');
  const { default: cliProgress } = await import('cli-progress');
  const { device } = await requestDevice({ dawnFlags: values.flags ? splitDawnFlags(values.flags) : [] });
  const loading = await urlLoadProgress(values.weights!);
  const clip = await CLIPModel.load(device, {
    weights: values.weights!,
    config: values.config!,
    dtype: dtypeOption(values.dtype),
    precision: precisionOption(values.precision),
    onProgress: loading.onProgress,
    cache: !values['no-cache'],
  });
  loading.done();
  const t0 = performance.now();
  const textEmb = await clip.labelEmbeddings(labels, templates);
  // Cut as open_clip cuts them; said once, here as in the API's `truncated`.
  const cut = clip.truncatedLabels(labels, templates);
  if (cut.length)
    console.error(
      `wgsl-vit classify: ${cut.length} label${cut.length > 1 ? 's' : ''} longer than the text context (${clip.tokenizer.contextLength} tokens with the template) cut to it, as open_clip does: ${cut.map((l) => JSON.stringify(l.length > 40 ? l.slice(0, 40) + '…' : l)).join(', ')}`,
    );
  const bar =
    positionals.length > 1
      ? new cliProgress.SingleBar(
          { format: 'classifying [{bar}] {value}/{total} images | {eta_formatted} left', stream: barStream() },
          cliProgress.Presets.shades_classic,
        )
      : null;
  bar?.start(positionals.length, 0);
  const r = await encodeImages(clip.vision, positionals, {
    batchSize: batch,
    maxPixels,
    onImageError: 'skip',
    onProgress: (d) => bar?.update(d),
  });
  bar?.stop();
  for (const f of r.failed) console.error(`wgsl-vit classify: left out ${f.message}`);
  const ms = performance.now() - t0;
  const L = labels.length;
  const probs = r.count ? softmaxRows(clip.logits(r.embedding!, textEmb), L) : new Float32Array(0);
  const results = r.indices.map((idx, i) => ({
    image: positionals[idx]!,
    labels: labels
      .map((label, j) => ({ label, score: probs[i * L + j]!, ...(cut.includes(label) ? { truncated: true } : {}) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, top),
  }));
  if (values.json) console.log(JSON.stringify(results));
  else {
    for (const { image, labels: ranked } of results) {
      console.log(image);
      for (const { label, score } of ranked)
        console.log(
          `  ${(100 * score).toFixed(2).padStart(6)}%  ${'█'.repeat(Math.round(score * 20)).padEnd(20)}  ${label}`,
        );
    }
    console.error(
      `${r.count} images × ${L} labels (${templates.length} template${templates.length > 1 ? 's' : ''}), ${(ms / 1000).toFixed(2)} s`,
    );
  }
  clip.destroy();
  device.destroy();
  return r.failed.length || r.count === 0 ? 1 : 0;
}

export const classifyCommand: Command = {
  name: 'classify',
  help: `usage: wgsl-vit classify --weights <file> --config <open_clip_config.json> --labels "a,b,c" IMAGE... [--template "a photo of a {}."] [--top 5] [--json] [--batch 32] [--dtype fp32|fp16|q8] [--precision f32|f16] [--no-cache]
  Zero-shot classification with an OpenVision 1 (CLIP) checkpoint: for each image, the labels
  ranked by probability (softmax over the labels of exp(logit_scale)·cosine). --template may be
  given several times (prompt ensembling: the label's embedding is the mean of its normalised
  prompt embeddings). Prints a table, or JSON (per image: [{label, score}], most probable first).
  IMAGE is a file path or an http(s) URL. Unreadable images are named on stderr and left out (exit status 1 then, as embed).
  ${DTYPE_HELP}
  ${PRECISION_HELP}
  ${NO_CACHE_HELP}`,
  run: classify,
};
