// `wgsl-vit tune`: the command (its help text, with the options and exit statuses, is at the end).
import { help, UsageError, parse, intOption, type Command } from './common.js';
import { requestDevice, splitDawnFlags } from '../../src/device.js';
import { resolve } from 'node:path';

async function tune(argv: string[]): Promise<number> {
  const { values } = parse('tune', argv, {
    config: { type: 'string' },
    model: { type: 'string' },
    batch: { type: 'string' },
    resolution: { type: 'string' },
    layers: { type: 'string' },
    iters: { type: 'string' },
    profiles: { type: 'string' },
    json: { type: 'boolean' },
    'no-save': { type: 'boolean' },
    flags: { type: 'string' },
    tower: { type: 'string' },
  });
  if (values.help) return help(tuneCommand);
  if (!values.config === !values.model)
    throw new UsageError('give one of --config or --model (see wgsl-vit tune --help)');
  const batch = intOption('batch', values.batch);
  const resolution = intOption('resolution', values.resolution);
  const layers = intOption('layers', values.layers);
  const iters = intOption('iters', values.iters);
  if (values.tower !== undefined && values.tower !== 'vision' && values.tower !== 'text')
    throw new UsageError(`--tower must be 'vision' or 'text', got '${values.tower}'`);
  const { configFromOpenClip, presetConfig, readConfigJson, textConfigFromOpenClip } =
    await import('../../src/model/config.js');
  const { tuneKernels } = await import('../../src/model/tune.js');
  const { defaultProfileStore, fileProfileStore } = await import('../../src/model/profiles.js');
  const json = values.config ? await readConfigJson(values.config) : null;
  const config = json ? configFromOpenClip(json, values.config) : presetConfig(values.model!);
  if (resolution !== undefined && resolution % config.patchSize !== 0)
    throw new UsageError(`--resolution ${resolution} is not a multiple of the patch size ${config.patchSize}`);
  // Every tower the config has (a CLIP config: the text tower too, which has its own profile), or --tower.
  const text = json ? textConfigFromOpenClip(json, values.config) : null;
  if (values.tower === 'text' && !text)
    throw new UsageError(`--tower text: ${values.config ?? `--model ${values.model}`} has no text tower`);
  const towers = [...(values.tower !== 'text' ? [config] : []), ...(text && values.tower !== 'vision' ? [text] : [])];
  const store = values['no-save']
    ? null
    : values.profiles
      ? await fileProfileStore(resolve(values.profiles))
      : await defaultProfileStore();
  // Checked before a minute of measuring, not after.
  await store?.check?.();
  const { device } = await requestDevice({
    dawnFlags: values.flags ? splitDawnFlags(values.flags) : [],
    preciseTimestamps: true,
  });
  const line = (label: string, ms: string, diff: string, verdict: string) =>
    `${label.padEnd(26)} ${ms.padStart(10)} ${diff.padStart(10)}  ${verdict}`;
  if (!values.json) console.log(line('candidate', 'ms/image', 'max |diff|', ''));
  const profiles = [];
  for (const tower of towers) {
    if (!values.json && towers.length > 1) console.log(`\n${'contextLength' in tower ? 'text' : 'vision'} tower`);
    profiles.push(
      await tuneKernels(device, tower, {
        batch,
        resolution: 'contextLength' in tower ? undefined : resolution,
        layers,
        iters,
        onProgress: (t) => {
          if (values.json) return;
          console.log(
            line(
              t.label,
              t.msPerImage === null ? '—' : t.msPerImage.toFixed(1),
              t.maxAbsDiff === null ? '—' : t.maxAbsDiff.toExponential(1),
              t.error ? `failed: ${t.error}` : t.ok ? 'ok' : 'WRONG (not chosen)',
            ),
          );
        },
      }),
    );
  }
  device.destroy();
  // The winners are printed whatever happens to the save.
  if (values.json) console.log(JSON.stringify(profiles.length === 1 ? profiles[0] : profiles, null, 2));
  else
    for (const profile of profiles)
      console.log(`\nchosen for ${profile.shape} on ${profile.adapter}: ${JSON.stringify(profile.choices)}`);
  if (store) {
    try {
      for (const profile of profiles) await store.put(profile);
      if (!values.json) console.error(`saved to ${store.where}`);
    } catch (e) {
      console.error(`wgsl-vit tune: not saved: ${(e as Error).message}`);
      return 1;
    }
  }
  return profiles.every((p) => p.timings.some((t) => t.ok)) ? 0 : 1;
}

export const tuneCommand: Command = {
  name: 'tune',
  help: `usage: wgsl-vit tune (--config <open_clip_config.json> | --model b-16) [--tower vision|text] [--batch 1] [--resolution S] [--layers 2] [--iters 3] [--profiles FILE] [--json] [--no-save]
  Measures the kernel choices on this adapter at the model's own shapes: times each GEMM candidate
  (the 'texture' and 'subgroup' variants where the adapter has 8-lane subgroups, the 'tiled' GEMM
  with its per-shape choice and with each tile its limits allow, then split-K in 2, 3, 4, 8 K
  ranges and per shape with the fastest tiled one), then each attention variant with the fastest
  GEMM, on random
  weights of the model's shape (--layers blocks; the choice is per block shape, so weights do not
  matter). Every candidate's outputs are checked against the portable one ('tiled' GEMM,
  'broadcast' attention; max |difference| <= 2e-3) and a wrong one is never chosen. Saves the
  winners as a profile for this adapter and model shape (default store: $WGSL_VIT_PROFILES or
  ~/.cache/wgsl-vit/profiles.json; --profiles FILE another file; --no-save none); models loaded
  later without \`kernels\` use it. Prints a table, or the profile as JSON with --json.
  A config with a text tower (OpenVision 1, CLIP) tunes both towers, each for its own shape (texts
  of its context length; --resolution is the vision tower's), and saves a profile for each (--json:
  an array of the two); --tower vision or --tower text tunes one.`,
  run: tune,
};
