// `wgsl-vit verify`: the command (its help text, with the options and exit statuses, is at the end).
import { help, UsageError, parse, required, type Command } from './common.js';
import { requestDevice } from '../../src/device.js';
import { VisionTransformer, type ViTOutputName } from '../../src/model/vit.js';
import { compare, readExpected, TOLERANCE } from '../../src/model/verify.js';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

async function verify(argv: string[]): Promise<number> {
  const { values } = parse('verify', argv, {
    weights: { type: 'string' },
    config: { type: 'string' },
    expected: { type: 'string' },
    flags: { type: 'string' },
  });
  if (values.help) return help(verifyCommand);
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
  const { CLIP_ENTRIES, compareClip } = await import('../../src/model/verify.js');
  const isClip = CLIP_ENTRIES.some((k) => exp.ckpt.tensors.has(k));
  const { device, adapterInfo } = await requestDevice({ dawnFlags: values.flags ? values.flags.split(',') : [] });
  const { CLIPModel } = await import('../../src/model/clip.js');
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

export const verifyCommand: Command = {
  name: 'verify',
  help: `usage: wgsl-vit verify --expected <NAME.expected.safetensors> [--weights <file.safetensors|.bin>] [--config <open_clip_config.json>]
  Runs the model on the expected file's \`input\` and compares tokens, pooled, embedding (and
  block0 when present): one row each, then 'N passed, M failed'. A CLIP expected file (OpenVision
  1) also gets a row for each text entry it has: text_ids (exact), text_block0, text_embedding,
  image_embedding, logits_per_image, probs. An output of another shape than
  the expected one is a failed row ("shape mismatch" with both shapes). Exit status 1 when any
  output is outside tolerance (max abs <= ${TOLERANCE.maxAbs.tokens}, cosine >= ${TOLERANCE.minCosine}).
  --weights/--config default to the files named in the expected file's metadata, beside it.`,
  run: verify,
};
