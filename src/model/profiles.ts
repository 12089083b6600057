// Tuning profiles: the kernel choices `wgsl-vit tune` (tune.ts) measured as fastest for one model
// shape on one adapter, stored so that later loads use them instead of the built-in heuristics
// (choose.ts). Node: a JSON file ($WGSL_VIT_PROFILES, default ~/.cache/wgsl-vit/profiles.json;
// WGSL_VIT_PROFILES=off disables); browsers: localStorage ('wgsl-vit-profiles').
import { ConfigError } from '../errors.js';
import type { KernelChoices } from '../graph/graph.js';
import { ATTENTION_VARIANTS, type AttentionVariant } from '../kernels/attention.js';
import { GEMM_TILES, tileName } from '../kernels/gemm-tile.js';
import { GEMM_VARIANTS, type GemmVariant } from '../kernels/gemm.js';
import type { ViTConfig } from './config.js';

/** Kernel choices as stored (the tile by name). */
export interface StoredChoices {
  gemmVariant?: GemmVariant;
  gemmTile?: string;
  attentionVariant?: AttentionVariant;
}

/** One candidate as the tuner timed and checked it. */
export interface TuneTiming {
  label: string;
  choices: StoredChoices;
  msPerImage: number | null;
  /** Largest |difference| of the candidate's outputs from the reference candidate's. */
  maxAbsDiff: number | null;
  ok: boolean;
  error?: string;
}

export interface TuneProfile {
  version: 1;
  /** adapterKey(): vendor / architecture / description of the adapter it was measured on. */
  adapter: string;
  /** shapeKey(): the model shape the choices are for. */
  shape: string;
  batch: number;
  resolution: number;
  choices: StoredChoices;
  timings: TuneTiming[];
  date: string;
}

/** Identifies an adapter across processes: vendor, architecture, description (driver included). */
export function adapterKey(info: Partial<GPUAdapterInfo> | undefined): string {
  return [info?.vendor, info?.architecture, info?.description].map((s) => s ?? '').join(' / ');
}

/** The model shape kernel choices depend on: width, heads, MLP width, patch, resolution. */
export function shapeKey(c: ViTConfig, resolution = c.imageSize): string {
  return `vit w${c.width} h${c.heads} mlp${c.mlpWidth} p${c.patchSize} r${resolution}`;
}

export function toStored(k: KernelChoices): StoredChoices {
  return {
    ...(k.gemmVariant ? { gemmVariant: k.gemmVariant } : {}),
    ...(k.gemmTile ? { gemmTile: tileName(k.gemmTile) } : {}),
    ...(k.attentionVariant ? { attentionVariant: k.attentionVariant } : {}),
  };
}

/** Stored choices back to KernelChoices; a name this version does not know is an error naming `where`. */
export function fromStored(s: StoredChoices, where: string): KernelChoices {
  const bad = (what: string) =>
    new ConfigError(where, `${what}: not one this version knows (run \`wgsl-vit tune\` again or delete the entry)`);
  if (s.gemmVariant !== undefined && !GEMM_VARIANTS.includes(s.gemmVariant)) throw bad(`gemmVariant ${s.gemmVariant}`);
  if (s.attentionVariant !== undefined && !Object.hasOwn(ATTENTION_VARIANTS, s.attentionVariant))
    throw bad(`attentionVariant ${s.attentionVariant}`);
  const tile = s.gemmTile === undefined ? undefined : GEMM_TILES[s.gemmTile];
  if (s.gemmTile !== undefined && !tile) throw bad(`gemmTile ${s.gemmTile}`);
  return {
    ...(s.gemmVariant ? { gemmVariant: s.gemmVariant } : {}),
    ...(tile ? { gemmTile: tile } : {}),
    ...(s.attentionVariant ? { attentionVariant: s.attentionVariant } : {}),
  };
}

/** Where profiles are kept: get/put by (adapter, shape). */
export interface ProfileStore {
  readonly where: string;
  get(adapter: string, shape: string): Promise<TuneProfile | undefined>;
  put(p: TuneProfile): Promise<void>;
}

type ProfileFile = { version: 1; profiles: TuneProfile[] };

function parseFile(text: string, where: string): ProfileFile {
  let f: unknown;
  try {
    f = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(
      where,
      `is not valid JSON (${(e as Error).message}); delete it or run \`wgsl-vit tune\` again`,
    );
  }
  const ok =
    typeof f === 'object' &&
    f !== null &&
    (f as ProfileFile).version === 1 &&
    Array.isArray((f as ProfileFile).profiles);
  if (!ok) throw new ConfigError(where, 'is not a wgsl-vit profile file ({ version: 1, profiles: [...] })');
  return f as ProfileFile;
}

/** A store over text get/set functions (a file, localStorage). */
function textStore(
  where: string,
  read: () => Promise<string | null>,
  write: (s: string) => Promise<void>,
): ProfileStore {
  const load = async () => {
    const t = await read();
    return t === null ? { version: 1 as const, profiles: [] } : parseFile(t, where);
  };
  return {
    where,
    async get(adapter, shape) {
      return (await load()).profiles.find((p) => p.adapter === adapter && p.shape === shape);
    },
    async put(p) {
      const f = await load();
      f.profiles = [...f.profiles.filter((q) => q.adapter !== p.adapter || q.shape !== p.shape), p];
      await write(JSON.stringify(f, null, 2) + '\n');
    },
  };
}

/** A JSON file of profiles (Node). */
export async function fileProfileStore(path: string): Promise<ProfileStore> {
  const fs = await import('node:fs/promises');
  const path_ = await import('node:path');
  return textStore(
    path,
    async () => {
      try {
        return await fs.readFile(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw new ConfigError(path, `cannot be read: ${(e as Error).message}`);
      }
    },
    async (s) => {
      await fs.mkdir(path_.dirname(path), { recursive: true });
      await fs.writeFile(path, s);
    },
  );
}

/**
 * The default store: in Node the file $WGSL_VIT_PROFILES (default ~/.cache/wgsl-vit/profiles.json),
 * none when WGSL_VIT_PROFILES is 'off'; in a browser localStorage; else none.
 */
export async function defaultProfileStore(): Promise<ProfileStore | null> {
  const env = typeof process !== 'undefined' ? process.env?.WGSL_VIT_PROFILES : undefined;
  if (env === 'off') return null;
  if (typeof process !== 'undefined' && process.versions?.node) {
    const os = await import('node:os');
    const path = await import('node:path');
    return fileProfileStore(env || path.join(os.homedir(), '.cache', 'wgsl-vit', 'profiles.json'));
  }
  if (typeof localStorage !== 'undefined') {
    const key = 'wgsl-vit-profiles';
    return textStore(
      `localStorage['${key}']`,
      () => Promise.resolve(localStorage.getItem(key)),
      (s) => Promise.resolve(localStorage.setItem(key, s)),
    );
  }
  return null;
}
