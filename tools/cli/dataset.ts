// What `embed-dataset` and `worker` share: loading the model of a run (a CLIP model when the config
// has a text tower, so captions get text embeddings; the vision tower otherwise), the progress bar,
// and the summary printed at the end.
import { readFileSync } from 'node:fs';
import { barStream } from './child.js';
import { isUrl } from '../../src/pipeline/sources/http.js';
import type { ModelDType } from '../../src/model/dtype.js';
import type { EmbedProgress, EmbedSummary, EmbeddingModel } from '../../src/pipeline/run.js';

/** Loads the run's model: both towers of an OpenVision 1 CLIP checkpoint, else the vision tower. */
export async function loadEmbeddingModel(
  device: GPUDevice,
  o: { weights: string; config: string; dtype?: ModelDType; cache: boolean; captions: boolean },
): Promise<EmbeddingModel> {
  const { textConfigFromOpenClip } = await import('../../src/model/config.js');
  let hasText = false;
  if (o.captions && !isUrl(o.config)) {
    try {
      hasText = textConfigFromOpenClip(JSON.parse(readFileSync(o.config, 'utf8')), o.config) !== null;
    } catch {
      hasText = false; // the load below names what is wrong with the config
    }
  }
  if (hasText) {
    const { CLIPModel } = await import('../../src/model/clip.js');
    return CLIPModel.load(device, { weights: o.weights, config: o.config, dtype: o.dtype, cache: o.cache });
  }
  const { VisionTransformer } = await import('../../src/model/vit.js');
  return VisionTransformer.load(device, { weights: o.weights, config: o.config, dtype: o.dtype, cache: o.cache });
}

/** A progress bar on stderr (cli-progress): samples with ETA when their number is known, else parts. */
export async function datasetProgress(enabled: boolean): Promise<{ update(p: EmbedProgress): void; stop(): void }> {
  if (!enabled) return { update() {}, stop() {} };
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar(
    {
      format:
        '{what} [{bar}] {value}/{total} | {rate} img/s | {failed} failed | part {part} ({parts}) | {eta_formatted} left',
      stream: barStream(),
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      const byParts = p.total === undefined;
      const total = byParts ? p.partsTotal : p.total!;
      const value = byParts ? p.partsDone : p.samples;
      const payload = {
        what: byParts ? 'parts' : 'images',
        rate: p.imagesPerSecond.toFixed(1),
        failed: p.failed,
        part: p.part,
        parts: `${p.partsDone}/${p.partsTotal} done`,
      };
      if (!started) bar.start(total, value, payload);
      started = true;
      bar.setTotal(total);
      bar.update(value, payload);
    },
    stop: () => started && bar.stop(),
  };
}

/** The end of a run on stderr: counts, rate, stage times, failures and failed parts. */
export function printSummary(cmd: string, s: EmbedSummary): void {
  const st = s.stages;
  const ms = (v: number) => `${(v / 1000).toFixed(1)} s`;
  console.error(
    `wgsl-vit ${cmd}: ${s.embedded} images embedded, ${s.failed} left out, in ${s.seconds.toFixed(1)} s ` +
      `(${s.imagesPerSecond.toFixed(1)} img/s, ${s.threads} decode threads); parts: ${s.parts.written} written, ` +
      `${s.parts.skipped} already done, ${s.parts.failed} failed, of ${s.parts.total}; into ${s.output}\n` +
      `  stages (overlapping): read ${ms(st.read)}, decode ${ms(st.decode)} (all threads), preprocess ${ms(st.preprocess)}, ` +
      `forward ${ms(st.forward)}, text ${ms(st.text)}, write ${ms(st.write)}`,
  );
  for (const f of s.failures.slice(0, 20))
    console.error(`  left out: part ${f.part} ${f.key} (${f.source}): ${f.reason}`);
  if (s.failed > 20) console.error(`  … and ${s.failed - 20} more (failed/failed_{N}.parquet lists every one)`);
  for (const f of s.failedParts) console.error(`  part ${f.part} not written (${f.reason}); a rerun retries it`);
}
