// The demo page: a checkpoint, its config and an image chosen by the user → the image, the ranked
// labels as bars (OpenVision 1: zero-shot with its text tower), the timings, and a patch-similarity
// map (click a patch: every patch is shaded by the cosine of its token to the clicked one).
// window.wgslVit holds the last result (or error) for the page test (test/web/page.test.ts).
import {
  CLIPModel,
  decodeResized,
  normalizeBatch,
  readConfigJson,
  requestDevice,
  softmaxRows,
  VisionTransformer,
  type DeviceInfo,
  type LabelScore,
  type LoadProgress,
  type ModelDType,
  type RgbImage,
} from '../src/index.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
interface PageResult {
  embedding: number[];
  ranked?: LabelScore[];
  ms: number;
  loadMs: number;
  textMs?: number;
  grid: number;
  selected: number;
  similarity: number[];
}
const state: {
  result?: PageResult;
  error?: string;
  adapter?: string;
  ready: boolean;
  /** The load's progress events, in order (the page test checks them). */
  progress: LoadProgress[];
} = { ready: false, progress: [] };
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
    state.adapter =
      [d.adapterInfo.vendor, d.adapterInfo.architecture, d.adapterInfo.description].filter(Boolean).join(' ') ||
      'unnamed adapter';
    $('adapter').textContent = `WebGPU adapter: ${state.adapter} (features: ${d.features.join(', ') || 'none'})`;
  } catch (e) {
    $('adapter').textContent = 'WebGPU adapter: none';
    fail(`WebGPU is not available here: ${(e as Error).message}`);
  } finally {
    state.ready = true;
  }
}

/** Cosine of every token of `tokens` [n, W] to token `k`. */
function similarities(tokens: Float32Array, n: number, W: number, k: number): number[] {
  const norm = (i: number) => Math.hypot(...tokens.subarray(i * W, (i + 1) * W));
  const nk = norm(k);
  return Array.from({ length: n }, (_, i) => {
    let d = 0;
    for (let c = 0; c < W; c++) d += tokens[i * W + c]! * tokens[k * W + c]!;
    return d / (norm(i) * nk);
  });
}

/** The resized image, darkened where a patch's token is unlike the selected one's (its own scale: min..max). */
function drawMap(img: RgbImage, grid: number, sim: number[], selected: number) {
  const canvas = $<HTMLCanvasElement>('map');
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext('2d')!;
  const rgba = new ImageData(img.width, img.height);
  for (let i = 0; i < img.width * img.height; i++)
    rgba.data.set([img.data[3 * i]!, img.data[3 * i + 1]!, img.data[3 * i + 2]!, 255], 4 * i);
  ctx.putImageData(rgba, 0, 0);
  const p = img.width / grid,
    lo = Math.min(...sim),
    hi = Math.max(...sim);
  for (let i = 0; i < sim.length; i++) {
    const s = hi > lo ? (sim[i]! - lo) / (hi - lo) : 1;
    ctx.fillStyle = `rgba(0, 0, 30, ${(0.85 * (1 - s)).toFixed(3)})`;
    ctx.fillRect((i % grid) * p, Math.floor(i / grid) * p, p, p);
  }
  ctx.strokeStyle = '#ff8c00';
  ctx.lineWidth = Math.max(1, p / 8);
  ctx.strokeRect((selected % grid) * p, Math.floor(selected / grid) * p, p, p);
}

function drawRanked(ranked: LabelScore[]) {
  const box = $('ranked');
  box.replaceChildren(
    ...ranked.map(({ label, score }) => {
      const row = document.createElement('div');
      row.className = 'row';
      const name = document.createElement('span');
      name.textContent = label;
      const track = document.createElement('div');
      track.className = 'track';
      const bar = document.createElement('div');
      bar.className = 'bar';
      bar.style.width = `${(100 * score).toFixed(1)}%`;
      track.append(bar);
      const pct = document.createElement('span');
      pct.className = 'pct';
      pct.textContent = `${(100 * score).toFixed(1)}%`;
      row.append(name, track, pct);
      return row;
    }),
  );
}

let clickHandler: ((ev: MouseEvent) => void) | null = null;

