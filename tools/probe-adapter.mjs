// Prints the default WebGPU adapter Dawn finds (exit 1 when none). Used by setup.
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.error('no WebGPU adapter');
  process.exit(1);
}
const i = adapter.info ?? {};
console.log(
  `${i.vendor ?? '?'} ${i.architecture ?? ''} ${i.device ?? ''} ${i.description ?? ''}`.replace(/\s+/g, ' ').trim(),
);
process.exit(0);
