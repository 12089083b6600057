// An unknown key in an options object is refused, naming the key, a near known key and the known
// ones (a JavaScript caller has no compiler to catch `{ dtpye: 'fp16' }`, which was ignored without a
// word): every options object of the public API, and the helper itself (src/options.ts).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/errors.js';
import { checkOptionKeys, closestKey, editDistance, type KeyList } from '../../src/options.js';
import { requestDevice } from '../../src/device.js';
import { VisionTransformer } from '../../src/model/vit.js';
import { TextTransformer } from '../../src/model/text.js';
import { CLIPModel } from '../../src/model/clip.js';
import { encodeImages } from '../../src/model/encode.js';
import { tuneKernels } from '../../src/model/tune.js';
import { configFromOpenClip, presetConfig } from '../../src/model/config.js';
import { decodeImage, decodeResized, normalizeBatch, preprocessImages } from '../../src/preprocess/index.js';
import { ClipsTokenizer } from '../../src/text/tokenizer.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { openCheckpoint, openSource } from '../../src/weights/index.js';
import { fixture } from '../helpers/fixtures.js';
import { testDevice } from '../helpers/gpu.js';

const VIT = 'ov1-so14-84-d2';
const CLIP = 'ov1-clip-ti16-224-t2';
const vitOpts = () => ({ weights: fixture(`${VIT}.safetensors`), config: fixture(`${VIT}.open_clip_config.json`) });
const clipOpts = () => ({ weights: fixture(`${CLIP}.bin`), config: fixture(`${CLIP}.open_clip_config.json`) });

/** The rejection (or throw) of `f`, which must be an ArgumentError. */
async function refusal(f: () => unknown): Promise<ArgumentError> {
  let err: unknown = null;
  try {
    await f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ArgumentError);
  return err as ArgumentError;
}

describe('checkOptionKeys', () => {
  const KNOWN = { weights: true, config: true, dtype: true } as const satisfies KeyList<{
    weights: string;
    config?: string;
    dtype?: string;
  }>;

  it('passes undefined, {} and known keys (an undefined value included)', () => {
    expect(() => checkOptionKeys('f', undefined, KNOWN)).not.toThrow();
    expect(() => checkOptionKeys('f', {}, KNOWN)).not.toThrow();
    expect(() => checkOptionKeys('f', { weights: 'w', dtype: undefined }, KNOWN)).not.toThrow();
  });

  it('refuses the first unknown own key, with a did-you-mean and the known keys', () => {
    expect(() => checkOptionKeys('f', { weights: 'w', dtpye: 'fp16' }, KNOWN)).toThrow(
      "f: argument 'dtpye': unknown option (did you mean 'dtype'?); known options: weights, config, dtype",
    );
    expect(() => checkOptionKeys('f', { precison: 'f16' }, KNOWN)).toThrow(
      "f: argument 'precison': unknown option; known options: weights, config, dtype",
    );
    // a key from the prototype chain is not the caller's: only own enumerable keys count
    expect(() => checkOptionKeys('f', Object.create({ bogus: 1 }), KNOWN)).not.toThrow();
  });

  it('refuses a non-object, and names the key with a prefix and a custom error', () => {
    for (const bad of [null, 3, 'fp16', [1]])
      expect(() => checkOptionKeys('f', bad, KNOWN)).toThrow(/f: argument 'options': must be an object of options/);
    const fail = (w: string, a: string, d: string) => new RangeError(`${w}|${a}|${d}`);
    expect(() => checkOptionKeys('g', { Config: 1 }, KNOWN, { fail, prefix: 'x.', noun: 'argument' })).toThrow(
      new RangeError("g|x.Config|unknown argument (did you mean 'config'?); known arguments: weights, config, dtype"),
    );
  });

  it('edit distance counts a transposition as one; suggestions need a distance ≤ 2', () => {
    expect(editDistance('dtpye', 'dtype')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('DType', 'dtype')).toBe(0);
    expect(closestKey('batchsize', ['batch', 'batchSize'])).toBe('batchSize');
    expect(closestKey('outputz', ['outputs', 'profile'])).toBe('outputs');
    expect(closestKey('x', ['y', 'w'])).toBeUndefined();
    expect(closestKey('precison', ['dtype', 'kernels'])).toBeUndefined();
  });
});

