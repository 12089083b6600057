// A child process of the cache-race test (url.test.ts, bundled with esbuild): opens the checkpoint at
// the URL given (argv[2]) (through the cache folder $WGSL_VIT_CACHE), reads every float tensor and prints the
// sum of their values as JSON; an error is printed as { error: { name, message } }, exit status 1.
import { isFloatDType } from '../../src/weights/checkpoint.js';
import { openCheckpoint } from '../../src/weights/index.js';

// argv[3]: when to start (Date.now() ms), so that the processes of a round open the URL together.
await new Promise((r) => setTimeout(r, Math.max(0, Number(process.argv[3] ?? 0) - Date.now())));
try {
  const ckpt = await openCheckpoint(process.argv[2]!);
  let sum = 0;
  for (const t of ckpt.tensors.values()) if (isFloatDType(t.dtype)) for (const v of await ckpt.read(t.key)) sum += v;
  console.log(JSON.stringify({ sum }));
} catch (e) {
  console.log(JSON.stringify({ error: { name: (e as Error).name, message: (e as Error).message } }));
  process.exitCode = 1;
}
