// `wgsl-vit info`: the command (its help text, with the options and exit statuses, is at the end).
import { help, parse, type Command } from './common.js';
import { requestDevice } from '../../src/device.js';

async function info(argv: string[]): Promise<number> {
  const { values } = parse('info', argv, {});
  if (values.help) return help(infoCommand);
  const d = await requestDevice();
  console.log(
    JSON.stringify(
      {
        adapter: d.adapterInfo,
        runtime: d.runtime,
        dawnFlags: d.dawnFlags,
        features: d.features,
        missingFeatures: d.missingFeatures,
        subgroupMatrixConfigs: d.subgroupMatrixConfigs,
        timestamps: d.timestamps,
        limits: d.limits,
      },
      null,
      2,
    ),
  );
  d.device.destroy();
  return 0;
}

export const infoCommand: Command = {
  name: 'info',
  help: `usage: wgsl-vit info
  Prints the WebGPU adapter, the runtime and implementation (node-dawn, deno-wgpu, …; WGSL_VIT_WEBGPU
  picks it: docs/runtimes.md), the Dawn flags the device was made with, the features it got and the
  wanted ones the adapter lacks, its subgroup-matrix configurations (componentType, resultComponentType,
  M, N, K; where chromium-experimental-subgroup-matrix was granted), its timestamp mode and limits as JSON.`,
  run: info,
};