describe('unknown option keys are refused by every public entry point', () => {
  it('VisionTransformer.load and forward (and the nested kernels option); correct options still work', async () => {
    const device = await testDevice();
    let err = await refusal(() => VisionTransformer.load(device, { ...vitOpts(), dtpye: 'fp16' } as never));
    expect(err.message).toBe(
      "VisionTransformer.load: argument 'dtpye': unknown option (did you mean 'dtype'?); known options: weights, config, kernels, dtype, precision, profile, onProgress, cache, signal, stallTimeoutMs",
    );
    err = await refusal(() => VisionTransformer.load(device, { ...vitOpts(), precison: 'f16' } as never));
    expect(err.message).toMatch(
      /argument 'precison': unknown option \(did you mean 'precision'\?\); known options: weights, config, kernels, dtype, precision/,
    );
    err = await refusal(() =>
      VisionTransformer.load(device, { ...vitOpts(), kernels: { gemmTyle: undefined } } as never),
    );
    expect(err.message).toMatch(/argument 'kernels\.gemmTyle': unknown option \(did you mean 'gemmTile'\?\)/);
    await refusal(() => VisionTransformer.load(device, null as never));

    const model = await VisionTransformer.load(device, { ...vitOpts(), dtype: 'fp32', profile: false });
    try {
      const S = model.config.imageSize;
      const px = new Float32Array(3 * S * S);
      err = await refusal(() => model.forward(px, 1, { output: ['embedding'] } as never));
      expect(err.message).toMatch(/^forward: argument 'output': unknown option \(did you mean 'outputs'\?\)/);
      err = await refusal(() => model.forward(px, 1, { hiddenblock: -2 } as never));
      expect(err.message).toMatch(/argument 'hiddenblock': unknown option \(did you mean 'hiddenBlock'\?\)/);
      const out = await model.forward(px, 1, { outputs: ['embedding'], maxBatch: 1 });
      expect(out.embedding!.length).toBe(model.config.embedDim);

      // encodeImages (src/model/encode.ts)
      err = await refusal(() => encodeImages(model, [fixture('rocket.png')], { batchsize: 1 } as never));
      expect(err.message).toMatch(/^encodeImages: argument 'batchsize': unknown option \(did you mean 'batchSize'\?\)/);
    } finally {
      model.destroy();
    }
  });

  it('TextTransformer.load and its forward', async () => {
    const device = await testDevice();
    const err = await refusal(() => TextTransformer.load(device, { ...clipOpts(), kernel: {} } as never));
    expect(err.message).toMatch(
      /^TextTransformer\.load: argument 'kernel': unknown option \(did you mean 'kernels'\?\); known options: weights, config, kernels, dtype/,
    );
    const text = await TextTransformer.load(device, clipOpts());
    try {
      const ids = new Int32Array(text.config.contextLength);
      const e2 = await refusal(() => text.forward(ids, 1, { maxbatch: 1 } as never));
      expect(e2.message).toMatch(/^text forward: argument 'maxbatch': unknown option \(did you mean 'maxBatch'\?\)/);
    } finally {
      text.destroy();
    }
  });

  it('CLIPModel.load, zeroShot, encodeImages and encodeTexts (onImageError keeps its own message)', async () => {
    const device = await testDevice();
    let err = await refusal(() => CLIPModel.load(device, { ...clipOpts(), vocabulary: 'a' } as never));
    expect(err.message).toMatch(
      /^CLIPModel\.load: argument 'vocabulary': unknown option; known options: weights, config, vocab,/,
    );
    err = await refusal(() => CLIPModel.load(device, { ...clipOpts(), dtyp: 'q8' } as never));
    expect(err.message).toMatch(/argument 'dtyp': unknown option \(did you mean 'dtype'\?\)/);
    const clip = await CLIPModel.load(device, clipOpts());
    try {
      const img = [fixture('rocket.png')];
      err = await refusal(() => clip.zeroShot(img, ['a', 'b'], { tempalte: 'a {}' } as never));
      expect(err.message).toMatch(
        /^zeroShot: argument 'tempalte': unknown option \(did you mean 'template'\?\); known options: batchSize, maxPixels, resolution, onProgress, template, templates$/,
      );
      err = await refusal(() => clip.zeroShot(img, ['a'], { onImageError: 'skip' } as never));
      expect(err.message).toMatch(/^zeroShot: argument 'onImageError': clip\.zeroShot returns one result per image/);
      err = await refusal(() => clip.encodeImages(img, { outputs: ['tokens'] } as never));
      expect(err.message).toMatch(/^encodeImages: argument 'outputs': unknown option; known options: resolution,/);
      err = await refusal(() => clip.encodeImages(img, { onImageError: 'skip' } as never));
      expect(err.message).toMatch(/clip\.encodeImages returns one result per image/);
      err = await refusal(() => clip.encodeTexts(['a'], { batch: 1 } as never));
      expect(err.message).toBe("encodeTexts: argument 'batch': unknown option; known options: batchSize");
      // correct options (and an onImageError left undefined, as before) still work
      const emb = await clip.encodeTexts(['a cat'], { batchSize: 1 });
      expect(emb.length).toBe(clip.embedDim);
      const imgEmb = await clip.encodeImages(img, { batchSize: 1, onImageError: undefined } as never);
      expect(imgEmb.length).toBe(clip.embedDim);
    } finally {
      clip.destroy();
    }
  });

  it('requestDevice, tuneKernels, exportOnnx, the tokenizer, openCheckpoint / openSource', async () => {
    let err = await refusal(() => requestDevice({ dawnflags: [] } as never));
    expect(err.message).toMatch(/^requestDevice: argument 'dawnflags': unknown option \(did you mean 'dawnFlags'\?\)/);
    err = await refusal(() => tuneKernels({} as GPUDevice, presetConfig('ti-16'), { iter: 1 } as never));
    expect(err.message).toMatch(/^tuneKernels: argument 'iter': unknown option \(did you mean 'iters'\?\)/);
    const json = JSON.parse(readFileSync(fixture(`${VIT}.open_clip_config.json`), 'utf8'));
    const ckpt = await openCheckpoint(fixture(`${VIT}.safetensors`));
    err = await refusal(() => exportOnnx(configFromOpenClip(json), ckpt, { batch: 1, resoltion: 84 } as never));
    expect(err.message).toMatch(/^exportOnnx: argument 'resoltion': unknown option \(did you mean 'resolution'\?\)/);
    err = await refusal(() => ClipsTokenizer.fromVocab('[PAD]\n', { contextLen: 80 } as never));
    expect(err.message).toMatch(
      /^ClipsTokenizer\.fromVocab: argument 'contextLen': unknown option; known options: contextLength$/,
    );
    err = await refusal(() => ClipsTokenizer.default({ contextlength: 80 } as never));
    expect(err.message).toMatch(/argument 'contextlength': unknown option \(did you mean 'contextLength'\?\)/);
    expect((await ClipsTokenizer.default({ contextLength: 16 })).contextLength).toBe(16);
    err = await refusal(() => openCheckpoint(fixture(`${VIT}.safetensors`), undefined, { cahce: false } as never));
    expect(err.message).toMatch(/^openCheckpoint: argument 'cahce': unknown option \(did you mean 'cache'\?\)/);
    err = await refusal(() => openSource(fixture(`${VIT}.safetensors`), undefined, { signl: null } as never));
    expect(err.message).toMatch(/^openSource: argument 'signl': unknown option \(did you mean 'signal'\?\)/);
  });

  it('preprocessImages, decodeImage, decodeResized, normalizeBatch', async () => {
    const png = fixture('rocket.png');
    const pre = { size: 14, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } as const;
    let err = await refusal(() => preprocessImages([png], { ...pre, maxPixel: 10 } as never));
    expect(err.message).toMatch(
      /^preprocessImages: argument 'maxPixel': unknown option \(did you mean 'maxPixels'\?\); known options: maxPixels, size, mean, std$/,
    );
    err = await refusal(() => decodeImage(png, { maxpixels: 10 } as never));
    expect(err.message).toMatch(/^decodeImage: argument 'maxpixels': unknown option \(did you mean 'maxPixels'\?\)/);
    err = await refusal(() => decodeResized(png, 14, { size: 14 } as never));
    expect(err.message).toMatch(/^decodeResized: argument 'size': unknown option; known options: maxPixels$/);
    const img = await decodeResized(png, 14, {});
    err = await refusal(() => normalizeBatch([img], { ...pre, sdt: [1, 1, 1] } as never));
    expect(err.message).toMatch(/^normalizeBatch: argument 'sdt': unknown option \(did you mean 'std'\?\)/);
    // the whole PreprocessOptions still works (decodeResized gets only its maxPixels)
    expect((await preprocessImages([png], { ...pre, maxPixels: 1e8 })).length).toBe(3 * 14 * 14);
  });
});
