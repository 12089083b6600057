// `wgsl-vit convert`: the command (its help text, with the options and exit statuses, is at the end).
import { closeSync, existsSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { checkOut, help, parse, required, UsageError, NO_CACHE_HELP, type Command } from './common.js';
import { convertCheckpoint } from '../../src/model/convert.js';
import { configFromOpenClip, readConfigJson, textConfigFromOpenClip } from '../../src/model/config.js';
import { checkLayout, checkTextLayout } from '../../src/model/parameters.js';
import { openCheckpoint } from '../../src/weights/index.js';

const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;

/**
 * --out must not be the checkpoint itself (the rename at the end would replace the original): the
 * same file by any name — a relative path, a symlink, a hard link — is refused (the same device and
 * inode). An --out that does not exist yet cannot be it.
 */
function checkNotInput(out: string, weights: string): void {
  if (/^https?:\/\//i.test(weights) || !existsSync(out) || !existsSync(weights)) return;
  const a = statSync(out),
    b = statSync(weights);
  if (a.dev === b.dev && a.ino === b.ino)
    throw new UsageError(
      `--out ${out} is the same file as --weights ${weights}: convert would replace the original; give another --out`,
    );
}

async function convert(argv: string[]): Promise<number> {
  const { values } = parse('convert', argv, {
    weights: { type: 'string' },
    config: { type: 'string' },
    dtype: { type: 'string' },
    out: { type: 'string' },
    'no-cache': { type: 'boolean' },
  });
  if (values.help) return help(convertCommand);
  required('convert', values, ['weights', 'config', 'dtype', 'out']);
  const dtype = values.dtype!;
  if (dtype !== 'fp16' && dtype !== 'q8') throw new UsageError(`--dtype must be fp16 or q8, got '${dtype}'`);
  checkOut(values.out!, ['.safetensors']);
  checkNotInput(values.out!, values.weights!);
  // The config's towers checked against the file first: a wrong pair is refused before anything is written.
  const json = await readConfigJson(values.config!);
  const ckpt = await openCheckpoint(values.weights!, undefined, { cache: !values['no-cache'] });
  checkLayout(ckpt, configFromOpenClip(json, values.config));
  const text = textConfigFromOpenClip(json, values.config);
  if (text && ckpt.tensors.has('token_embedding.weight')) checkTextLayout(ckpt, text);
  // Written to a temporary file beside --out and renamed at the end: a refused weight leaves nothing.
  // Interrupted (Ctrl-C, kill, or the CLI's parent gone: cli/child.ts), it removes the temporary file
  // and exits as a shell reports the signal: 130 for SIGINT, 143 for SIGTERM.
  const tmp = `${values.out}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  let closed = false;
  const close = () => {
    if (!closed) closeSync(fd);
    closed = true;
  };
  const interrupted = (sig: 'SIGINT' | 'SIGTERM') => () => {
    close();
    rmSync(tmp, { force: true });
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  const onInt = interrupted('SIGINT'),
    onTerm = interrupted('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  let r;
  try {
    r = await convertCheckpoint(ckpt, dtype, (chunk) => {
      let o = 0;
      while (o < chunk.byteLength) o += writeSync(fd, chunk, o);
    });
    close();
    renameSync(tmp, values.out!);
  } catch (e) {
    close();
    rmSync(tmp, { force: true });
    throw e;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  const out = `${basename(values.out!)}: ${dtype}, ${r.matrices} matrices converted, ${r.others} other tensors as float32; ${mb(r.bytes)}`;
  if (/^https?:\/\//i.test(values.weights!)) console.error(out);
  else {
    const inBytes = statSync(values.weights!).size;
    console.error(`${out} (${basename(values.weights!)}: ${mb(inBytes)}, ÷${(inBytes / r.bytes).toFixed(2)})`);
  }
  return 0;
}

export const convertCommand: Command = {
  name: 'convert',
  help: `usage: wgsl-vit convert --dtype fp16|q8 --weights <checkpoint> --config <open_clip_config.json> --out <model.safetensors> [--no-cache]
  Writes the checkpoint with its matrices (linear layers, patch and token embeddings, projections)
  in fp16 or q8, the other tensors as float32, as a safetensors file that \`load\` reads directly
  (its dtype becomes the model's default). Its summary (the sizes) goes to stderr. fp16: standard F16 tensors under the same keys and shapes
  (open_clip can read the file too). q8: each matrix as I8 (symmetric, [-127, 127]) with its scales,
  F32 [output channels], under <key>.q8_scale (docs/dtypes.md). Prints the sizes. The config's
  towers are checked against the file first; non-finite weights (and, for fp16, values beyond
  ±65504) are refused naming the tensor, and nothing is written.
  ${NO_CACHE_HELP}
  --out may not be the --weights file (under any name). Interrupted (SIGINT, SIGTERM), it removes
  its temporary file (<out>.<pid>.tmp) and exits 130 / 143.
  Exit status: 0 written, 1 refused (a bad checkpoint or weight), 2 usage, 130 / 143 interrupted.`,
  run: convert,
};
