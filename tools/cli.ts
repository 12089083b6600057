#!/usr/bin/env node
// wgsl-vit command line: verify, embed, export-onnx, info. Each command answers --help on stdout
// (exit 0); a usage error (unknown option, bad number, bad --out) exits 2 with a message naming the
// option; a failure while working exits 1.
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { requestDevice } from '../src/device.js';
import { VisionTransformer, type ViTOutputName } from '../src/model/vit.js';
import { compare, readExpected, TOLERANCE } from '../src/model/verify.js';

const HELP: Record<string, string> = {
  verify: `usage: wgsl-vit verify --expected <NAME.expected.safetensors> [--weights <file.safetensors|.bin>] [--config <open_clip_config.json>]
  Runs the model on the expected file's \`input\` and compares tokens, pooled, embedding (and
  block0 when present): one row each, then 'N passed, M failed'. A CLIP expected file (OpenVision
  1) also gets a row for each text entry it has: text_ids (exact), text_block0, text_embedding,
  image_embedding, logits_per_image, probs. An output of another shape than
  the expected one is a failed row ("shape mismatch" with both shapes). Exit status 1 when any
  output is outside tolerance (max abs <= ${TOLERANCE.maxAbs.tokens}, cosine >= ${TOLERANCE.minCosine}).
  --weights/--config default to the files named in the expected file's metadata, beside it.`,
  embed: `usage: wgsl-vit embed --weights <file> --config <open_clip_config.json> IMAGE... [--out FILE] [--tokens] [--batch 32] [--resolution S] [--max-pixels N]
       wgsl-vit embed --weights <file> --config <open_clip_config.json> --text "a photo of a cat" [--text ...] [--out FILE]
  Decodes (PNG, JPEG: pixels equal Pillow's), preprocesses (squash resize with Pillow's bilinear
  filter, the config's mean/std) and encodes images; prints a summary line (images, time, img/s).
  --out FILE    .json, .npy or .safetensors: embeddings [N, E] (and tokens [N, g², W] with
                --tokens; with .npy the tokens go to NAME.tokens.npy). Checked before any work.
  --batch N     images decoded and run per forward call (default 32)
  --resolution S  run at S×S pixels (a multiple of the patch size; default: the checkpoint's)
  --max-pixels N  refuse images larger than N pixels before decoding (default 89478485, Pillow's)
  --text T      text embeddings [N, E] of an OpenVision 1 (CLIP) checkpoint instead (repeat for several)
  An image that cannot be read or decoded is reported by name on stderr and left out; the others
  are encoded and written (their list is in the output). Exit status: 0 when every image was
  encoded, 1 when any was left out (or nothing could be encoded), 2 for a usage error.`,
  'export-onnx': `usage: wgsl-vit export-onnx --weights <file> --config <open_clip_config.json> --out model.onnx [--batch 1] [--resolution S]
  Writes the encoder as an ONNX model (opset 17, fixed batch and resolution; outputs embedding
  [B, E] and tokens [B, g², W]) for other runtimes. Refuses non-finite weights.`,
  tokenize: `usage: wgsl-vit tokenize [--json] [--vocab vocab.txt] [--context 80] TEXT...
  Prints the CLIPS token ids of each text (OpenVision 1's tokenizer: ftfy-style cleaning, BERT
  WordPiece, [bos] pieces [eos] padding [CLS]): one line of ids per text, or with --json one JSON
  array of arrays. --vocab: another vocab.txt (default: the released OpenVision 1 vocabulary).`,
  classify: `usage: wgsl-vit classify --weights <file> --config <open_clip_config.json> --labels "a,b,c" IMAGE... [--template "a photo of a {}."] [--top 5] [--json] [--batch 32]
  Zero-shot classification with an OpenVision 1 (CLIP) checkpoint: for each image, the labels
  ranked by probability (softmax over the labels of exp(logit_scale)·cosine). --template may be
  given several times (prompt ensembling: the label's embedding is the mean of its normalised
  prompt embeddings). Prints a table, or JSON (per image: [{label, score}], most probable first).
  Unreadable images are named on stderr and left out (exit status 1 then, as embed).`,
  tune: `usage: wgsl-vit tune (--config <open_clip_config.json> | --model b-16) [--batch 1] [--resolution S] [--layers 2] [--iters 3] [--profiles FILE] [--json] [--no-save]
  Measures the kernel choices on this adapter at the model's own shapes: times each GEMM candidate
  (the 'texture' and 'subgroup' variants where the adapter has 8-lane subgroups, the 'tiled' GEMM
  with each tile its limits allow), then each attention variant with the fastest GEMM, on random
  weights of the model's shape (--layers blocks; the choice is per block shape, so weights do not
  matter). Every candidate's outputs are checked against the portable one ('tiled' GEMM,
  'broadcast' attention; max |difference| <= 2e-3) and a wrong one is never chosen. Saves the
  winners as a profile for this adapter and model shape (default store: $WGSL_VIT_PROFILES or
  ~/.cache/wgsl-vit/profiles.json; --profiles FILE another file; --no-save none); models loaded
  later without \`kernels\` use it. Prints a table, or the profile as JSON with --json.`,
  info: `usage: wgsl-vit info
  Prints the WebGPU adapter, features and limits as JSON.`,
};
const USAGE = `usage: wgsl-vit <command> [options]   (wgsl-vit <command> --help for each)
  verify       compare a checkpoint's outputs with a PyTorch expected file
  embed        images (or --text) in, embeddings out
  classify     zero-shot labels for images (OpenVision 1 CLIP checkpoints)
  tokenize     CLIPS token ids of texts
  export-onnx  write the encoder as an ONNX model
  tune         measure the fastest kernel choices for a model on this adapter and store them
  info         the WebGPU adapter, features and limits`;

