#!/usr/bin/env node
// wgsl-vit command line: `verify` (compare a checkpoint against reference outputs), `info`.
import { parseArgs } from 'node:util';
import { basename, dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { requestDevice } from '../src/device.js';
import { VisionTransformer, type ViTOutputName } from '../src/model/vit.js';
import { compare, readExpected, TOLERANCE } from '../src/model/verify.js';

const USAGE = `usage:
  wgsl-vit verify --weights <file.safetensors|.bin> --config <open_clip_config.json> --expected <NAME.expected.safetensors>
      Runs the model on the expected file's \`input\` and compares tokens, pooled, embedding
      (and block0 when present). Exits 1 when any output is outside tolerance
      (max abs <= ${TOLERANCE.maxAbs.tokens}, cosine >= ${TOLERANCE.minCosine}).
      --weights/--config default to the files named in the expected file's metadata, beside it.
  wgsl-vit export-onnx --weights <file> --config <open_clip_config.json> --out model.onnx [--batch 1] [--resolution S]
      Writes the encoder as an ONNX model (opset 17, fixed batch and resolution; outputs
      embedding [B, E] and tokens [B, g², W]) for other runtimes.
  wgsl-vit embed --weights <file> --config <open_clip_config.json> img1.png img2.jpg … [--out embeddings.json|.npy|.safetensors] [--tokens] [--batch 32] [--resolution S]
      Decodes, preprocesses (squash resize, PIL bilinear, the config's mean/std) and encodes images.
      Prints a summary line (images, time, img/s); writes embeddings [N, E] (and tokens [N, g², W]
      with --tokens; .npy takes embeddings only, tokens go to a second file NAME.tokens.npy).
  wgsl-vit info        Prints the WebGPU adapter, features and limits.`;

async function verify(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { weights: { type: 'string' }, config: { type: 'string' }, expected: { type: 'string' }, flags: { type: 'string' } } });
  if (!values.expected) {
    console.error(USAGE);
    return 2;
  }
  const exp = await readExpected(values.expected);
  const near = (f?: string) => (f ? join(dirname(values.expected!), basename(f)) : undefined);
  const weights = values.weights ?? near(exp.meta.weights);
  const config = values.config ?? near(exp.meta.config);
  for (const [flag, file, named] of [['--weights', weights, exp.meta.weights], ['--config', config, exp.meta.config]] as const) {
    if (!file) throw new Error(`${flag} is required (the expected file names none)`);
    if (!existsSync(file)) throw new Error(`${file}: no such file (${flag}${values[flag.slice(2) as 'weights'] ? '' : `, from the expected file's metadata '${named}'`})`);
  }
  const { device, adapterInfo } = await requestDevice({ dawnFlags: values.flags ? values.flags.split(',') : [] });
  const model = await VisionTransformer.load(device, { weights: weights!, config: config! });
  const [B, , S] = exp.inputShape as [number, number, number];
  const names = (['tokens', 'pooled', 'embedding', 'block0'] as ViTOutputName[]).filter((k) => exp.outputs[k]);
  const t0 = performance.now();
  const out = await model.forward(exp.input, B, { resolution: S, outputs: names });
  const ms = performance.now() - t0;
  console.log(`adapter: ${[adapterInfo.vendor, adapterInfo.architecture, adapterInfo.description].filter(Boolean).join(' ')}`);
  console.log(`model: ${weights} (${model.config.layers} layers, width ${model.config.width}, patch ${model.config.patchSize}) at ${S}px, batch ${B}, ${ms.toFixed(0)} ms incl. compilation`);
  let passed = 0, failed = 0;
  console.log(`${'output'.padEnd(10)} ${'max abs err'.padStart(12)} ${'max rel err'.padStart(12)} ${'cosine'.padStart(12)}  result`);
  for (const k of names) {
    const c = compare(k, out[k]!, exp.outputs[k]!.data);
    c.pass ? passed++ : failed++;
    console.log(`${k.padEnd(10)} ${c.maxAbs.toExponential(3).padStart(12)} ${c.maxRel.toExponential(3).padStart(12)} ${c.cosine.toFixed(9).padStart(12)}  ${c.pass ? 'ok' : 'FAIL'}`);
  }
  console.log(`${passed} passed, ${failed} failed`);
  model.destroy();
  device.destroy();
  return failed ? 1 : 0;
}

