// The demo page in headless Chromium (Debian's package, installed by `npm run setup`): load the
// page, choose a checkpoint, its config and an image, click Embed. Where Chromium exposes a WebGPU
// adapter the embedding must match PyTorch's; where it exposes none (a machine without a GPU may
// have no WebGPU in Chromium), the page must say so, and that error path is what is checked.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { compare, DTYPE_MIN_COSINE, readExpected, rowAgreement } from '../../src/model/verify.js';
import { fixture } from '../helpers/fixtures.js';
import { startFixtureServer, type FixtureServer } from '../helpers/fixture-server.js';

const root = join(import.meta.dirname, '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let server: Server;
let browser: Browser;
let url: string;
let models: FixtureServer;

/**
 * Chromium is optional for a developer (`npm run setup` goes on without it where it cannot install
 * it): without it these tests are skipped with this reason. Under CI=true they fail instead, so a
 * green CI always ran the page.
 */
const missingChromium = existsSync(CHROMIUM)
  ? null
  : `${CHROMIUM} not found: run \`npm run setup\` (installs Debian's chromium) or set CHROMIUM_PATH`;

beforeEach((ctx) => {
  if (missingChromium && !process.env.CI) ctx.skip(`demo page not tested: ${missingChromium}`);
});

beforeAll(async () => {
  if (missingChromium) {
    if (process.env.CI) throw new Error(missingChromium);
    return;
  }
  if (!existsSync(join(root, 'dist', 'web', 'app.js')))
    execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
  const { serve } = await import(join(root, 'tools', 'serve-web.mjs'));
  server = await serve(0);
  models = await startFixtureServer(); // another origin, as a model host is
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--enable-unsafe-webgpu',
      '--enable-features=Vulkan',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  server?.close();
  models?.close();
});

/** Waits until the page has a result or an error, and returns its state (window.wgslVit). */
async function pageResult(page: Page): Promise<any> {
  await page.waitForFunction(
    () => {
      const s = (window as any).wgslVit;
      return !!(s.result || s.error);
    },
    undefined,
    { timeout: 120_000 },
  );
  return page.evaluate(() => (window as any).wgslVit);
}

/** A new page of `owner` (the browser, or a context) at the demo, ready; its page errors collected, its adapter (if any). */
async function openDemo(
  owner: { newPage(o?: { viewport: { width: number; height: number } }): Promise<Page> },
  viewport?: { width: number; height: number },
): Promise<{ page: Page; errors: string[]; adapter: string | undefined }> {
  const page = await owner.newPage(viewport ? { viewport } : undefined);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => (window as any).wgslVit?.ready === true, undefined, { timeout: 60_000 });
  const adapter = await page.evaluate(() => (window as any).wgslVit.adapter as string | undefined);
  return { page, errors, adapter };
}

