// Weight files: the torch zip (.bin) and safetensors readers agree; broken files and files that do
// not fit the config give a CheckpointError / ConfigError naming the file, key or shape, and leave
// no GPU buffer behind.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CheckpointError, ConfigError } from '../../src/errors.js';
import { openCheckpoint } from '../../src/weights/index.js';
import { VisionTransformer } from '../../src/model/vit.js';
import { configFromOpenClip } from '../../src/model/config.js';
import { fixture } from '../helpers/fixtures.js';
import { testDevice } from '../helpers/gpu.js';
import { writeSafetensors, type StEntry } from '../helpers/safetensors-writer.js';

const CASE = 'ov1-ti16-224-d1';
const config = () => configFromOpenClip(JSON.parse(readFileSync(fixture(`${CASE}.open_clip_config.json`), 'utf8')));

async function fixtureEntries(): Promise<Map<string, StEntry>> {
  const ck = await openCheckpoint(fixture(`${CASE}.safetensors`));
  const m = new Map<string, StEntry>();
  for (const [k, t] of ck.tensors) m.set(k, { shape: [...t.shape], data: await ck.read(k) });
  return m;
}

/** A device whose createBuffer is counted, with each buffer's destroy() counted too. */
async function countingDevice() {
  const device = await testDevice();
  const stats = { created: 0, destroyed: 0 };
  const proxy = new Proxy(device, {
    get(target, prop) {
      if (prop === 'createBuffer') {
        return (desc: GPUBufferDescriptor) => {
          const b = target.createBuffer(desc);
          stats.created++;
          return new Proxy(b, {
            get(bt, bp) {
              if (bp === 'destroy') return () => { stats.destroyed++; bt.destroy(); };
              const v = Reflect.get(bt, bp);
              return typeof v === 'function' ? v.bind(bt) : v;
            },
          });
        };
      }
      const v = Reflect.get(target, prop);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { device: proxy as GPUDevice, stats };
}

async function expectLoadError(weights: Uint8Array, pattern: RegExp, type: Function = CheckpointError) {
  const { device, stats } = await countingDevice();
  const err = await VisionTransformer.load(device, { weights, config: config() }).then(() => null, (e) => e);
  expect(err).toBeInstanceOf(type);
  expect(String(err.message)).toMatch(pattern);
  expect(stats.destroyed, 'every GPU buffer created during the failed load is destroyed').toBe(stats.created);
}

describe('checkpoint files', () => {
  it('the .bin (torch zip pickle) and the .safetensors of the same weights load to identical tensors', async () => {
    const st = await openCheckpoint(fixture(`${CASE}.safetensors`));
    const bin = await openCheckpoint(fixture(`${CASE}.bin`));
    expect(bin.format).toBe('torch-zip');
    expect([...bin.tensors.keys()].sort()).toEqual([...st.tensors.keys()].sort());
    for (const [k, t] of st.tensors) {
      expect(bin.tensors.get(k)!.shape, k).toEqual(t.shape);
      const a = await st.read(k), b = await bin.read(k);
      expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer)), k).toBe(true);
    }
  });

  it('the .bin runs through the model like the .safetensors', async () => {
    const device = await testDevice();
    const m = await VisionTransformer.load(device, { weights: fixture(`${CASE}.bin`), config: fixture(`${CASE}.open_clip_config.json`) });
    m.destroy();
  });

  it('a truncated safetensors file', async () => {
    const bytes = readFileSync(fixture(`${CASE}.safetensors`));
    await expectLoadError(bytes.subarray(0, bytes.length - 1000), /<bytes>: key '.+': data ends at byte \d+ but the file has \d+ bytes \(truncated\?\)/);
    await expectLoadError(bytes.subarray(0, 5), /shorter than the 8-byte header length/);
    await expectLoadError(bytes.subarray(0, 500), /header length \d+ does not fit the file/);
  });

  it('a truncated or corrupted .bin', async () => {
    const bytes = readFileSync(fixture(`${CASE}.bin`));
    await expectLoadError(bytes.subarray(0, bytes.length - 5000), /not a readable torch zip archive|cannot read archive entry/);
    const corrupt = Uint8Array.from(bytes);
    corrupt.fill(0x41, 200, 1500); // inside data.pkl
    await expectLoadError(corrupt, /data\.pkl|cannot read archive entry/);
  });

  it('a header that is not JSON', async () => {
    const bytes = Uint8Array.from(readFileSync(fixture(`${CASE}.safetensors`)));
    bytes[8] = 0x7b; bytes[9] = 0x7b;
    await expectLoadError(bytes, /header is not valid UTF-8 JSON/);
  });

  it('a header that lies about sizes', async () => {
    const e = await fixtureEntries();
    await expectLoadError(writeSafetensors(e, (h) => { h['visual.proj'].shape = [192, 193]; }), /key 'visual\.proj': data_offsets .* hold 147456 bytes but shape \[192, 193\] of F32 needs 148224/);
    await expectLoadError(writeSafetensors(e, (h) => { h['visual.proj'].data_offsets[1] += 4; h['visual.proj'].shape = [192 * 192 + 1]; }), /data overlaps that of 'visual\.proj'|visual\.proj'.*data ends at byte/);
    await expectLoadError(writeSafetensors(e, (h) => { h['visual.proj'].dtype = 'I64'; }), /key 'visual\.proj': dtype "I64" is not supported/);
  });

  it('a missing key', async () => {
    const e = await fixtureEntries();
    e.delete('visual.transformer.resblocks.0.mlp.c_fc.bias');
    await expectLoadError(writeSafetensors(e), /key 'visual\.transformer\.resblocks\.0\.mlp\.c_fc\.bias': missing/);
  });

  it('an unexpected key inside the vision tower (text-tower keys are ignored)', async () => {
    const e = await fixtureEntries();
    e.set('logit_scale', { shape: [], data: new Float32Array([1]) });
    e.set('visual.ln_pre.weight', { shape: [192], data: new Float32Array(192) });
    await expectLoadError(writeSafetensors(e), /key 'visual\.ln_pre\.weight': unexpected key/);
  });

  it('a wrong shape', async () => {
    const e = await fixtureEntries();
    const t = e.get('visual.transformer.resblocks.0.attn.in_proj_weight')!;
    e.set('visual.transformer.resblocks.0.attn.in_proj_weight', { shape: [192, 576], data: t.data });
    await expectLoadError(writeSafetensors(e), /key 'visual\.transformer\.resblocks\.0\.attn\.in_proj_weight': shape \[192, 576\] does not match the config's \[576, 192\]/);
  });

  it('NaN weights', async () => {
    const e = await fixtureEntries();
    e.get('visual.ln_post.bias')!.data[7] = NaN;
    await expectLoadError(writeSafetensors(e), /key 'visual\.ln_post\.bias': non-finite value NaN at flat index 7/);
  });

  it('a resolution not divisible by the patch size', async () => {
    const device = await testDevice();
    const m = await VisionTransformer.load(device, { weights: fixture(`${CASE}.safetensors`), config: config() });
    await expect(m.forward(new Float32Array(3 * 100 * 100), 1, { resolution: 100 })).rejects.toThrow(/resolution 100 is not a positive multiple of the patch size 16/);
    await expect(m.forward(new Float32Array(10), 1)).rejects.toThrow(/argument 'pixels': has 10 values; \[1, 3, 224, 224\] needs 150528/);
    m.destroy();
    const bad = JSON.parse(readFileSync(fixture(`${CASE}.open_clip_config.json`), 'utf8'));
    bad.model_cfg.vision_cfg.image_size = 230;
    expect(() => configFromOpenClip(bad, 'bad.json')).toThrow(ConfigError);
    expect(() => configFromOpenClip(bad, 'bad.json')).toThrow(/bad\.json: image_size 230 is not divisible by patch_size 16/);
  });
});
