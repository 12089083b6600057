// --no-cache: every command that loads weights from a URL (classify, embed, convert, export-onnx)
// takes it, and with it the download cache folder stays empty. The built CLI runs in a child
// process (asynchronously: the fixture server answers from this process), the weights come from a
// local HTTP server on 127.0.0.1.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { startFixtureServer, type FixtureServer } from '../helpers/fixture-server.js';
import { fixture } from '../helpers/fixtures.js';

const CASE = 'ov1-ti16-224-d1';
const cli = join(import.meta.dirname, '..', '..', 'dist', 'tools', 'cli.js');
let server: FixtureServer;

beforeAll(async () => {
  ensureBuilt();
  server = await startFixtureServer();
});
afterAll(() => server.close());

function run(args: string[], cache: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) =>
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { ...process.env, WGSL_VIT_CACHE: cache }, timeout: 120_000 },
      (e, out, err) => done({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }),
    ),
  );
}
/** Every file in the cache folder's entries. */
const cached = (cache: string) =>
  readdirSync(cache, { recursive: true, withFileTypes: true }).filter((d) => d.isFile());

describe('--no-cache', () => {
  it.each(['classify', 'embed', 'convert', 'export-onnx'])('%s --help names --no-cache', (cmd) => {
    expect(runCli([cmd, '--help']).out).toMatch(/--no-cache +for an http\(s\) --weights/);
  });

  it('convert and export-onnx from a URL with --no-cache leave the cache empty; without it they fill it', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'wgsl-vit-cli-cache-'));
    const out = mkdtempSync(join(tmpdir(), 'wgsl-vit-cli-out-'));
    const weights = ['--weights', `${server.base}/range/${CASE}.safetensors`];
    const config = ['--config', fixture(`${CASE}.open_clip_config.json`)];
    const convert = ['convert', ...weights, ...config, '--dtype', 'fp16', '--out', join(out, 'm.safetensors')];
    const onnx = ['export-onnx', ...weights, ...config, '--out', join(out, 'm.onnx')];
    for (const args of [convert, onnx]) {
      const r = await run([...args, '--no-cache'], cache);
      expect(r.code, r.err).toBe(0);
      expect(cached(cache), args[0]).toEqual([]);
    }
    const r = await run(convert, cache);
    expect(r.code, r.err).toBe(0);
    expect(cached(cache).length).toBeGreaterThan(0);
  });
});