/** A mistake in the command line: exit status 2, with the message (and no stack). */
class UsageError extends Error {}

function parse<T extends NonNullable<ParseArgsConfig['options']>>(
  cmd: string,
  argv: string[],
  options: T,
  positionals = false,
) {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: positionals,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message} (see wgsl-vit ${cmd} --help)`);
  }
}

/** A positive integer option, or undefined when absent; anything else is a usage error naming it. */
function intOption(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(v) || v <= 0)
    throw new UsageError(`--${name} must be a positive integer, got '${raw}'`);
  return v;
}

function required(cmd: string, values: Record<string, unknown>, names: string[]): void {
  const missing = names.filter((n) => values[n] === undefined);
  if (missing.length)
    throw new UsageError(
      `${missing.map((n) => `--${n}`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} required (see wgsl-vit ${cmd} --help)`,
    );
}

/** An output path: a known extension, in a folder that exists, and not itself a folder. */
function checkOut(path: string, extensions: string[]): void {
  const ext = extname(path).toLowerCase();
  if (!extensions.includes(ext))
    throw new UsageError(`--out ${path}: unknown format '${ext || '(none)'}' (use ${extensions.join(', ')})`);
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new UsageError(`--out ${path}: the folder ${dir} does not exist`);
  if (existsSync(path) && statSync(path).isDirectory()) throw new UsageError(`--out ${path}: is a folder`);
}

async function verify(argv: string[]): Promise<number> {
  const { values } = parse('verify', argv, {
    weights: { type: 'string' },
    config: { type: 'string' },
    expected: { type: 'string' },
    flags: { type: 'string' },
  });
  if (values.help) return help('verify');
  required('verify', values, ['expected']);
  const exp = await readExpected(values.expected!);
  const near = (f?: string) => (f ? join(dirname(values.expected!), basename(f)) : undefined);
  const weights = values.weights ?? near(exp.meta.weights);
  const config = values.config ?? near(exp.meta.config);
  for (const [flag, file, named] of [
    ['--weights', weights, exp.meta.weights],
    ['--config', config, exp.meta.config],
  ] as const) {
    if (!file) throw new UsageError(`${flag} is required (the expected file names none)`);
    if (!existsSync(file))
      throw new Error(
        `${file}: no such file (${flag}${values[flag.slice(2) as 'weights'] ? '' : `, from the expected file's metadata '${named}'`})`,
      );
  }
  const { CLIP_ENTRIES, compareClip } = await import('../src/model/verify.js');
  const isClip = CLIP_ENTRIES.some((k) => exp.ckpt.tensors.has(k));
  const { device, adapterInfo } = await requestDevice({ dawnFlags: values.flags ? values.flags.split(',') : [] });
  const { CLIPModel } = await import('../src/model/clip.js');
  const clip = isClip ? await CLIPModel.load(device, { weights: weights!, config: config! }) : null;
  const model = clip ? clip.vision : await VisionTransformer.load(device, { weights: weights!, config: config! });
  const [B, , S] = exp.inputShape as [number, number, number];
  const names = (['tokens', 'pooled', 'embedding', 'block0'] as ViTOutputName[]).filter((k) => exp.outputs[k]);
  const c = model.config,
    g = S / c.patchSize;
  const ours: Record<string, number[]> = {
    tokens: [B, g * g, c.width],
    pooled: [B, c.width],
    embedding: [B, c.embedDim],
    block0: [B, 1 + g * g, c.width],
  };
  const t0 = performance.now();
  const out = names.length ? await model.forward(exp.input, B, { resolution: S, outputs: names }) : null;
  const clipRows = clip ? await compareClip(clip, exp) : [];
  const ms = performance.now() - t0;
  console.log(
    `adapter: ${[adapterInfo.vendor, adapterInfo.architecture, adapterInfo.description].filter(Boolean).join(' ')}`,
  );
  console.log(
    `model: ${weights} (${c.layers} layers, width ${c.width}, patch ${c.patchSize}${clip ? `; text ${clip.text.config.layers} layers, width ${clip.text.config.width}` : ''}) at ${S}px, batch ${B}, ${ms.toFixed(0)} ms incl. compilation`,
  );
  let passed = 0,
    failed = 0;
  const W = 16;
  console.log(
    `${'output'.padEnd(W)} ${'max abs err'.padStart(12)} ${'max rel err'.padStart(12)} ${'cosine'.padStart(12)}  result`,
  );
  const print = (
    name: string,
    r: { maxAbs: number; maxRel: number; cosine: number; pass: boolean },
    mismatch?: [readonly number[], readonly number[]],
  ) => {
    if (mismatch) {
      failed++;
      console.log(
        `${name.padEnd(W)} FAIL: shape mismatch: this model gives [${mismatch[0].join(', ')}], the expected file has [${mismatch[1].join(', ')}]`,
      );
      return;
    }
    if (r.pass) passed++;
    else failed++;
    const cos = Number.isNaN(r.cosine) ? '—' : r.cosine.toFixed(9);
    console.log(
      `${name.padEnd(W)} ${r.maxAbs.toExponential(3).padStart(12)} ${r.maxRel.toExponential(3).padStart(12)} ${cos.padStart(12)}  ${r.pass ? 'ok' : 'FAIL'}`,
    );
  };
  for (const k of names) {
    const want = exp.outputs[k]!;
    if (out![k]!.length !== want.data.length || ours[k]!.join() !== want.shape.join())
      print(k, { maxAbs: 0, maxRel: 0, cosine: 0, pass: false }, [ours[k]!, want.shape]);
    else print(k, compare(k, out![k]!, want.data));
  }
  for (const r of clipRows) print(r.name === 'text_ids' ? 'text_ids (exact)' : r.name, r, r.shapes);
  console.log(`${passed} passed, ${failed} failed`);
  (clip ?? model).destroy();
  device.destroy();
  return failed ? 1 : 0;
}

async function exportOnnxCmd(argv: string[]): Promise<number> {
  const { values } = parse('export-onnx', argv, {
    weights: { type: 'string' },
    config: { type: 'string' },
    out: { type: 'string' },
    batch: { type: 'string' },
    resolution: { type: 'string' },
  });
  if (values.help) return help('export-onnx');
  required('export-onnx', values, ['weights', 'config', 'out']);
  const batch = intOption('batch', values.batch) ?? 1;
  const resolution = intOption('resolution', values.resolution);
  checkOut(values.out!, ['.onnx']);
  const { exportOnnx } = await import('../src/onnx/export.js');
  const { openCheckpoint } = await import('../src/weights/index.js');
  const { readOpenClipConfig } = await import('../src/model/config.js');
  const { writeFileSync } = await import('node:fs');
  const config = await readOpenClipConfig(values.config!);
  if (resolution !== undefined && resolution % config.patchSize !== 0)
    throw new UsageError(`--resolution ${resolution} is not a multiple of the patch size ${config.patchSize}`);
  const bytes = await exportOnnx(config, await openCheckpoint(values.weights!), { batch, resolution });
  writeFileSync(values.out!, bytes);
  console.log(`wrote ${values.out} (${(bytes.length / 2 ** 20).toFixed(1)} MiB)`);
  return 0;
}

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
      flags: { type: 'string' },
      text: { type: 'string', multiple: true },
    },
    true,
  );
  if (values.help) return help('embed');
  required('embed', values, ['weights', 'config']);
  if (values.text) {
    if (positionals.length) throw new UsageError('--text embeds texts; give images in another call');
    const imageOnly = (['tokens', 'resolution', 'batch', 'max-pixels'] as const).filter((k) => values[k] !== undefined);
    if (imageOnly.length)
      throw new UsageError(
        `${imageOnly.map((k) => `--${k}`).join(', ')} ${imageOnly.length > 1 ? 'are' : 'is'} for images, not --text (text embeddings have no tokens output, resolution or image batch)`,
      );
    return embedTexts(values.text, values.weights!, values.config!, values.out, values.flags);
  }
  if (positionals.length === 0) throw new UsageError('no images given (see wgsl-vit embed --help)');
  const batch = intOption('batch', values.batch) ?? 32;
  const resolution = intOption('resolution', values.resolution);
  const maxPixels = intOption('max-pixels', values['max-pixels']);
  if (values.out) checkOut(values.out, ['.json', '.npy', '.safetensors']);
  const { encodeImages } = await import('../src/encode.js');
  const { toNpy, toSafetensors, rows } = await import('../src/io/writers.js');
  const { writeFileSync } = await import('node:fs');
  const { default: cliProgress } = await import('cli-progress');
  const { device, adapterInfo } = await requestDevice({ dawnFlags: values.flags ? values.flags.split(',') : [] });
  const model = await VisionTransformer.load(device, { weights: values.weights!, config: values.config! });
  const res = resolution ?? model.config.imageSize;
  if (res % model.config.patchSize !== 0)
    throw new UsageError(`--resolution ${res} is not a multiple of the patch size ${model.config.patchSize}`);
  const bar =
    positionals.length > 1
      ? new cliProgress.SingleBar(
          {
            format: 'encoding [{bar}] {value}/{total} images | {eta_formatted} left',
            stream: process.stderr,
            noTTYOutput: false,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
  bar?.start(positionals.length, 0);
  const r = await encodeImages(model, positionals, {
    resolution: res,
    batchSize: batch,
    maxPixels,
    outputs: values.tokens ? ['embedding', 'tokens'] : ['embedding'],
    onImageError: 'skip',
    onProgress: (done) => bar?.update(done),
  });
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
  console.log(
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
): Promise<number> {
  if (out) checkOut(out, ['.json', '.npy', '.safetensors']);
  const { CLIPModel } = await import('../src/model/clip.js');
  const { toNpy, toSafetensors, rows } = await import('../src/io/writers.js');
  const { writeFileSync } = await import('node:fs');
  const { device } = await requestDevice({ dawnFlags: flags ? flags.split(',') : [] });
  const clip = await CLIPModel.load(device, { weights, config });
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
  console.log(`${texts.length} texts, ${(ms / 1000).toFixed(2)} s${out ? `; wrote ${out}` : ''}`);
  clip.destroy();
  device.destroy();
  return 0;
}

async function tokenize(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    'tokenize',
    argv,
    { json: { type: 'boolean' }, vocab: { type: 'string' }, context: { type: 'string' } },
    true,
  );
  if (values.help) return help('tokenize');
  if (positionals.length === 0) throw new UsageError('no texts given (see wgsl-vit tokenize --help)');
  const contextLength = intOption('context', values.context);
  const { ClipsTokenizer } = await import('../src/text/tokenizer.js');
  let tok;
  if (values.vocab) {
    const { readFileSync } = await import('node:fs');
    let text: string;
    try {
      text = readFileSync(values.vocab, 'utf8');
    } catch (e) {
      throw new Error(`${values.vocab}: cannot read: ${(e as Error).message}`, { cause: e });
    }
    tok = ClipsTokenizer.fromVocab(text, { contextLength });
  } else tok = await ClipsTokenizer.default({ contextLength });
  const rows = positionals.map((t) => Array.from(tok.encode(t)));
  console.log(values.json ? JSON.stringify(rows) : rows.map((r) => r.join(' ')).join('\n'));
  return 0;
}

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
    },
    true,
  );
  if (values.help) return help('classify');
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
  const { CLIPModel, softmaxRows } = await import('../src/model/clip.js');
  const { encodeImages } = await import('../src/encode.js');
  const { default: cliProgress } = await import('cli-progress');
  const { device } = await requestDevice({ dawnFlags: values.flags ? values.flags.split(',') : [] });
  const clip = await CLIPModel.load(device, { weights: values.weights!, config: values.config! });
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
          { format: 'classifying [{bar}] {value}/{total} images | {eta_formatted} left', stream: process.stderr },
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

async function tune(argv: string[]): Promise<number> {
  const { values } = parse('tune', argv, {
    config: { type: 'string' },
    model: { type: 'string' },
    batch: { type: 'string' },
    resolution: { type: 'string' },
    layers: { type: 'string' },
    iters: { type: 'string' },
    profiles: { type: 'string' },
    json: { type: 'boolean' },
    'no-save': { type: 'boolean' },
    flags: { type: 'string' },
  });
  if (values.help) return help('tune');
  if (!values.config === !values.model)
    throw new UsageError('give one of --config or --model (see wgsl-vit tune --help)');
  const batch = intOption('batch', values.batch);
  const resolution = intOption('resolution', values.resolution);
  const layers = intOption('layers', values.layers);
  const iters = intOption('iters', values.iters);
  const { presetConfig, readOpenClipConfig } = await import('../src/model/config.js');
  const { tuneKernels } = await import('../src/model/tune.js');
  const { defaultProfileStore, fileProfileStore } = await import('../src/model/profiles.js');
  const config = values.config ? await readOpenClipConfig(values.config) : presetConfig(values.model!);
  if (resolution !== undefined && resolution % config.patchSize !== 0)
    throw new UsageError(`--resolution ${resolution} is not a multiple of the patch size ${config.patchSize}`);
  const store = values['no-save']
    ? null
    : values.profiles
      ? await fileProfileStore(resolve(values.profiles))
      : await defaultProfileStore();
  // Checked before a minute of measuring, not after.
  await store?.check?.();
  const { device } = await requestDevice({
    dawnFlags: values.flags ? values.flags.split(',') : [],
    preciseTimestamps: true,
  });
  const line = (label: string, ms: string, diff: string, verdict: string) =>
    `${label.padEnd(26)} ${ms.padStart(10)} ${diff.padStart(10)}  ${verdict}`;
  if (!values.json) console.log(line('candidate', 'ms/image', 'max |diff|', ''));
  const profile = await tuneKernels(device, config, {
    batch,
    resolution,
    layers,
    iters,
    onProgress: (t) => {
      if (values.json) return;
      console.log(
        line(
          t.label,
          t.msPerImage === null ? '—' : t.msPerImage.toFixed(1),
          t.maxAbsDiff === null ? '—' : t.maxAbsDiff.toExponential(1),
          t.error ? `failed: ${t.error}` : t.ok ? 'ok' : 'WRONG (not chosen)',
        ),
      );
    },
  });
  device.destroy();
  // The winners are printed whatever happens to the save.
  if (values.json) console.log(JSON.stringify(profile, null, 2));
  else console.log(`\nchosen for ${profile.shape} on ${profile.adapter}: ${JSON.stringify(profile.choices)}`);
  if (store) {
    try {
      await store.put(profile);
      if (!values.json) console.log(`saved to ${store.where}`);
    } catch (e) {
      console.error(`wgsl-vit tune: not saved: ${(e as Error).message}`);
      return 1;
    }
  }
  return profile.timings.some((t) => t.ok) ? 0 : 1;
}

async function info(argv: string[]): Promise<number> {
  const { values } = parse('info', argv, {});
  if (values.help) return help('info');
  const d = await requestDevice();
  console.log(
    JSON.stringify({ adapter: d.adapterInfo, runtime: d.runtime, features: d.features, limits: d.limits }, null, 2),
  );
  d.device.destroy();
  return 0;
}

function help(cmd: string): number {
  console.log(HELP[cmd]);
  return 0;
}

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  verify,
  info,
  embed,
  classify,
  tokenize,
  'export-onnx': exportOnnxCmd,
  tune,
};

function main(): void {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(`${USAGE}\n\n${Object.values(HELP).join('\n\n')}`);
    process.exit(0);
  }
  const run = cmd ? commands[cmd] : undefined;
  if (!run) {
    console.error(cmd ? `wgsl-vit: unknown command '${cmd}'\n${USAGE}` : USAGE);
    process.exit(2);
  }
  run(rest).then(
    (code) => process.exit(code),
    (e: Error) => {
      console.error(`wgsl-vit ${cmd}: ${e.message}`);
      process.exit(e instanceof UsageError ? 2 : 1);
    },
  );
}

/**
 * Dawn prints two notices ("maxDynamic…BuffersPerPipelineLayout artificially reduced…") from native
 * code straight to stderr whenever an adapter is created; JavaScript cannot intercept them. The CLI
 * therefore runs itself as a child and drops exactly those lines from its stderr, passing everything
 * else (progress bar included) through as it comes.
 */
const DAWN_NOTICE =
  /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/;
const PREFIX = 'Warning: maxDynamic';

function runFiltered(): void {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, WGSL_VIT_CLI_CHILD: '1' },
  });
  let pending = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (!DAWN_NOTICE.test(line)) process.stderr.write(`${line}\n`);
    }
    // A partial line is held only while it may still become a notice (the progress bar never does).
    if (pending && !PREFIX.startsWith(pending.slice(0, PREFIX.length)) && !pending.startsWith(PREFIX)) {
      process.stderr.write(pending);
      pending = '';
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  child.on('close', (code, signal) => {
    if (pending) process.stderr.write(pending);
    process.exit(code ?? (signal ? 1 : 0));
  });
}

if (process.env.WGSL_VIT_CLI_CHILD || process.env.WGSL_VIT_DAWN_NOTICES) main();
else runFiltered();
