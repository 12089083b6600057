// The CLI as a user meets it: --help everywhere, numeric options and --out checked up front with
// the option named (exit 2), a bad image among good ones reported by name without losing the
// others' results (exit 1), NaN weights refused by export-onnx, a shape mismatch named by verify,
// and no Dawn limit notices on stderr.
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { compare, readExpected } from '../../src/model/verify.js';
import { openCheckpoint } from '../../src/weights/index.js';
import { fixture } from '../helpers/fixtures.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { writeSafetensors, type StEntry } from '../helpers/safetensors-writer.js';

beforeAll(ensureBuilt);

const CASE = 'ov1-so14-84-d2';
const model = ['--weights', fixture(`${CASE}.safetensors`), '--config', fixture(`${CASE}.open_clip_config.json`)];
const tmp = () => mkdtempSync(join(tmpdir(), 'wgsl-vit-cli-'));

describe('--help', () => {
  it.each(['verify', 'embed', 'export-onnx', 'info', 'classify', 'tokenize', 'tune', 'embed-dataset', 'search'])(
    '%s --help prints its usage on stdout and exits 0',
    (cmd) => {
      const r = runCli([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`^usage: wgsl-vit ${cmd}`));
      expect(r.err).toBe('');
    },
  );
  it('wgsl-vit --help lists every command; no command is a usage error', () => {
    const r = runCli(['--help']);
    expect(r.code).toBe(0);
    for (const cmd of [
      'verify',
      'embed',
      'export-onnx',
      'info',
      'classify',
      'tokenize',
      'tune',
      'embed-dataset',
      'search',
    ])
      expect(r.out).toContain(`usage: wgsl-vit ${cmd}`);
    // The list at the top names every command whose usage follows.
    const list = r.out.slice(0, r.out.indexOf('\n\n'));
    for (const [, cmd] of r.out.matchAll(/^usage: wgsl-vit ([a-z-]+)/gm))
      expect(list).toMatch(new RegExp(`^  ${cmd} `, 'm'));
    expect(list).toMatch(/^ {2}convert /m);
    expect(runCli([]).code).toBe(2);
    expect(runCli(['frobnicate']).err).toMatch(/unknown command 'frobnicate'/);
  });
});

describe('--version', () => {
  it.each(['--version', '-V'])('%s prints the package.json version on stdout', (flag) => {
    const r = runCli([flag]);
    expect(r.code).toBe(0);
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'));
    expect(r.out).toBe(`${pkg.version}\n`);
    expect(r.err).toBe('');
  });
});

describe('usage errors name the option (exit 2, before any work)', () => {
  it.each([
    [['embed', ...model, '--batch', 'abc', 'a.png'], /--batch must be a positive integer, got 'abc'/],
    [['embed', ...model, '--resolution', 'abc', 'a.png'], /--resolution must be a positive integer, got 'abc'/],
    [['embed', ...model, '--max-pixels', '0', 'a.png'], /--max-pixels must be a positive integer, got '0'/],
    [
      ['embed', ...model, '--resolution', '85', fixture('rocket.png')],
      /--resolution 85 is not a multiple of the patch size 14/,
    ],
    [['export-onnx', ...model, '--out', '/tmp/m.onnx', '--batch', '0'], /--batch must be a positive integer, got '0'/],
    [['tune', '--model', 'ti-16', '--config', 'c.json'], /give one of --config or --model/],
    [['tune'], /give one of --config or --model/],
    [['tune', '--model', 'ti-16', '--layers', '0'], /--layers must be a positive integer, got '0'/],
    [['tune', '--model', 'ti-16', '--resolution', '100'], /--resolution 100 is not a multiple of the patch size 16/],
    [['tune', '--model', 'ti-16', '--tower', 'text'], /--tower text: --model ti-16 has no text tower/],
    [['tune', '--model', 'ti-16', '--tower', 'both'], /--tower must be 'vision' or 'text', got 'both'/],
    [
      ['embed', ...model, '--out', 'embeddings.txt', 'a.png'],
      /--out embeddings\.txt: unknown format '\.txt' \(use \.json, \.npy, \.safetensors\)/,
    ],
    [
      ['embed', ...model, '--out', '/nonexistent-dir/e.json', 'a.png'],
      /--out \/nonexistent-dir\/e\.json: the folder \/nonexistent-dir does not exist/,
    ],
    [['embed', ...model, '--out', tmpdir(), 'a.png'], /unknown format '\(none\)'|is a folder/],
    [['embed', ...model, '--bogus', 'a.png'], /Unknown option '--bogus'/],
    [['embed', ...model], /no images given/],
    [['verify'], /--expected is required/],
  ])('%j', (args, pattern) => {
    const r = runCli(args);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(pattern);
  });
});

