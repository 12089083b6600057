// A Deno program using the library as a user's would, with no permission but
// --allow-read: the runtime's own WebGPU (wgpu), one fixture's forward pass against PyTorch's
// outputs. The sources are imported as they are (.ts behind .js specifiers: --unstable-sloppy-imports).
// Run by test/model/deno-permissions.test.ts:
//   deno run --allow-read --unstable-sloppy-imports test/deno/forward.ts ov1-ti16-224-d1
// Prints the runtime and one `name ok|FAIL max-abs cosine` line per output; exit 1 on a failure.
import { requestDevice, VisionTransformer } from '../../src/index.js';
import { compare, readExpected } from '../../src/model/verify.js';

declare const Deno: { args: string[]; exit(code: number): never };

const name = Deno.args[0] ?? 'ov1-ti16-224-d1';
const dir = new URL('../fixtures/', import.meta.url).pathname;
const { device, runtime } = await requestDevice();
const exp = await readExpected(`${dir}${name}.expected.safetensors`);
const model = await VisionTransformer.load(device, {
  weights: dir + exp.meta.weights!,
  config: dir + exp.meta.config!,
});
const [B, , S] = exp.inputShape as [number, number, number];
const out = await model.forward(exp.input, B, { resolution: S, outputs: ['tokens', 'pooled', 'embedding'] });
console.log(`runtime ${runtime}`);
let failed = 0;
for (const k of ['tokens', 'pooled', 'embedding'] as const) {
  const c = compare(k, out[k]!, exp.outputs[k]!.data);
  if (!c.pass) failed++;
  console.log(`${k} ${c.pass ? 'ok' : 'FAIL'} ${c.maxAbs} ${c.cosine}`);
}
model.destroy();
device.destroy();
Deno.exit(failed ? 1 : 0);