async function exportOnnxCmd(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { weights: { type: 'string' }, config: { type: 'string' }, out: { type: 'string' }, batch: { type: 'string', default: '1' }, resolution: { type: 'string' } } });
  if (!values.weights || !values.config || !values.out) {
    console.error(USAGE);
    return 2;
  }
  const { exportOnnx } = await import('../src/onnx/export.js');
  const { openCheckpoint } = await import('../src/weights/index.js');
  const { readOpenClipConfig } = await import('../src/model/config.js');
  const { writeFileSync } = await import('node:fs');
  const config = await readOpenClipConfig(values.config);
  const bytes = await exportOnnx(config, await openCheckpoint(values.weights), { batch: +values.batch!, resolution: values.resolution ? +values.resolution : undefined });
  writeFileSync(values.out, bytes);
  console.log(`wrote ${values.out} (${(bytes.length / 2 ** 20).toFixed(1)} MiB)`);
  return 0;
}

async function embed(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { weights: { type: 'string' }, config: { type: 'string' }, out: { type: 'string' }, tokens: { type: 'boolean' }, batch: { type: 'string', default: '32' }, resolution: { type: 'string' }, flags: { type: 'string' } },
  });
  if (!values.weights || !values.config || positionals.length === 0) {
    console.error(USAGE);
    return 2;
  }
  const { encodeImages } = await import('../src/encode.js');
  const { toNpy, toSafetensors, rows } = await import('../src/io/writers.js');
  const { writeFileSync } = await import('node:fs');
  const { default: cliProgress } = await import('cli-progress');
  const { device, adapterInfo } = await requestDevice({ dawnFlags: values.flags ? values.flags.split(',') : [] });
  const model = await VisionTransformer.load(device, { weights: values.weights, config: values.config });
  const res = values.resolution ? +values.resolution : model.config.imageSize;
  const bar = positionals.length > 1 ? new cliProgress.SingleBar({ format: 'encoding [{bar}] {value}/{total} images | {eta_formatted} left', stream: process.stderr, noTTYOutput: false }, cliProgress.Presets.shades_classic) : null;
  bar?.start(positionals.length, 0);
  const r = await encodeImages(model, positionals, {
    resolution: res, batchSize: +values.batch!, outputs: values.tokens ? ['embedding', 'tokens'] : ['embedding'],
    onProgress: (done) => bar?.update(done),
  });
  bar?.stop();
  const g = res / model.config.patchSize;
  const emb = { name: 'embedding', shape: [r.count, model.config.embedDim], data: r.embedding! };
  const tok = r.tokens ? { name: 'tokens', shape: [r.count, g * g, model.config.width], data: r.tokens } : null;
  if (values.out) {
    const out = values.out;
    if (out.endsWith('.npy')) {
      writeFileSync(out, toNpy(emb));
      if (tok) writeFileSync(out.replace(/\.npy$/, '.tokens.npy'), toNpy(tok));
    } else if (out.endsWith('.safetensors')) {
      writeFileSync(out, toSafetensors(tok ? [emb, tok] : [emb], { images: JSON.stringify(positionals), weights: values.weights, resolution: String(res) }));
    } else if (out.endsWith('.json')) {
      writeFileSync(out, JSON.stringify({ images: positionals, resolution: res, embedding: rows(emb), ...(tok ? { tokens: rows(tok).map((t) => t) } : {}) }));
    } else {
      throw new Error(`--out ${out}: unknown format (use .json, .npy or .safetensors)`);
    }
  } else {
    for (const [i, p] of positionals.entries()) {
      const e = emb.data.subarray(i * emb.shape[1]!, (i + 1) * emb.shape[1]!);
      console.log(`${p}: [${Array.from(e.subarray(0, 4), (v) => v.toFixed(4)).join(', ')}, …] (${emb.shape[1]} values)`);
    }
  }
  console.log(`${r.count} images, ${(r.ms / 1000).toFixed(2)} s, ${((r.count * 1000) / r.ms).toFixed(2)} img/s on ${adapterInfo.description || adapterInfo.vendor} (decoding and preprocessing included)${values.out ? `; wrote ${values.out}` : ''}`);
  model.destroy();
  device.destroy();
  return 0;
}

async function info(): Promise<number> {
  const d = await requestDevice();
  console.log(JSON.stringify({ adapter: d.adapterInfo, runtime: d.runtime, features: d.features, limits: d.limits }, null, 2));
  d.device.destroy();
  return 0;
}

const [cmd, ...rest] = process.argv.slice(2);
const commands: Record<string, (argv: string[]) => Promise<number>> = { verify, info, embed, 'export-onnx': exportOnnxCmd };
const run = cmd ? commands[cmd] : undefined;
if (!run) {
  console.error(USAGE);
  process.exit(2);
}
run(rest).then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(`wgsl-vit ${cmd}: ${e.message}`);
    process.exit(1);
  },
);