describe('wgsl-vit embed with a bad image among good ones', () => {
  it('reports it by name, writes the others (equal to PyTorch) and exits 1', async () => {
    const dir = tmp();
    const broken = join(dir, 'broken.jpg');
    writeFileSync(broken, readFileSync(fixture('jpeg/420-q90-97x61.jpg')).subarray(0, 700));
    const images = [
      fixture('astronaut.png'),
      broken,
      join(dir, 'missing.png'),
      fixture('chelsea.png'),
      fixture('coffee.png'),
    ];
    const r = runCli(['embed', ...model, ...images, '--out', join(dir, 'e.json'), '--batch', '2']);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(/left out .*broken\.jpg: JPEG file is truncated/);
    expect(r.err).toMatch(/left out .*missing\.png: cannot read/);
    expect(r.err).toMatch(/^3 images, .*; 2 left out \(see above\)$/m);
    const j = JSON.parse(readFileSync(join(dir, 'e.json'), 'utf8'));
    expect(j.images).toEqual([images[0], images[3], images[4]]);
    expect(j.failed.map((f: { index: number }) => f.index)).toEqual([1, 2]);
    const exp = await readExpected(fixture(`${CASE}.expected.safetensors`));
    expect(compare('embedding', Float32Array.from(j.embedding.flat()), exp.outputs.embedding!.data).pass).toBe(true);
  });

  it('prints no Dawn limit notices', () => {
    const r = runCli(['info']);
    expect(r.code).toBe(0);
    expect(r.err).not.toMatch(/artificially reduced/);
  });
});

