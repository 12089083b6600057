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

async function info(): Promise<number> {
  const d = await requestDevice();
  console.log(JSON.stringify({ adapter: d.adapterInfo, runtime: d.runtime, features: d.features, limits: d.limits }, null, 2));
  d.device.destroy();
  return 0;
}

const [cmd, ...rest] = process.argv.slice(2);
const run = cmd === 'verify' ? verify : cmd === 'info' ? info : null;
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
