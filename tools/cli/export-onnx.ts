// `wgsl-vit export-onnx`: the command (its help text, with the options and exit statuses, is at the end).
import { help, UsageError, parse, intOption, required, checkOut, NO_CACHE_HELP, type Command } from './common.js';

async function exportOnnxCmd(argv: string[]): Promise<number> {
  const { values } = parse('export-onnx', argv, {
    weights: { type: 'string' },
    config: { type: 'string' },
    out: { type: 'string' },
    batch: { type: 'string' },
    resolution: { type: 'string' },
    'no-cache': { type: 'boolean' },
  });
  if (values.help) return help(exportOnnxCommand);
  required('export-onnx', values, ['weights', 'config', 'out']);
  const batch = intOption('batch', values.batch) ?? 1;
  const resolution = intOption('resolution', values.resolution);
  checkOut(values.out!, ['.onnx']);
  const { exportOnnx } = await import('../../src/onnx/export.js');
  const { openCheckpoint } = await import('../../src/weights/index.js');
  const { readOpenClipConfig } = await import('../../src/model/config.js');
  const { writeFileSync } = await import('node:fs');
  const config = await readOpenClipConfig(values.config!);
  if (resolution !== undefined && resolution % config.patchSize !== 0)
    throw new UsageError(`--resolution ${resolution} is not a multiple of the patch size ${config.patchSize}`);
  const bytes = await exportOnnx(
    config,
    await openCheckpoint(values.weights!, undefined, { cache: !values['no-cache'] }),
    {
      batch,
      resolution,
    },
  );
  writeFileSync(values.out!, bytes);
  console.error(`wrote ${values.out} (${(bytes.length / 2 ** 20).toFixed(1)} MiB)`);
  return 0;
}

export const exportOnnxCommand: Command = {
  name: 'export-onnx',
  help: `usage: wgsl-vit export-onnx --weights <file> --config <open_clip_config.json> --out model.onnx [--batch 1] [--resolution S] [--no-cache]
  Writes the encoder as an ONNX model (opset 17, fixed batch and resolution; outputs embedding
  [B, E] and tokens [B, g², W]) for other runtimes. Refuses non-finite weights.
  ${NO_CACHE_HELP}`,
  run: exportOnnxCmd,
};
