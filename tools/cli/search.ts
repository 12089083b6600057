// `wgsl-vit search`: the command (its help text, with the options and exit statuses, is at the end).
import {
  help,
  UsageError,
  parse,
  intOption,
  required,
  dtypeOption,
  NO_CACHE_HELP,
  type Command,
  urlLoadProgress,
} from './common.js';
import { MODEL_DTYPES, type ModelDType } from '../../src/model/dtype.js';
import { requestDevice, splitDawnFlags } from '../../src/device.js';

/** A caption on one line of the text output: tabs and line breaks as spaces (--json keeps it exact). */
const oneLine = (s: string | null) => (s ?? '').replace(/[\t\r\n]+/g, ' ');

async function search(argv: string[]): Promise<number> {
  const { values } = parse('search', argv, {
    index: { type: 'string' },
    text: { type: 'string' },
    image: { type: 'string' },
    top: { type: 'string' },
    json: { type: 'boolean' },
    weights: { type: 'string' },
    config: { type: 'string' },
    dtype: { type: 'string' },
    'max-pixels': { type: 'string' },
    flags: { type: 'string' },
    'no-cache': { type: 'boolean' },
  });
  if (values.help) return help(searchCommand);
  required('search', values, ['index', 'weights', 'config']);
  if ((values.text === undefined) === (values.image === undefined))
    throw new UsageError(
      `give one query: --text T or --image FILE${values.text !== undefined ? ', not both' : ''} (see wgsl-vit search --help)`,
    );
  if (values.text !== undefined && values.text.trim() === '') throw new UsageError('--text is empty');
  const top = intOption('top', values.top) ?? 10;
  const maxPixels = intOption('max-pixels', values['max-pixels']);
  const asked = dtypeOption(values.dtype);
  const { openIndex, textQuery, imageQuery } = await import('../../src/pipeline/search/index.js');
  const { device } = await requestDevice({ dawnFlags: values.flags ? splitDawnFlags(values.flags) : [] });
  const t0 = performance.now();
  // The index first: a wrong folder is said before a model is loaded.
  const index = await openIndex(device, values.index!);
  try {
    // The query must go through the model that made the index, or its scores mean nothing.
    const { hashModelFiles } = await import('../../src/pipeline/run.js');
    const hash = await hashModelFiles(values.weights!, values.config!);
    if (hash !== index.params.modelHash)
      throw new Error(
        `--weights ${values.weights} and --config ${values.config} are not the model that made ${values.index} (its manifest's modelHash is ${index.params.modelHash}, these files hash to ${hash})`,
      );
    // By default the model runs in the dtype that made the index (its manifest's params.dtype).
    const recorded = (MODEL_DTYPES as readonly string[]).includes(index.params.dtype)
      ? (index.params.dtype as ModelDType)
      : undefined;
    const dtype = asked ?? recorded;
    const loading = await urlLoadProgress(values.weights!);
    const common = {
      weights: values.weights!,
      config: values.config!,
      dtype,
      onProgress: loading.onProgress,
      cache: !values['no-cache'],
    };
    let query: Float32Array;
    if (values.text !== undefined) {
      const { CLIPModel } = await import('../../src/model/clip.js');
      const clip = await CLIPModel.load(device, common);
      loading.done();
      try {
        query = await textQuery(index, clip, values.text);
      } finally {
        clip.destroy();
      }
    } else {
      const { VisionTransformer } = await import('../../src/model/vit.js');
      const vision = await VisionTransformer.load(device, common);
      loading.done();
      try {
        query = await imageQuery(index, vision, values.image!, { maxPixels });
      } finally {
        vision.destroy();
      }
    }
    const [hits] = await index.search(query, { top });
    if (values.json) console.log(JSON.stringify(hits!.map(({ key, score, caption }) => ({ key, score, caption }))));
    else for (const h of hits!) console.log(`${h.score.toFixed(6)}\t${h.key}\t${oneLine(h.caption)}`);
    const ms = performance.now() - t0;
    const g = index.gpu;
    console.error(
      `${hits!.length} of ${index.rows} rows (${index.parts.length} part${index.parts.length > 1 ? 's' : ''}, ${index.dtype} held as ${g.dtype}${g.f16Loads ? ` read ${g.f16Loads}` : ''} in ${g.chunks.length} GPU buffer${g.chunks.length > 1 ? 's' : ''}; ${index.normalized ? 'cosine similarity' : 'dot product: the index is not normalised'}), ${(ms / 1000).toFixed(2)} s with the model's load`,
    );
    return 0;
  } finally {
    index.destroy();
    device.destroy();
  }
}

export const searchCommand: Command = {
  name: 'search',
  help: `usage: wgsl-vit search --index OUT (--text T | --image FILE) --weights <file> --config <open_clip_config.json> [--top 10] [--json] [--dtype fp32|fp16|q8] [--no-cache]
  Ranks the rows of a collection run's output folder OUT (img_emb/*.npy, metadata/*.parquet,
  manifest.json: docs/datasets.md) against one query, on the GPU: a text through the CLIP text tower
  (OpenVision 1 checkpoints), or an image file or http(s) URL through the vision tower at the run's
  resolution. --weights and --config must be the model that made the index (the files' hash is checked
  against the manifest's modelHash). Prints one line per hit, best first: score<TAB>key<TAB>caption (tabs and line breaks of
  a caption as spaces); with --json an array of {key, score, caption}. The score is the cosine
  similarity for a normalised index (the default of a run), else the plain dot product.
  --top K       hits to print (default 10)
  --max-pixels N  refuse a query image larger than N pixels before decoding (default 89478485)
  --dtype D     the model's matrices on the GPU as fp32, fp16 or q8 (default: the run's, its
                manifest.json's params.dtype, so that the query is embedded as the rows were; docs/dtypes.md)
  ${NO_CACHE_HELP}
  Exit status: 0 with the hits printed, 1 when the index or the query cannot be used (the folder,
  file or image named on stderr), 2 for a usage error.`,
  run: search,
};
