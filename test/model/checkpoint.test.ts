// Weight files: the torch zip (.bin) and safetensors readers agree; broken files and files that do
// not fit the config give a CheckpointError / ConfigError naming the file, key or shape, and leave
// no GPU buffer behind.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CheckpointError, ConfigError } from '../../src/errors.js';
import { openCheckpoint, openSafetensors } from '../../src/weights/index.js';
import { VisionTransformer } from '../../src/model/vit.js';
import { compare, readExpected } from '../../src/model/verify.js';
import { configFromOpenClip } from '../../src/model/config.js';
import { fixture, FIXTURES } from '../helpers/fixtures.js';
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
              if (bp === 'destroy')
                return () => {
                  stats.destroyed++;
                  bt.destroy();
                };
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
  return { device: proxy, stats };
}

async function expectLoadError(
  weights: Uint8Array,
  pattern: RegExp,
  type: abstract new (...args: never[]) => Error = CheckpointError,
) {
  const { device, stats } = await countingDevice();
  const err = await VisionTransformer.load(device, { weights, config: config() }).then(
    () => null,
    (e) => e,
  );
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
      const a = await st.read(k),
        b = await bin.read(k);
      expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer)), k).toBe(true);
    }
  });

  it('the .bin runs through the model like the .safetensors', async () => {
    const device = await testDevice();
    const m = await VisionTransformer.load(device, {
      weights: fixture(`${CASE}.bin`),
      config: fixture(`${CASE}.open_clip_config.json`),
    });
    m.destroy();
  });

  it('a truncated safetensors file', async () => {
    const bytes = readFileSync(fixture(`${CASE}.safetensors`));
    await expectLoadError(
      bytes.subarray(0, bytes.length - 1000),
      /<bytes>: key '.+': data ends at byte \d+ but the file has \d+ bytes \(truncated\?\)/,
    );
    await expectLoadError(bytes.subarray(0, 5), /shorter than the 8-byte header length/);
    await expectLoadError(bytes.subarray(0, 500), /header length \d+ does not fit the file/);
  });

  it('a truncated or corrupted .bin', async () => {
    const bytes = readFileSync(fixture(`${CASE}.bin`));
    await expectLoadError(
      bytes.subarray(0, bytes.length - 5000),
      /not a readable torch zip archive|cannot read archive entry/,
    );
    const corrupt = Uint8Array.from(bytes);
    corrupt.fill(0x41, 200, 1500); // inside data.pkl
    await expectLoadError(corrupt, /data\.pkl|cannot read archive entry/);
  });

  it('a header that is not JSON', async () => {
    const bytes = Uint8Array.from(readFileSync(fixture(`${CASE}.safetensors`)));
    bytes[8] = 0x7b;
    bytes[9] = 0x7b;
    await expectLoadError(bytes, /header is not valid UTF-8 JSON/);
  });

  it('a header that lies about sizes', async () => {
    const e = await fixtureEntries();
    await expectLoadError(
      writeSafetensors(e, (h) => {
        h['visual.proj'].shape = [192, 193];
      }),
      /key 'visual\.proj': data_offsets .* hold 147456 bytes but shape \[192, 193\] of F32 needs 148224/,
    );
    await expectLoadError(
      writeSafetensors(e, (h) => {
        h['visual.proj'].data_offsets[1] += 4;
        h['visual.proj'].shape = [192 * 192 + 1];
      }),
      /data \[\d+, \d+\] overlaps the end of 'visual\.proj'|visual\.proj'.*data ends at byte/,
    );
    // a vision tensor stored as integers (4-byte I32, so the sizes agree) is listed, then refused by the layout check
    await expectLoadError(
      writeSafetensors(e, (h) => {
        h['visual.proj'].dtype = 'I32';
      }),
      /key 'visual\.proj': stored as I32, which is not a float type/,
    );
    await expectLoadError(
      writeSafetensors(e, (h) => {
        h['visual.proj'].dtype = 'Q4';
      }),
      /key 'visual\.proj': dtype "Q4" is not a safetensors dtype/,
    );
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
    await expectLoadError(
      writeSafetensors(e),
      /key 'visual\.transformer\.resblocks\.0\.attn\.in_proj_weight': shape \[192, 576\] does not match the config's \[576, 192\]/,
    );
  });

  it('NaN weights', async () => {
    const e = await fixtureEntries();
    e.get('visual.ln_post.bias')!.data[7] = NaN;
    await expectLoadError(writeSafetensors(e), /key 'visual\.ln_post\.bias': non-finite value NaN at flat index 7/);
  });

  it('a resolution not divisible by the patch size', async () => {
    const device = await testDevice();
    const m = await VisionTransformer.load(device, { weights: fixture(`${CASE}.safetensors`), config: config() });
    await expect(m.forward(new Float32Array(3 * 100 * 100), 1, { resolution: 100 })).rejects.toThrow(
      /resolution 100 is not a positive multiple of the patch size 16/,
    );
    await expect(m.forward(new Float32Array(10), 1)).rejects.toThrow(
      /argument 'pixels': has 10 values; \[1, 3, 224, 224\] needs 150528/,
    );
    m.destroy();
    const bad = JSON.parse(readFileSync(fixture(`${CASE}.open_clip_config.json`), 'utf8'));
    bad.model_cfg.vision_cfg.image_size = 230;
    expect(() => configFromOpenClip(bad, 'bad.json')).toThrow(ConfigError);
    expect(() => configFromOpenClip(bad, 'bad.json')).toThrow(
      /bad\.json: image_size 230 is not divisible by patch_size 16/,
    );
  });
});