async function run(): Promise<void> {
  state.error = undefined;
  state.result = undefined;
  $('error').textContent = '';
  $('output').hidden = true;
  $('results').hidden = true;
  const weightsUrl = $<HTMLInputElement>('weightsUrl').value.trim();
  const configUrl = $<HTMLInputElement>('configUrl').value.trim();
  const weights = weightsUrl || $<HTMLInputElement>('weights').files?.[0];
  const configFile = $<HTMLInputElement>('config').files?.[0];
  const image = $<HTMLInputElement>('image').files?.[0];
  if (!weights || !(configUrl || configFile) || !image)
    return fail('Choose a checkpoint, its open_clip_config.json and an image.');
  state.progress = [];
  const bar = $<HTMLProgressElement>('progress');
  const onProgress = (p: LoadProgress) => {
    state.progress.push(p);
    bar.hidden = false;
    bar.max = p.total || 1;
    bar.value = p.loaded;
    $('status').textContent =
      `${p.phase === 'download' ? 'downloading' : 'uploading'} ${(p.loaded / 1e6).toFixed(1)} / ${(p.total / 1e6).toFixed(1)} MB …`;
  };
  const name = typeof weights === 'string' ? weights : weights.name;
  let clip: CLIPModel | null = null,
    vision: VisionTransformer | null = null;
  try {
    const { device } = await getDevice();
    const config = (configUrl ? await readConfigJson(configUrl) : JSON.parse(await configFile!.text())) as Record<
      string,
      unknown
    > & {
      model_cfg?: { text_cfg?: unknown };
    };
    const hasText = !!config.model_cfg?.text_cfg;
    $('status').textContent = `loading ${name} …`;
    let t = performance.now();
    // '' = the file's own dtype (docs/dtypes.md).
    const dtype = ($<HTMLSelectElement>('dtype').value || undefined) as ModelDType | undefined;
    if (hasText) clip = await CLIPModel.load(device, { weights, config, onProgress, dtype });
    vision = clip ? clip.vision : await VisionTransformer.load(device, { weights, config, onProgress, dtype });
    bar.hidden = true;
    const loadMs = performance.now() - t;
    $('status').textContent = 'encoding …';
    t = performance.now();
    const c = vision.config,
      S = c.imageSize,
      grid = S / c.patchSize;
    const img = await decodeResized(image, S);
    const out = await vision.forward(normalizeBatch([img], { size: S, mean: c.mean, std: c.std }), 1, {
      outputs: ['tokens', 'embedding'],
    });
    const ms = performance.now() - t;
    let ranked: LabelScore[] | undefined, textMs: number | undefined;
    if (clip) {
      const labels = $<HTMLInputElement>('labels')
        .value.split(',')
        .map((l) => l.trim())
        .filter(Boolean);
      t = performance.now();
      const textEmb = await clip.labelEmbeddings(labels, [$<HTMLInputElement>('template').value]);
      const probs = softmaxRows(clip.logits(out.embedding!, textEmb), labels.length);
      textMs = performance.now() - t;
      ranked = labels.map((label, j) => ({ label, score: probs[j]! })).sort((a, b) => b.score - a.score);
      drawRanked(ranked);
    } else {
      $('ranked').textContent =
        'A vision-only checkpoint (OpenVision 2, or an OpenVision 1 vision tower alone): no text tower, so no labels to rank.';
    }
    const tokens = out.tokens!,
      n = grid * grid,
      W = c.width;
    const select = (k: number) => {
      const similarity = similarities(tokens, n, W, k);
      drawMap(img, grid, similarity, k);
      state.result = { ...state.result!, selected: k, similarity };
    };
    const e = Array.from(out.embedding!);
    state.result = { embedding: e, ranked, ms, loadMs, textMs, grid, selected: 0, similarity: [] };
    select(Math.floor(grid / 2) * grid + Math.floor(grid / 2));
    const canvas = $<HTMLCanvasElement>('map');
    if (clickHandler) canvas.removeEventListener('click', clickHandler);
    clickHandler = (ev: MouseEvent) => {
      const r = canvas.getBoundingClientRect();
      const col = Math.min(grid - 1, Math.floor(((ev.clientX - r.left) / r.width) * grid));
      const row = Math.min(grid - 1, Math.floor(((ev.clientY - r.top) / r.height) * grid));
      select(row * grid + col);
    };
    canvas.addEventListener('click', clickHandler);
    $('results').hidden = false;
    const norm = Math.sqrt(e.reduce((a, v) => a + v * v, 0));
    $('status').textContent =
      `loaded in ${loadMs.toFixed(0)} ms (${vision.dtype}, ${((vision.weightBytes() + (clip ? clip.text.weightBytes() : 0)) / 2 ** 20).toFixed(1)} MiB of weights on the GPU); encoded in ${ms.toFixed(0)} ms (decode, preprocess, first forward incl. pipeline creation)` +
      (textMs !== undefined ? `; labels in ${textMs.toFixed(0)} ms (text tower)` : '');
    $('output').textContent =
      `embedding [${e.length}], ‖e‖ = ${norm.toFixed(4)}\n[${e.map((v) => v.toFixed(5)).join(', ')}]`;
    $('output').hidden = false;
  } catch (err) {
    fail((err as Error).message);
  } finally {
    // The map keeps the tokens on the CPU; the GPU memory is freed right away.
    if (clip) clip.destroy();
    else vision?.destroy();
  }
}

$('run').addEventListener('click', () => void run());
void checkAdapter();
