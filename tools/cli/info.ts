// `wgsl-vit info`: the command (its help text, with the options and exit statuses, is at the end).
import { help, parse, type Command } from './common.js';
import { requestDevice } from '../../src/device.js';

async function info(argv: string[]): Promise<number> {
  const { values } = parse('info', argv, {});
  if (values.help) return help(infoCommand);
  const d = await requestDevice();
  console.log(
    JSON.stringify(
      { adapter: d.adapterInfo, runtime: d.runtime, dawnFlags: d.dawnFlags, features: d.features, limits: d.limits },
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
  Prints the WebGPU adapter, the Dawn flags the device was made with (Node), its features and limits as JSON.`,
  run: info,
};