describe('export-onnx and verify', () => {
  it('export-onnx refuses NaN weights, naming the key, and writes nothing', async () => {
    const ck = await openCheckpoint(fixture(`${CASE}.safetensors`));
    const e = new Map<string, StEntry>();
    for (const [k, t] of ck.tensors) e.set(k, { shape: [...t.shape], data: await ck.read(k) });
    e.get('visual.transformer.resblocks.1.mlp.c_fc.weight')!.data[3] = NaN;
    const dir = tmp();
    writeFileSync(join(dir, 'nan.safetensors'), writeSafetensors(e));
    const r = runCli([
      'export-onnx',
      '--weights',
      join(dir, 'nan.safetensors'),
      '--config',
      fixture(`${CASE}.open_clip_config.json`),
      '--out',
      join(dir, 'm.onnx'),
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /nan\.safetensors: key 'visual\.transformer\.resblocks\.1\.mlp\.c_fc\.weight': non-finite value NaN at flat index 3: refusing to export/,
    );
    expect(existsSync(join(dir, 'm.onnx'))).toBe(false);
  });

  it('verify against an expected file of another model says "shape mismatch" with both shapes', () => {
    const r = runCli([
      'verify',
      '--weights',
      fixture('ov1-clip-ti16-224-t2.bin'),
      '--config',
      fixture('ov1-clip-ti16-224-t2.open_clip_config.json'),
      '--expected',
      fixture('ov1-ti16-224-d1.expected.safetensors'),
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /^embedding +FAIL: shape mismatch: this model gives \[2, 64\], the expected file has \[2, 192\]$/m,
    );
    expect(r.out.trim().split('\n').pop()).toMatch(/^\d passed, [1-4] failed$/);
  });
});

describe('text and CLIP commands', () => {
  const CLIP = 'ov1-clip-ti16-224-t2';
  const clipModel = ['--weights', fixture(`${CLIP}.bin`), '--config', fixture(`${CLIP}.open_clip_config.json`)];
  const tokCases = () =>
    (
      JSON.parse(readFileSync(fixture('clips-tokenizer.expected.json'), 'utf8')) as {
        cases: { text: string; ids: number[] }[];
      }
    ).cases;

  it('tokenize prints the 80 ids per text (plain and --json), equal to the fixture', () => {
    const cases = tokCases().slice(0, 6);
    const j = runCli(['tokenize', '--json', ...cases.map((c) => c.text)]);
    expect(j.code, j.err).toBe(0);
    expect(JSON.parse(j.out)).toEqual(cases.map((c) => c.ids));
    const plain = runCli(['tokenize', cases[0]!.text]);
    expect(plain.out.trim()).toBe(cases[0]!.ids.join(' '));
    expect(runCli(['tokenize']).code).toBe(2);
  });

  it('verify on a CLIP expected file reports every text row and passes', () => {
    const r = runCli(['verify', '--expected', fixture(`${CLIP}.expected.safetensors`)]);
    expect(r.code, r.out + r.err).toBe(0);
    for (const k of [
      'text_ids \\(exact\\)',
      'text_block0',
      'text_embedding',
      'image_embedding',
      'logits_per_image',
      'probs',
    ])
      expect(r.out).toMatch(new RegExp(`^${k} .* ok$`, 'm'));
    expect(r.out.trim().split('\n').pop()).toBe('6 passed, 0 failed');
  });

  it("classify --json ranks the labels as PyTorch's probs do", async () => {
    const exp = await readExpected(fixture(`${CLIP}.expected.safetensors`));
    const meta = exp.meta as unknown as { labels: string[]; images: string[] };
    const probs = await exp.ckpt.read('probs');
    const r = runCli([
      'classify',
      ...clipModel,
      '--labels',
      meta.labels.join(','),
      '--json',
      '--top',
      '5',
      ...meta.images.map((i) => fixture(`${i}.png`)),
    ]);
    expect(r.code, r.err).toBe(0);
    const got = JSON.parse(r.out) as { image: string; labels: { label: string; score: number }[] }[];
    expect(got.length).toBe(4);
    got.forEach((g, i) => {
      const want = meta.labels
        .map((label, j) => ({ label, score: probs[i * 5 + j]! }))
        .sort((a, b) => b.score - a.score);
      expect(g.labels.map((x) => x.label)).toEqual(want.map((x) => x.label));
      g.labels.forEach((x, j) => expect(Math.abs(x.score - want[j]!.score)).toBeLessThan(1e-4));
    });
    expect(runCli(['classify', ...clipModel, '--labels', ' , ', fixture('rocket.png')]).err).toMatch(
      /--labels has no labels/,
    );
    expect(
      runCli(['classify', ...clipModel, '--labels', 'a,b', '--template', 'no slot', fixture('rocket.png')]).err,
    ).toMatch(/--template "no slot" has no \{\}/);
  });

  it('embed --text writes text embeddings; a vision-only checkpoint is named', () => {
    const dir = tmp();
    const r = runCli([
      'embed',
      ...clipModel,
      '--text',
      'a photo of a cat.',
      '--text',
      'a dog',
      '--out',
      join(dir, 't.json'),
    ]);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(readFileSync(join(dir, 't.json'), 'utf8'));
    expect(j.texts).toEqual(['a photo of a cat.', 'a dog']);
    expect(j.text_embedding.length).toBe(2);
    expect(j.text_embedding[0].length).toBe(64);
    const ov2 = runCli([
      'embed',
      '--weights',
      fixture('ov2-h14-224-d1.safetensors'),
      '--config',
      fixture('ov2-h14-224-d1.open_clip_config.json'),
      '--text',
      'a cat',
    ]);
    expect(ov2.code).toBe(1);
    expect(ov2.err).toMatch(
      /vision-only model \(OpenVision 2, or an OpenVision 1 vision tower saved alone\) has no text tower/,
    );
  });
});

const clip = [
  '--weights',
  fixture('ov1-clip-ti16-224-t2.bin'),
  '--config',
  fixture('ov1-clip-ti16-224-t2.open_clip_config.json'),
];

describe('inputs the CLI would have ignored, refused as the API refuses them (exit 2)', () => {
  it('classify --labels with an empty label names it', () => {
    const r = runCli(['classify', ...clip, '--labels', 'cat,,dog', fixture('rocket.png')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--labels: label 2 of 3 is empty/);
  });
  it('embed --text with --tokens or --resolution names them', () => {
    const r = runCli(['embed', ...clip, '--text', 'a cat', '--tokens', '--resolution', '112']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--tokens, --resolution are for images, not --text/);
  });
});

describe('tune and its profile store', () => {
  it('an unwritable store is named before any measuring, and its advice works', () => {
    const dir = tmp();
    // A directory where the profile file should be.
    const r = runCli(['tune', '--model', 'ti-16', '--layers', '1', '--profiles', dir]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`${dir}.*cannot be written.*--no-save`));
    expect(r.out).not.toMatch(/candidate/); // nothing was timed
  });
  it('a corrupt profile file stops no other command: classify runs with one warning naming it', () => {
    const dir = tmp();
    const file = join(dir, 'profiles.json');
    writeFileSync(file, '{ "version": 1, "prof');
    const r = spawnSync(
      process.execPath,
      [
        join(import.meta.dirname, '..', '..', 'dist', 'tools', 'cli.js'),
        'classify',
        ...clip,
        '--labels',
        'cat,rocket',
        fixture('rocket.png'),
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, WGSL_VIT_PROFILES: file, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
      },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/rocket/);
    expect(r.stderr.match(/tuning profile ignored/g)?.length).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`${file}.*is not valid JSON`));
  });
});

