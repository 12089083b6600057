// `wgsl-vit tokenize --config`: the ids of the tokenizer a config's checkpoint uses — CLIPS for
// OpenVision 1 (hf_tokenizer_name), OpenAI's BPE for OpenAI's layout — equal to the fixtures; a
// vocabulary file (.gz too) for that tokenizer; a config whose tokenizer is not implemented named.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../helpers/fixtures.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';

beforeAll(ensureBuilt);

const cases = (name: string) =>
  (JSON.parse(readFileSync(fixture(name), 'utf8')) as { cases: { text: string; ids: number[] }[] }).cases;
const VOCAB_GZ = join(import.meta.dirname, '..', '..', 'src', 'text', 'bpe_simple_vocab_16e6.txt.gz');

describe('wgsl-vit tokenize --config', () => {
  it("an OpenAI-layout config: OpenAI's BPE, 77 ids per text, equal to the fixture (plain and --json)", () => {
    const bpe = cases('openai-bpe-tokenizer.expected.json');
    const cfg = fixture('oai-clip-b16-64-t1.open_clip_config.json');
    const j = runCli(['tokenize', '--config', cfg, '--json', ...bpe.map((c) => c.text)]);
    expect(j.code, j.err).toBe(0);
    expect(JSON.parse(j.out)).toEqual(bpe.map((c) => c.ids));
    const plain = runCli(['tokenize', '--config', cfg, bpe[0]!.text]);
    expect(plain.out.trim()).toBe(bpe[0]!.ids.join(' '));
  });

  it('an OpenVision 1 config: CLIPS, 80 ids, equal to the fixture', () => {
    const clips = cases('clips-tokenizer.expected.json').slice(0, 4);
    const r = runCli([
      'tokenize',
      '--config',
      fixture('ov1-clip-ti16-224-t2.open_clip_config.json'),
      '--json',
      ...clips.map((c) => c.text),
    ]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual(clips.map((c) => c.ids));
  });

  it('takes a vocabulary file for the config tokenizer, gzipped or not, and --context', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-tok-'));
    const txt = join(dir, 'bpe.txt');
    writeFileSync(txt, gunzipSync(readFileSync(VOCAB_GZ)));
    const cfg = fixture('oai-clip-b16-64-t1.open_clip_config.json');
    for (const vocab of [VOCAB_GZ, txt]) {
      const r = runCli(['tokenize', '--config', cfg, '--vocab', vocab, '--context', '6', 'a photo of a dog.']);
      expect(r.code, r.err).toBe(0);
      expect(r.out.trim()).toBe('49406 320 1125 539 320 49407');
    }
  });

  it('names the config and key of a tokenizer that is not implemented, and an unreadable config (exit 1)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-tok-'));
    const cfg = JSON.parse(readFileSync(fixture('oai-clip-b16-64-t1.open_clip_config.json'), 'utf8'));
    cfg.model_cfg.text_cfg.hf_tokenizer_name = 'timm/ViT-B-16-SigLIP';
    const path = join(dir, 'siglip.json');
    writeFileSync(path, JSON.stringify(cfg));
    const r = runCli(['tokenize', '--config', path, 'x']);
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      `${path}: model_cfg.text_cfg.hf_tokenizer_name = "timm/ViT-B-16-SigLIP": only "bert-base-uncased"`,
    );
    const vision = runCli(['tokenize', '--config', fixture('ov1-ti16-224-d1.open_clip_config.json'), 'x']);
    expect(vision.code).toBe(1);
    expect(vision.err).toMatch(/has no model_cfg\.text_cfg: a vision-only model/);
    const missing = runCli(['tokenize', '--config', join(dir, 'nope.json'), 'x']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nope\.json: cannot read/);
  });
});