describe('demo page (headless Chromium)', () => {
  it('says so when the browser has no WebGPU, and asks for missing files', async () => {
    const page = await browser.newPage();
    await page.addInitScript(() => {
      Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined });
    });
    await page.goto(url);
    await page.waitForFunction(() => (window as any).wgslVit?.ready === true);
    expect(await page.textContent('#adapter')).toBe('WebGPU adapter: none');
    expect(await page.textContent('#error')).toMatch(/WebGPU is not available here: .*no navigator\.gpu/);
    await page.click('#run');
    expect(await page.textContent('#error')).toBe('Choose a checkpoint, its open_clip_config.json and an image.');
    await page.close();
  });

  it('embeds an image chosen by the user, or reports that WebGPU is unavailable', async () => {
    const { page, errors, adapter } = await openDemo(browser);
    const name = 'ov2-h14-224-d1';
    await page.setInputFiles('#weights', fixture(`${name}.safetensors`));
    await page.setInputFiles('#config', fixture(`${name}.open_clip_config.json`));
    await page.setInputFiles('#image', fixture('rocket.png'));
    await page.click('#run');
    const state = await pageResult(page);
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
    expect(await page.textContent('#ranked')).toMatch(
      /vision-only checkpoint \(OpenVision 2, or an OpenVision 1 vision tower alone\): no text tower/,
    );
    if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
  });

  it('loads the weights as q8 when chosen, within the q8 tolerance of PyTorch', async (ctx) => {
    const { page, errors, adapter } = await openDemo(browser);
    if (!adapter) return ctx.skip('Chromium exposes no WebGPU adapter here');
    const name = 'ov2-h14-224-d1';
    await page.setInputFiles('#weights', fixture(`${name}.safetensors`));
    await page.setInputFiles('#config', fixture(`${name}.open_clip_config.json`));
    await page.setInputFiles('#image', fixture('rocket.png'));
    await page.selectOption('#dtype', 'q8');
    await page.click('#run');
    const state = await pageResult(page);
    expect(errors).toEqual([]);
    expect(state.error, state.error).toBeUndefined();
    const exp = await readExpected(fixture(`${name}.expected.safetensors`));
    const a = rowAgreement(Float32Array.from(state.result.embedding), exp.outputs.embedding!.data, 1);
    expect(a.minCosine).toBeGreaterThanOrEqual(DTYPE_MIN_COSINE.q8);
    expect(a.minCosine).toBeLessThan(0.99999); // q8 indeed (fp32 is within 1e-7 of 1)
    expect(await page.textContent('#status')).toMatch(/loaded in \d+ ms \(q8, [\d.]+ MiB of weights on the GPU\)/);
    await page.close();
  });

  it('OpenVision 1 (CLIP): ranks typed labels as PyTorch does, draws the bars, and a patch map that follows clicks', async () => {
    const { page, errors, adapter } = await openDemo(browser, { width: 1100, height: 1000 });
    const name = 'ov1-clip-ti16-224-t2';
    const exp = await readExpected(fixture(`${name}.expected.safetensors`));
    const meta = exp.meta as unknown as { labels: string[]; template: string; images: string[] };
    const probs = await exp.ckpt.read('probs');
    await page.setInputFiles('#weights', fixture(`${name}.bin`));
    await page.setInputFiles('#config', fixture(`${name}.open_clip_config.json`));
    await page.setInputFiles('#image', fixture('rocket.png'));
    await page.fill('#labels', meta.labels.join(', '));
    await page.fill('#template', meta.template);
    await page.click('#run');
    const state = await pageResult(page);
    expect(errors).toEqual([]);
    if (!adapter) {
      expect(state.error).toMatch(/WebGPU is not available here/);
      return;
    }
    expect(state.error, state.error).toBeUndefined();
    // rocket is image 3 of the fixture: the page's probabilities are PyTorch's
    const i = meta.images.indexOf('rocket');
    const want = meta.labels.map((label, j) => ({ label, score: probs[i * 5 + j]! })).sort((a, b) => b.score - a.score);
    expect(state.result.ranked.map((r: { label: string }) => r.label)).toEqual(want.map((r) => r.label));
    state.result.ranked.forEach((r: { score: number }, j: number) =>
      expect(Math.abs(r.score - want[j]!.score)).toBeLessThan(1e-4),
    );
    expect(await page.locator('#ranked .row').count()).toBe(5);
    expect(await page.textContent('#status')).toMatch(/labels in \d+ ms \(text tower\)/);
    // the map: 14×14 patches, the selected one most similar to itself; a click moves the selection
    expect(state.result.grid).toBe(14);
    expect(state.result.similarity.length).toBe(196);
    expect(state.result.similarity[state.result.selected]).toBeCloseTo(1, 5);
    const box = (await page.locator('#map').boundingBox())!;
    await page.mouse.click(box.x + 3, box.y + 3);
    const after = await page.evaluate(() => (window as any).wgslVit.result);
    expect(after.selected).toBe(0);
    expect(after.similarity[0]).toBeCloseTo(1, 5);
    expect(after.similarity.some((v: number) => v < 0.99)).toBe(true);
    // what a person sees: the map region is an image (not blank), shaded darker away from the selected patch
    const shot = PNG.sync.read(await page.locator('#results').screenshot());
    const lum = (x: number, y: number) => {
      const o = 4 * (y * shot.width + x);
      return (shot.data[o]! + shot.data[o + 1]! + shot.data[o + 2]!) / 3;
    };
    const px: number[] = [];
    for (let y = 0; y < Math.min(shot.height, 300); y += 3)
      for (let x = 0; x < Math.min(shot.width, 300); x += 3) px.push(lum(x, y));
    const mean = px.reduce((a, b) => a + b, 0) / px.length;
    const sd = Math.sqrt(px.reduce((a, b) => a + (b - mean) ** 2, 0) / px.length);
    expect(sd, 'pixel spread of the rendered map').toBeGreaterThan(20);
    if (process.env.SCREENSHOT)
      await page.screenshot({ path: process.env.SCREENSHOT.replace(/\.png$/, '-clip.png'), fullPage: true });
    await page.close();
  });

  it('loads a checkpoint by URL with progress, and a reload of the page takes it from the browser cache', async () => {
    const context = await browser.newContext();
    const name = 'ov2-h14-224-d1';
    const exp = await readExpected(fixture(`${name}.expected.safetensors`));
    const runByUrl = async () => {
      const { page, errors, adapter } = await openDemo(context);
      await page.fill('#weightsUrl', `${models.base}/range/${name}.safetensors`);
      await page.fill('#configUrl', `${models.base}/range/${name}.open_clip_config.json`);
      await page.setInputFiles('#image', fixture('rocket.png'));
      await page.click('#run');
      const state = await pageResult(page);
      expect(errors).toEqual([]);
      await page.close();
      return { adapter, state };
    };
    models.reset();
    const first = await runByUrl();
    if (!first.adapter) {
      expect(first.state.error).toMatch(/WebGPU is not available here/);
      await context.close();
      return;
    }
    expect(first.state.error, first.state.error).toBeUndefined();
    const c = compare('embedding', Float32Array.from(first.state.result.embedding), exp.outputs.embedding!.data);
    expect(c.pass, `embedding by URL: max abs ${c.maxAbs}`).toBe(true);
    const downloads = first.state.progress.filter((p: { phase: string }) => p.phase === 'download');
    const uploads = first.state.progress.filter((p: { phase: string }) => p.phase === 'upload');
    expect(downloads.length).toBeGreaterThan(0);
    expect(uploads.at(-1).loaded).toBe(uploads.at(-1).total);
    const firstBytes = models.stats.bodyBytes;
    expect(firstBytes).toBeGreaterThan(0);
    // A reload: the blocks come from Cache Storage; the server sees a HEAD and the config, no checkpoint bytes.
    models.reset();
    const second = await runByUrl();
    expect(second.state.error, second.state.error).toBeUndefined();
    expect(second.state.result.embedding).toEqual(first.state.result.embedding);
    expect(second.state.progress.filter((p: { phase: string }) => p.phase === 'download')).toEqual([]);
    expect(models.stats.heads).toBe(1);
    expect(models.stats.bodyBytes).toBeLessThan(firstBytes / 10); // the config only
    await context.close();
  });
});
