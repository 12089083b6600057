// Weight bytes per dtype for the family at full size: each preset's random-weight model loaded as
// fp32, fp16 and q8 (bytes held on the GPU, as the adapter stores them) and converted to a file
// (`wgsl-vit convert`'s output size, computed by converting without writing). Writes
// bench/results/dtype-sizes.md. Run: node dist/bench/sizes.js [--models ti-16,b-16,…]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { requestDevice } from '../src/device.js';
import { presetConfig } from '../src/model/config.js';
import { convertCheckpoint } from '../src/model/convert.js';
import { MODEL_DTYPES } from '../src/model/dtype.js';
import { randomCheckpoint } from '../src/model/random.js';
import { VisionTransformer } from '../src/model/vit.js';
import { ROOT } from './env.js';

const { values } = parseArgs({
  options: { models: { type: 'string', default: 'ti-16,s-16,b-16,l-14,so400m-14,h-14' } },
});
const mb = (b: number) => (b / 1e6).toFixed(1);
const { device, adapterInfo } = await requestDevice();
const lines = [
  `Weights of each vision tower (random weights of the preset's shape) on ${[adapterInfo.vendor, adapterInfo.description].filter(Boolean).join(' ')}: bytes held on the GPU per dtype, and the size of the file \`wgsl-vit convert\` writes (safetensors; fp32: the same tensors as float32). ÷N: fp32 over this.`,
  '',
  '| model | parameters | fp32 GPU MB | fp16 GPU MB (÷) | q8 GPU MB (÷) | fp32 file MB | fp16 file MB (÷) | q8 file MB (÷) |',
  '|---|---|---|---|---|---|---|---|',
];
for (const name of values.models.split(',')) {
  const config = presetConfig(name);
  const ckpt = randomCheckpoint(config, 1);
  let params = 0;
  for (const t of ckpt.tensors.values()) params += t.shape.reduce((a, b) => a * b, 1);
  const gpu: number[] = [];
  for (const dtype of MODEL_DTYPES) {
    const m = await VisionTransformer.load(device, { weights: ckpt, config, dtype, profile: false });
    gpu.push(m.weightBytes());
    m.destroy();
  }
  const file = [8 + 4 * params]; // fp32: the float32 tensors (header aside)
  for (const dtype of ['fp16', 'q8'] as const) file.push((await convertCheckpoint(ckpt, dtype, () => {})).bytes);
  const row = `| ${name} | ${(params / 1e6).toFixed(1)} M | ${mb(gpu[0]!)} | ${mb(gpu[1]!)} (÷${(gpu[0]! / gpu[1]!).toFixed(2)}) | ${mb(gpu[2]!)} (÷${(gpu[0]! / gpu[2]!).toFixed(2)}) | ${mb(file[0]!)} | ${mb(file[1]!)} (÷${(file[0]! / file[1]!).toFixed(2)}) | ${mb(file[2]!)} (÷${(file[0]! / file[2]!).toFixed(2)}) |`;
  console.log(row);
  lines.push(row);
}
writeFileSync(join(ROOT, 'bench', 'results', 'dtype-sizes.md'), `# Weight sizes per dtype\n\n${lines.join('\n')}\n`);
device.destroy();