describe('checkpoint files: what the file is, and what was expected', () => {
  it('a flipped byte in the weight data of a .bin fails its zip CRC-32', async () => {
    const bytes = Uint8Array.from(readFileSync(fixture(`${CASE}.bin`)));
    bytes[Math.floor(bytes.length * 0.5)]! ^= 0x10;
    await expectLoadError(
      bytes,
      /<bytes>: archive entry ov1-ti16-224-d1\/data\/\d+ fails its CRC-32 check: the file is corrupt/,
    );
  });

  it('a directory, a missing file, an empty file, a legacy torch pickle and a PNG are each named for what they are', async () => {
    await expectLoadError(FIXTURES as never, /fixtures: is a directory; expected a checkpoint file/);
    await expectLoadError(
      '/nonexistent/open_clip_pytorch_model.bin' as never,
      /\/nonexistent\/open_clip_pytorch_model\.bin: no such file/,
    );
    await expectLoadError(new Uint8Array(0), /<bytes>: not a safetensors file: 0 bytes/);
    // torch.save(..., _use_new_zipfile_serialization=False): pickle protocol 2, then torch's magic number
    const legacy = Uint8Array.from([
      0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
    ]);
    await expectLoadError(
      legacy,
      /<bytes>: is a legacy \(pre-zip\) torch\.save pickle, which is not supported: re-save it with torch >= 1\.6/,
    );
    await expectLoadError(
      readFileSync(fixture('rocket.png')),
      /<bytes>: is neither a torch zip checkpoint \(\.bin, starts with "PK"\) nor a safetensors file .*it starts with 89 50 4e 47/,
    );
  });

  it('a .bin lists integer, bool, 0-d, unknown and non-contiguous storages; reading the non-float ones is refused by name', async () => {
    const ck = await openCheckpoint(fixture('checkpoints/storage-types.bin'));
    const dtypes = Object.fromEntries([...ck.tensors].map(([k, t]) => [k, `${t.dtype}[${t.shape.join(',')}]`]));
    expect(dtypes).toEqual({
      'visual.class_embedding': 'F32[4]',
      logit_scale: 'F32[]',
      'text.position_ids': 'torch.LongStorage[1,6]',
      'text.mask': 'torch.BoolStorage[2,2]',
      'text.quantized': 'torch.QUInt8Storage[3]',
      'visual.transposed': 'F32[2,3]',
    });
    expect(Array.from(await ck.read('visual.class_embedding'))).toEqual([0.5, -1, 2, 0.25]);
    expect(Array.from(await ck.read('logit_scale'))).toEqual([Math.fround(4.6052)]);
    await expect(ck.read('text.position_ids')).rejects.toThrow(
      /key 'text\.position_ids': stored as torch\.LongStorage, which is not a float type/,
    );
    await expect(ck.read('text.quantized')).rejects.toThrow(
      /key 'text\.quantized': stored as torch\.QUInt8Storage, which is not a float type/,
    );
    await expect(ck.read('visual.transposed')).rejects.toThrow(
      /key 'visual\.transposed': non-contiguous tensor of \[2, 3\]/,
    );
  });

  it('a released OpenVision 1 CLIP .bin (text tower, 0-d logit_scale) loads as the vision model; its image embeddings match PyTorch', async () => {
    const exp = await readExpected(fixture('ov1-clip-ti16-224-t2.expected.safetensors'));
    const device = await testDevice();
    const m = await VisionTransformer.load(device, {
      weights: fixture('ov1-clip-ti16-224-t2.bin'),
      config: fixture('ov1-clip-ti16-224-t2.open_clip_config.json'),
    });
    try {
      const out = await m.forward(exp.input, exp.inputShape[0]!, { outputs: ['embedding'] });
      const c = compare('embedding', out.embedding!, await exp.ckpt.read('image_embedding'));
      expect(c.pass, `max abs ${c.maxAbs}, cosine ${c.cosine}`).toBe(true);
    } finally {
      m.destroy();
    }
  });

  it('extra integer and 0-d tensors outside the vision tower are skipped', async () => {
    const e = await fixtureEntries();
    e.set('text.position_ids', { shape: [1, 80], data: new Uint8Array(8 * 80), dtype: 'I64' });
    e.set('text.attn_mask', { shape: [80, 80], data: new Uint8Array(80 * 80), dtype: 'BOOL' });
    e.set('logit_scale', { shape: [], data: new Float32Array([4.6]) });
    const { device, stats } = await countingDevice();
    const m = await VisionTransformer.load(device, { weights: writeSafetensors(e), config: config() });
    m.destroy();
    expect(stats.created).toBeGreaterThan(0);
  });
});

