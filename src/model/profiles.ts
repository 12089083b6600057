// Tuning profiles: the kernel choices `wgsl-vit tune` (tune.ts) measured as fastest for one model
// shape on one adapter, stored so that later loads use them instead of the built-in heuristics
// (kernels/choose/choose.ts). Node: a JSON file ($WGSL_VIT_PROFILES, default ~/.cache/wgsl-vit/profiles.json;
// WGSL_VIT_PROFILES=off disables); browsers: localStorage ('wgsl-vit-profiles').
import { ConfigError } from '../errors.js';
import { envReadable, envVar } from '../env.js';
import { warnOnce } from '../warn.js';
import type { KernelChoices } from '../graph/graph.js';
import { ATTENTION_VARIANTS, type AttentionVariant } from '../kernels/attention.js';
import { GEMM_TILES, tileName } from '../kernels/gemm-tile.js';
import { GEMM_VARIANTS, type GemmVariant } from '../kernels/gemm.js';
import type { TextConfig, ViTConfig } from './config.js';

/** Kernel choices as stored (the tile by name). */
export interface StoredChoices {
  gemmVariant?: GemmVariant;
  gemmTile?: string;
  gemmSplitK?: number;
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
  /** shapeKey(): the tower shape the choices are for. */
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

/**
 * The tower shape kernel choices depend on: width, heads, MLP width, and the tokens per input (a
 * vision tower's patch and resolution; a text tower's context length, `resolution` unused). Each
 * tower has its own profile, a CLIP model's text tower too (load.ts says why).
 */
export function shapeKey(c: ViTConfig | TextConfig, resolution?: number): string {
  if ('contextLength' in c) return `text w${c.width} h${c.heads} mlp${c.mlpWidth} t${c.contextLength}`;
  return `vit w${c.width} h${c.heads} mlp${c.mlpWidth} p${c.patchSize} r${resolution ?? c.imageSize}`;
}

export function toStored(k: KernelChoices): StoredChoices {
  return {
    ...(k.gemmVariant ? { gemmVariant: k.gemmVariant } : {}),
    ...(k.gemmTile ? { gemmTile: tileName(k.gemmTile) } : {}),
    ...(k.gemmSplitK !== undefined ? { gemmSplitK: k.gemmSplitK } : {}),
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
  if (s.gemmSplitK !== undefined && !(Number.isInteger(s.gemmSplitK) && s.gemmSplitK >= 1))
    throw bad(`gemmSplitK ${String(s.gemmSplitK)}`);
  return {
    ...(s.gemmVariant ? { gemmVariant: s.gemmVariant } : {}),
    ...(tile ? { gemmTile: tile } : {}),
    ...(s.gemmSplitK !== undefined ? { gemmSplitK: s.gemmSplitK } : {}),
    ...(s.attentionVariant ? { attentionVariant: s.attentionVariant } : {}),
  };
}

/** Where profiles are kept: get/put by (adapter, shape). */
export interface ProfileStore {
  readonly where: string;
  /** The stored profile, if any; an unreadable or invalid store is a ConfigError naming it. */
  get(adapter: string, shape: string): Promise<TuneProfile | undefined>;
  /** Adds or replaces one profile (an unreadable store is replaced, with a warning). */
  put(p: TuneProfile): Promise<void>;
  /** Throws a ConfigError naming the store when `put` could not write to it (checked before tuning). */
  check?(): Promise<void>;
}

type ProfileFile = { version: 1; profiles: TuneProfile[] };

function parseFile(text: string, where: string): ProfileFile {
  let f: unknown;
  try {
    f = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(
      where,
      `is not valid JSON (${(e as Error).message}); delete it, or run \`wgsl-vit tune\` again (which replaces it)`,
    );
  }
  const ok =
    typeof f === 'object' &&
    f !== null &&
    (f as ProfileFile).version === 1 &&
    Array.isArray((f as ProfileFile).profiles);
  if (!ok)
    throw new ConfigError(
      where,
      'is not a wgsl-vit profile file ({ version: 1, profiles: [...] }); delete it, or run `wgsl-vit tune` again (which replaces it)',
    );
  return f as ProfileFile;
}

export { warnOnce };

/** The profile file's contents for a put: an unreadable or invalid one is replaced (said once). */
function forPut(text: string | null, where: string): ProfileFile {
  if (text === null) return { version: 1, profiles: [] };
  try {
    return parseFile(text, where);
  } catch (e) {
    warnOnce(`${(e as Error).message} — replacing it`);
    return { version: 1, profiles: [] };
  }
}

/** Adds or replaces `p` in `f` (by adapter and shape). */
function merged(f: ProfileFile, p: TuneProfile): ProfileFile {
  return { version: 1, profiles: [...f.profiles.filter((q) => q.adapter !== p.adapter || q.shape !== p.shape), p] };
}

/** A store over localStorage-like get/set functions (one string, written whole). */
function textStore(where: string, read: () => string | null, write: (s: string) => void): ProfileStore {
  return {
    where,
    get(adapter, shape) {
      const t = read();
      const f = t === null ? { version: 1 as const, profiles: [] } : parseFile(t, where);
      return Promise.resolve(f.profiles.find((p) => p.adapter === adapter && p.shape === shape));
    },
    put(p) {
      // One synchronous read-modify-write: no other code of this page runs in between.
      write(JSON.stringify(merged(forPut(read(), where), p), null, 2) + '\n');
      return Promise.resolve();
    },
  };
}

/** Most time a writer waits for another's lock before giving up; a lock older than STALE_LOCK_MS is a crashed writer's. */
const LOCK_WAIT_MS = 10_000;
const STALE_LOCK_MS = 30_000;

/**
 * A JSON file of profiles (Node). Reads never see a partial file: a write goes to a temporary file in
 * the same folder, then replaces the file by rename. Concurrent writers (several `tune` runs) merge
 * one after another under a lock file (`<file>.lock`, created exclusively), so none loses another's
 * entry.
 */
export async function fileProfileStore(path: string): Promise<ProfileStore> {
  const fs = await import('node:fs/promises');
  const path_ = await import('node:path');
  const lockPath = `${path}.lock`;
  const read = async (): Promise<string | null> => {
    try {
      return await fs.readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new ConfigError(path, `cannot be read: ${(e as Error).message}`);
    }
  };
  const unwritable = (e: unknown) =>
    new ConfigError(
      path,
      `cannot be written: ${(e as Error).message} (give another file with --profiles FILE or WGSL_VIT_PROFILES, or --no-save)`,
    );
  const lock = async (): Promise<void> => {
    const t0 = Date.now();
    for (;;) {
      try {
        await (await fs.open(lockPath, 'wx')).close();
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw unwritable(e);
        const age = await fs.stat(lockPath).then(
          (s) => Date.now() - s.mtimeMs,
          () => 0,
        );
        if (age > STALE_LOCK_MS) await fs.rm(lockPath, { force: true });
        else if (Date.now() - t0 > LOCK_WAIT_MS)
          throw new ConfigError(path, `is locked by another writer (${lockPath}) for over ${LOCK_WAIT_MS / 1000} s`);
        else await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
      }
    }
  };
  const check = async () => {
    try {
      await fs.mkdir(path_.dirname(path), { recursive: true });
      const st = await fs.stat(path).catch(() => null);
      if (st && !st.isFile()) throw new Error('it is not a regular file (a directory?)');
      await fs.access(path_.dirname(path), fs.constants.W_OK);
      if (st) await fs.access(path, fs.constants.W_OK);
    } catch (e) {
      throw unwritable(e);
    }
  };
  return {
    where: path,
    async get(adapter, shape) {
      const t = await read();
      const f = t === null ? { version: 1 as const, profiles: [] } : parseFile(t, path);
      return f.profiles.find((p) => p.adapter === adapter && p.shape === shape);
    },
    async put(p) {
      await check();
      await lock();
      const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      try {
        let text: string | null;
        try {
          text = await read();
        } catch (e) {
          warnOnce(`${(e as Error).message} — replacing it`);
          text = null;
        }
        await fs.writeFile(tmp, JSON.stringify(merged(forPut(text, path), p), null, 2) + '\n');
        await fs.rename(tmp, path);
      } catch (e) {
        await fs.rm(tmp, { force: true });
        throw e instanceof ConfigError ? e : unwritable(e);
      } finally {
        await fs.rm(lockPath, { force: true });
      }
    },
    check,
  };
}

/**
 * The default store: in Node the file $WGSL_VIT_PROFILES (default ~/.cache/wgsl-vit/profiles.json),
 * none when WGSL_VIT_PROFILES is 'off'; in a browser localStorage; else none.
 */
export async function defaultProfileStore(): Promise<ProfileStore | null> {
  const env = envVar('WGSL_VIT_PROFILES');
  if (env === 'off') return null;
  if (typeof process !== 'undefined' && process.versions?.node) {
    // Deno without --allow-env (the variable) or --allow-sys (the home directory): no store.
    if (!envReadable()) return null;
    const os = await import('node:os');
    const path = await import('node:path');
    let home: string;
    try {
      home = env ? '' : os.homedir();
    } catch {
      return null;
    }
    return fileProfileStore(env || path.join(home, '.cache', 'wgsl-vit', 'profiles.json'));
  }
  if (typeof localStorage !== 'undefined') {
    const key = 'wgsl-vit-profiles';
    return textStore(
      `localStorage['${key}']`,
      () => localStorage.getItem(key),
      (s) => localStorage.setItem(key, s),
    );
  }
  return null;
}
