// The demo page in headless Chromium (Debian's package, installed by `npm run setup`): load the
// page, choose a checkpoint, its config and an image, click Embed. Where Chromium exposes a WebGPU
// adapter the embedding must match PyTorch's; where it exposes none (a machine without a GPU may
// have no WebGPU in Chromium), the page must say so, and that error path is what is checked.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { compare, readExpected } from '../../src/model/verify.js';
import { fixture } from '../helpers/fixtures.js';

const root = join(import.meta.dirname, '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let server: Server;
let browser: Browser;
let url: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: run \`npm run setup\` (installs Debian's chromium) or set CHROMIUM_PATH`);
  if (!existsSync(join(root, 'dist', 'web', 'app.js'))) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
  const { serve } = await import(join(root, 'tools', 'serve-web.mjs'));
  server = await serve(0);
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--enable-unsafe-webgpu', '--enable-features=Vulkan',
      '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  server?.close();
});

describe('demo page (headless Chromium)', () => {
  it('says so when the browser has no WebGPU, and asks for missing files', async () => {
    const page = await browser.newPage();
    await page.addInitScript(() => { Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }); });
    await page.goto(url);
    await page.waitForFunction(() => (window as any).wgslVit?.ready === true);
    expect(await page.textContent('#adapter')).toBe('WebGPU adapter: none');
    expect(await page.textContent('#error')).toMatch(/WebGPU is not available here: .*no navigator\.gpu/);
    await page.click('#run');
    expect(await page.textContent('#error')).toBe('Choose a checkpoint, its open_clip_config.json and an image.');
    await page.close();
  });

  it('embeds an image chosen by the user, or reports that WebGPU is unavailable', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForFunction(() => (window as any).wgslVit?.ready === true, undefined, { timeout: 60_000 });
    const adapter = await page.evaluate(() => (window as any).wgslVit.adapter as string | undefined);
    const name = 'ov2-h14-224-d1';
    await page.setInputFiles('#weights', fixture(`${name}.safetensors`));
    await page.setInputFiles('#config', fixture(`${name}.open_clip_config.json`));
    await page.setInputFiles('#image', fixture('rocket.png'));
    await page.click('#run');
    await page.waitForFunction(() => { const s = (window as any).wgslVit; return !!(s.result || s.error); }, undefined, { timeout: 120_000 });
    const state = await page.evaluate(() => (window as any).wgslVit);
    expect(errors).toEqual([]);
    if (!adapter) {
      console.log('Chromium exposes no WebGPU adapter on this machine: checked the error path.');
      expect(state.error).toMatch(/WebGPU is not available here/);
      expect(await page.textContent('#error')).toMatch(/WebGPU is not available here/);
      return;
    }
    console.log(`Chromium WebGPU adapter: ${adapter}; embedding checked against PyTorch.`);
    expect(state.error, state.error).toBeUndefined();
    const exp = await readExpected(fixture(`${name}.expected.safetensors`));
    const c = compare('embedding', Float32Array.from(state.result.embedding), exp.outputs.embedding!.data);
    expect(c.pass, `browser embedding: max abs ${c.maxAbs}, cosine ${c.cosine}`).toBe(true);
    expect(await page.textContent('#status')).toMatch(/encoded in \d+ ms/);
    if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
  });
});