describe('safetensors: what the reference implementation rejects', () => {
  it('a gap between tensors', async () => {
    const e = await fixtureEntries();
    const second = [...e.keys()][1]!;
    await expectLoadError(
      writeSafetensors(e, (h) => {
        delete h[second];
      }),
      /data starts at byte \d+ of the data section, leaving a gap after the end of '.+' \(byte \d+\)/,
    );
  });
  it('trailing bytes after the last tensor', async () => {
    await expectLoadError(
      writeSafetensors(await fixtureEntries(), undefined, undefined, 12),
      /<bytes>: 12 bytes after the last tensor's data: the header does not describe the whole file/,
    );
  });
  it('a duplicate key', async () => {
    const e = await fixtureEntries();
    const first = [...e.keys()][0]!;
    const withDup = (json: string) =>
      json.replace('{', `{${JSON.stringify(first)}:${JSON.stringify(JSON.parse(json)[first])},`);
    await expectLoadError(
      writeSafetensors(e, undefined, withDup),
      new RegExp(`key '${first.replace(/\./g, '\\.')}': appears twice in the header`),
    );
  });
  it('non-string metadata', async () => {
    const e = await fixtureEntries();
    await expectLoadError(
      writeSafetensors(e, (h) => {
        h.__metadata__ = { format: 'pt', layers: 1 };
      }),
      /__metadata__ must map strings to strings, got \{"format":"pt","layers":1\}/,
    );
  });
  it('a header that does not start with {', async () => {
    const bytes = writeSafetensors(await fixtureEntries(), undefined, (j) => ` ${j}`);
    await expectLoadError(
      bytes,
      /<bytes>: is neither a torch zip checkpoint .* nor a safetensors file \(8-byte length, then '\{'\)/,
    );
    await expect(openSafetensors({ name: 'x.safetensors', blob: new Blob([bytes]) })).rejects.toThrow(
      /x\.safetensors: header is not a JSON object starting with '\{'/,
    );
  });
});