describe('stdout carries the data, stderr what is for the person watching (docs/cli.md)', () => {
  it('embed, embed --text, classify, export-onnx', () => {
    const e = runCli(['embed', ...model, fixture('rocket.png')]);
    expect(e.code, e.err).toBe(0);
    expect(e.out.trim().split('\n')).toEqual([expect.stringMatching(/rocket\.png: \[.*\] \(144 values\)$/)]);
    expect(e.err).toMatch(/^1 images, [\d.]+ s/m);
    const t = runCli(['embed', ...clip, '--text', 'a cat']);
    expect(t.code, t.err).toBe(0);
    expect(t.out.trim().split('\n')).toEqual([expect.stringMatching(/^"a cat": \[.*\] \(64 values\)$/)]);
    expect(t.err).toMatch(/^1 texts, [\d.]+ s$/m);
    const c = runCli(['classify', ...clip, '--labels', 'a rocket,a cat', fixture('rocket.png')]);
    expect(c.code, c.err).toBe(0);
    expect(c.out.trim().split('\n')).toEqual([
      expect.stringMatching(/rocket\.png$/),
      expect.stringMatching(/%.*a (rocket|cat)$/),
      expect.stringMatching(/%.*a (rocket|cat)$/),
    ]);
    expect(c.err).toMatch(/^1 images × 2 labels/m);
    const dir = tmp();
    const o = runCli(['export-onnx', ...model, '--out', join(dir, 'm.onnx')]);
    expect(o.code, o.err).toBe(0);
    expect(o.out).toBe('');
    expect(o.err).toMatch(/^wrote .*m\.onnx \([\d.]+ MiB\)$/m);
  });
});
