// `wgsl-vit verify`: the command (its help text, with the options and exit statuses, is at the end).
import { help, UsageError, parse, required, type Command } from './common.js';
import { requestDevice, splitDawnFlags } from '../../src/device.js';
import { VisionTransformer, type ViTOutputName } from '../../src/model/vit.js';
import {
  compare,
  type ClipRow,
  DTYPE_MIN_COSINE,
  measureAccuracy,
  PRECISION_MIN_COSINE,
  readExpected,
  TOLERANCE,
  type ExpectedFile,
} from '../../src/model/verify.js';
import { MODEL_DTYPES, storedModelDType, type ModelDType } from '../../src/model/dtype.js';
import type { Checkpoint } from '../../src/weights/checkpoint.js';
import { PRECISIONS, type Precision } from '../../src/kernels/program/precision.js';
import { openCheckpoint } from '../../src/weights/index.js';
import type { CLIPModel } from '../../src/model/clip.js';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

async function verify(argv: string[]): Promise<number> {
  const { values } = parse('verify', argv, {
    weights: { type: 'string' },
    config: { type: 'string' },
    expected: { type: 'string' },
    flags: { type: 'string' },
    dtype: { type: 'string' },
    precision: { type: 'string' },
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
  const { device, adapterInfo } = await requestDevice({ dawnFlags: values.flags ? splitDawnFlags(values.flags) : [] });
  const { CLIPModel: Clip } = await import('../../src/model/clip.js');
  const dtype = values.dtype as ModelDType | undefined;
  if (dtype !== undefined && !(MODEL_DTYPES as readonly string[]).includes(dtype))
    throw new UsageError(`--dtype must be one of ${MODEL_DTYPES.join(', ')}, got '${dtype}'`);
  const precision = values.precision as Precision | undefined;
  if (precision !== undefined && !(PRECISIONS as readonly string[]).includes(precision))
    throw new UsageError(`--precision must be one of ${PRECISIONS.join(', ')}, got '${precision}'`);
  const clip = isClip ? await Clip.load(device, { weights: weights!, config: config!, dtype, precision }) : null;
  const model = clip
    ? clip.vision
    : await VisionTransformer.load(device, { weights: weights!, config: config!, dtype, precision });
  if (model.dtype !== 'fp32' || model.precision !== 'f32') {
    const code = await reportDType(clip ?? model, clip ? await compareClip(clip, exp) : [], exp, weights!, adapterInfo);
    (clip ?? model).destroy();
    device.destroy();
    return code;
  }
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
  // A file stored in fp16 / q8 loaded as fp32 (--dtype fp32) is judged by the float32 tolerance,
  // which its rounding misses: say so, and how to judge it by its own (before the summary line,
  // which stays the last).
  if (failed) {
    const stored = storedDType(await openCheckpoint(weights!));
    if (stored !== 'fp32')
      console.log(
        `note: this file stores ${stored} weights (loaded as fp32 here, judged by the float32 tolerance); rerun with --dtype ${stored} (or without --dtype) to judge against the ${stored} tolerance`,
      );
  }
  console.log(`${passed} passed, ${failed} failed`);
  (clip ?? model).destroy();
  device.destroy();
  return failed ? 1 : 0;
}

/** The dtype a checkpoint's matrices are stored in (both towers). */
const storedDType = (ckpt: Checkpoint): ModelDType => storedModelDType(ckpt, ckpt.tensors.keys());

/** --dtype fp16 / q8 (or a file in that dtype): the accuracy against the float32 reference, judged by DTYPE_MIN_COSINE. */
async function reportDType(
  model: VisionTransformer | CLIPModel,
  clipRows: readonly ClipRow[],
  exp: ExpectedFile,
  weights: string,
  adapterInfo: { vendor: string; architecture: string; description: string },
): Promise<number> {
  const a = await measureAccuracy(model, exp);
  const min = Math.min(DTYPE_MIN_COSINE[a.dtype], PRECISION_MIN_COSINE[a.precision]);
  console.log(
    `adapter: ${[adapterInfo.vendor, adapterInfo.architecture, adapterInfo.description].filter(Boolean).join(' ')}`,
  );
  console.log(
    `model: ${weights} as ${a.dtype}${a.precision === 'f16' ? ', f16 arithmetic' : ''}: ${(a.weightBytes / 2 ** 20).toFixed(2)} MiB of weights on the GPU; against the float32 reference (PyTorch)`,
  );
  const W = 18;
  console.log(
    `${'output'.padEnd(W)} ${'max abs err'.padStart(12)} ${'min cosine'.padStart(12)}  result (cosine >= ${min} per row)`,
  );
  let passed = 0,
    failed = 0;
  const count = (ok: boolean) => (ok ? passed++ : failed++);
  // The rows every mode keeps: text_ids (the tokenizer: exact, whatever the dtype) and text_block0
  // (the text tower's first block, judged by the dtype's cosine over the whole tensor).
  for (const r of clipRows) {
    if (r.name !== 'text_ids' && r.name !== 'text_block0') continue;
    const name = r.name === 'text_ids' ? 'text_ids (exact)' : r.name;
    if (r.shapes) {
      count(false);
      console.log(
        `${name.padEnd(W)} FAIL: shape mismatch: this model gives [${r.shapes[0].join(', ')}], the expected file has [${r.shapes[1].join(', ')}]`,
      );
      continue;
    }
    const ok = r.name === 'text_ids' ? r.pass : r.cosine >= min;
    count(ok);
    const cos = Number.isNaN(r.cosine) ? '—' : r.cosine.toFixed(8);
    console.log(
      `${name.padEnd(W)} ${r.maxAbs.toExponential(3).padStart(12)} ${cos.padStart(12)}  ${ok ? 'ok' : 'FAIL'}`,
    );
  }
  const rows: [string, { minCosine: number; maxAbs: number } | undefined][] = [
    ['image embedding', a.embedding],
    ['text embedding', a.text],
  ];
  for (const [name, r] of rows) {
    if (!r) continue;
    const ok = r.minCosine >= min;
    count(ok);
    console.log(
      `${name.padEnd(W)} ${r.maxAbs.toExponential(3).padStart(12)} ${r.minCosine.toFixed(8).padStart(12)}  ${ok ? 'ok' : 'FAIL'}`,
    );
  }
  if (a.probs) {
    count(a.probs.sameRanking);
    console.log(
      `${'zero-shot probs'.padEnd(W)} ${a.probs.maxAbs.toExponential(3).padStart(12)} ${'—'.padStart(12)}  ${a.probs.sameRanking ? 'ok (ranking unchanged)' : 'FAIL (ranking changed)'}`,
    );
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

export const verifyCommand: Command = {
  name: 'verify',
  help: `usage: wgsl-vit verify --expected <NAME.expected.safetensors> [--weights <file.safetensors|.bin>] [--config <open_clip_config.json>] [--dtype fp32|fp16|q8]
  Runs the model on the expected file's \`input\` and compares tokens, pooled, embedding (and
  block0 when present): one row each, then 'N passed, M failed'. A CLIP expected file (OpenVision
  1, OpenAI's layout) also gets a row for each text entry it has: text_ids (exact), text_block0,
  text_embedding, image_embedding, logits_per_image, probs. An output of another shape than
  the expected one is a failed row ("shape mismatch" with both shapes). Exit status 1 when any
  output is outside tolerance (max abs <= ${TOLERANCE.maxAbs.tokens}, cosine >= ${TOLERANCE.minCosine}).
  --weights/--config default to the files named in the expected file's metadata, beside it.
  --dtype fp32|fp16|q8  load the matrices in that dtype (default: the file's). fp16 and q8 (and a
                file converted to them) are measured against the float32 reference instead: per
                image (and text) the embedding's max abs error and cosine, judged by cosine >=
                ${DTYPE_MIN_COSINE.fp16} (fp16) / ${DTYPE_MIN_COSINE.q8} (q8); for CLIP the zero-shot probabilities' max
                difference and whether the ranking is unchanged (a changed ranking fails); text_ids (exact) and
                text_block0 (by that cosine) are kept, and the last line is 'N passed, M failed'
                in every mode. A file stored in fp16 / q8 loaded with --dtype fp32 that fails a row
                gets a note naming its dtype.
  --precision f32|f16  the GEMMs' and attention's arithmetic (default f32); f16 is measured as
                --dtype fp16 is, judged by cosine >= ${PRECISION_MIN_COSINE.f16} (docs/precision.md).`,
  run: verify,
};
