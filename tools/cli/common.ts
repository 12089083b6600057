// What every command of the CLI shares: usage errors (exit 2), option parsing, the checks of
// numbers, required options and output paths.
import { PRECISIONS, type Precision } from '../../src/kernels/program/precision.js';
import { barStream } from './child.js';
import { MODEL_DTYPES, type ModelDType } from '../../src/model/dtype.js';
import { existsSync, statSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in the command line: exit status 2, with the message (and no stack). */
export class UsageError extends Error {}

/** One command: its name, its --help text and what it runs (resolving to the exit status). */
export interface Command {
  readonly name: string;
  readonly help: string;
  run(argv: string[]): Promise<number>;
}

/** Prints a command's usage (its --help) and returns exit status 0. */
export function help(cmd: { help: string }): number {
  console.log(cmd.help);
  return 0;
}

type Options = NonNullable<ParseArgsConfig['options']>;
/** What parse() returns for a command's options (node:util's parseArgs result, --help added). */
export type Parsed<T extends Options> = ReturnType<
  typeof parseArgs<{
    args: string[];
    options: T & { help: { type: 'boolean'; short: 'h' } };
    allowPositionals: boolean;
    strict: true;
  }>
>;

export function parse<T extends Options>(cmd: string, argv: string[], options: T, positionals = false): Parsed<T> {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: positionals,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message} (see wgsl-vit ${cmd} --help)`);
  }
}

/** A positive integer option, or undefined when absent; anything else is a usage error naming it. */
export function intOption(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(v) || v <= 0)
    throw new UsageError(`--${name} must be a positive integer, got '${raw}'`);
  return v;
}

export function required(cmd: string, values: Record<string, unknown>, names: string[]): void {
  const missing = names.filter((n) => values[n] === undefined);
  if (missing.length)
    throw new UsageError(
      `${missing.map((n) => `--${n}`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} required (see wgsl-vit ${cmd} --help)`,
    );
}

/** An output path: a known extension, in a folder that exists, and not itself a folder. */
export function checkOut(path: string, extensions: string[]): void {
  const ext = extname(path).toLowerCase();
  if (!extensions.includes(ext))
    throw new UsageError(`--out ${path}: unknown format '${ext || '(none)'}' (use ${extensions.join(', ')})`);
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new UsageError(`--out ${path}: the folder ${dir} does not exist`);
  if (existsSync(path) && statSync(path).isDirectory()) throw new UsageError(`--out ${path}: is a folder`);
}

/**
 * A progress bar on stderr while a model loads from an http(s) URL (nothing for a path): pass
 * `onProgress` to the load, call `done()` after it.
 */
export async function urlLoadProgress(weights: string): Promise<{
  onProgress?: (p: { phase: string; loaded: number; total: number; tower?: string }) => void;
  done(): void;
}> {
  if (!/^https?:\/\//i.test(weights)) return { done() {} };
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar(
    { format: 'loading {phase} [{bar}] {value}/{total} MB', stream: barStream() },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const mb = (n: number) => Math.round(n / 1e5) / 10;
  return {
    onProgress(p) {
      if (!started) bar.start(mb(p.total), 0, { phase: p.phase });
      started = true;
      bar.setTotal(mb(p.total));
      bar.update(mb(p.loaded), { phase: p.tower ? `${p.phase} (${p.tower} tower)` : p.phase });
    },
    done: () => started && bar.stop(),
  };
}

/** --dtype: fp32, fp16 or q8 (the models' `dtype` load option); a UsageError otherwise. */
export function dtypeOption(raw: string | undefined): ModelDType | undefined {
  if (raw === undefined) return undefined;
  if (!(MODEL_DTYPES as readonly string[]).includes(raw))
    throw new UsageError(`--dtype must be one of ${MODEL_DTYPES.join(', ')}, got '${raw}'`);
  return raw as ModelDType;
}

/** --precision: f32 or f16 (the models' `precision` load option); a UsageError otherwise. */
export function precisionOption(raw: string | undefined): Precision | undefined {
  if (raw === undefined) return undefined;
  if (!(PRECISIONS as readonly string[]).includes(raw))
    throw new UsageError(`--precision must be one of ${PRECISIONS.join(', ')}, got '${raw}'`);
  return raw as Precision;
}

/** The help line of --precision, shared by embed and classify. */
export const PRECISION_HELP = `--precision P the GEMMs' and attention's arithmetic, f32 (default) or f16 (needs shader-f16; docs/precision.md)`;

/** The help line of --no-cache, shared by the commands that load weights (the loads' `cache: false`). */
export const NO_CACHE_HELP = `--no-cache    for an http(s) --weights: neither read nor fill the download cache ($WGSL_VIT_CACHE,
                default ~/.cache/wgsl-vit/downloads; docs/checkpoints.md)`;

/** The help line of --dtype, shared by the commands that load a model. */
export const DTYPE_HELP = `--dtype D     the matrices on the GPU as fp32, fp16 or q8 (default: the file's; docs/dtypes.md)`;
