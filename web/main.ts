// The demo page: load a checkpoint and an image chosen by the user, show the embedding and timing.
// window.wgslVit holds the last result (or error) for the page test (test/web/page.test.ts).
import { encodeImages, requestDevice, VisionTransformer, type DeviceInfo } from '../src/index.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const state: { result?: { embedding: number[]; ms: number; loadMs: number }; error?: string; adapter?: string; ready: boolean } = { ready: false };
(window as unknown as { wgslVit: typeof state }).wgslVit = state;

function fail(message: string) {
  state.error = message;
  $('error').textContent = message;
  $('status').textContent = '';
}

let devicePromise: Promise<DeviceInfo> | null = null;
const getDevice = () => (devicePromise ??= requestDevice());

async function checkAdapter() {
  try {
    const d = await getDevice();
    state.adapter = [d.adapterInfo.vendor, d.adapterInfo.architecture, d.adapterInfo.description].filter(Boolean).join(' ') || 'unnamed adapter';
    $('adapter').textContent = `WebGPU adapter: ${state.adapter} (features: ${d.features.join(', ') || 'none'})`;
  } catch (e) {
    $('adapter').textContent = 'WebGPU adapter: none';
    fail(`WebGPU is not available here: ${(e as Error).message}`);
  } finally {
    state.ready = true;
  }
}

$<HTMLInputElement>('image').addEventListener('change', () => {
  const f = $<HTMLInputElement>('image').files?.[0];
  if (f) $<HTMLImageElement>('preview').src = URL.createObjectURL(f);
});

$('run').addEventListener('click', async () => {
  state.error = undefined;
  state.result = undefined;
  $('error').textContent = '';
  $('output').hidden = true;
  const weights = $<HTMLInputElement>('weights').files?.[0];
  const config = $<HTMLInputElement>('config').files?.[0];
  const image = $<HTMLInputElement>('image').files?.[0];
  if (!weights || !config || !image) return fail('Choose a checkpoint, its open_clip_config.json and an image.');
  let model: VisionTransformer | null = null;
  try {
    const { device } = await getDevice();
    $('status').textContent = `loading ${weights.name} …`;
    let t = performance.now();
    model = await VisionTransformer.load(device, { weights, config: JSON.parse(await config.text()) });
    const loadMs = performance.now() - t;
    $('status').textContent = 'encoding …';
    const r = await encodeImages(model, [image]);
    const e = Array.from(r.embedding!);
    const norm = Math.sqrt(e.reduce((a, v) => a + v * v, 0));
    state.result = { embedding: e, ms: r.ms, loadMs };
    $('status').textContent = `loaded in ${loadMs.toFixed(0)} ms; encoded in ${r.ms.toFixed(0)} ms (decode, preprocess, first forward incl. pipeline creation)`;
    $('output').textContent = `embedding [${e.length}], ‖e‖ = ${norm.toFixed(4)}\n[${e.map((v) => v.toFixed(5)).join(', ')}]`;
    $('output').hidden = false;
  } catch (err) {
    fail((err as Error).message);
  } finally {
    model?.destroy();
  }
});

void checkAdapter();
