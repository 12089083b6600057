// An output folder of a collection run, in clip-retrieval's layout (docs/datasets.md, "Output layout"):
//
//   manifest.json                      the run's parameters and its finished parts
//   img_emb/img_emb_{N}.npy            [rows, dim] float16 (default) or float32, L2-normalised by default
//   text_emb/text_emb_{N}.npy          the same for the captions' text embeddings, when given
//   metadata/metadata_{N}.parquet      key, image_path, caption, the JSON fields: row i = npy row i
//   failed/failed_{N}.parquet          key, reason: the samples left out (only when there are some)
//
// {N} is the part index as a plain integer (img_emb_0.npy, img_emb_12.npy), as clip-retrieval names
// them. A part's files are written under hidden temporary names (`.img_emb_3.npy.tmp-<pid>-<random>`,
// which no `img_emb_*.npy` glob matches), synced, then renamed, the .npy last: a folder that shows
// img_emb_{N}.npy also has that part's other files. The part counts as done once its record
// parts/part_{N}.json is there (written to a temporary name and renamed too, after the part's files),
// with every file it lists at its recorded size. One record per part, so processes on several machines
// writing parts into one folder never overwrite each other's records; manifest.json's `parts` is
// rebuilt from the records at a process's first write, then gains each part that process writes (and
// is rebuilt by refreshManifest(), which a coordinator calls at the end: until then a process's
// manifest may miss parts other processes wrote). A process killed at any
// point leaves at most temporary files and a part without a record, which is then redone. The bytes
// are a pure function of the part's input, so a part written twice (an at-least-once queue) gives the
// same files and the same record.
// Node only (node:fs, loaded on first use); the bytes themselves are src/pipeline/writers/format.ts.
import { ArgumentError } from '../../errors.js';
import { checkOptionKeys, type KeyList } from '../../options.js';
import {
  embeddingsNpy,
  failedParquet,
  metadataParquet,
  type EmbeddingDtype,
  type FailedRow,
  type PartRow,
} from './format.js';

/** The output folder cannot be used: not writable, another run's parameters, a damaged manifest. */
export class OutputError extends Error {
  constructor(
    readonly dir: string,
    detail: string,
    /** The run parameter that differs, when that is the reason. */
    readonly parameter?: string,
  ) {
    super(`output folder ${dir}: ${detail}`);
    this.name = 'OutputError';
  }
}

/** What a run is: a rerun into the same folder must have the same values (or pass `overwrite`). */
export interface OutputParams {
  /** A hash identifying the weights and config (e.g. sha256 of both). */
  modelHash: string;
  /** The model's input resolution in pixels. */
  resolution: number;
  /** The weight dtype the model ran in ('fp32', 'fp16', 'q8'). */
  dtype: string;
  /** How embeddings are stored (default 'float16'). */
  embDtype?: EmbeddingDtype;
  /** L2-normalise each embedding (default true). */
  normalize?: boolean;
}
const PARAM_KEYS = {
  modelHash: true,
  resolution: true,
  dtype: true,
  embDtype: true,
  normalize: true,
} as const satisfies KeyList<OutputParams>;

export interface OpenOutputOptions {
  /** Replace a previous run in the folder (its manifest and part files) instead of refusing or resuming. */
  overwrite?: boolean;
}
const OPEN_KEYS = { overwrite: true } as const satisfies KeyList<OpenOutputOptions>;

/** One part's content. */
export interface PartInput {
  /** rows.length × dim image embeddings, row-major, as the model returned them (unnormalised). */
  embeddings: Float32Array;
  dim: number;
  /** rows.length × textDim caption embeddings, when the model has a text tower and captions exist. */
  textEmbeddings?: Float32Array;
  /** Width of textEmbeddings' rows (default dim). */
  textDim?: number;
  /** One per embedding row, same order. */
  rows: readonly PartRow[];
  /** The samples of this part that could not be embedded. */
  failed?: readonly FailedRow[];
}

/** A finished part as manifest.json records it. */
export interface PartRecord {
  rows: number;
  failed: number;
  /** Each file of the part (relative to the folder) with its size and sha256. */
  files: Record<string, { bytes: number; sha256: string }>;
}

export interface Manifest {
  format: typeof FORMAT;
  params: Required<OutputParams>;
  parts: Record<string, PartRecord>;
}
const FORMAT = 'wgsl-vit/output/1';
/** manifest.json's `format`, which a reader of the folder (src/pipeline/search/index.ts) checks. */
export const MANIFEST_FORMAT = FORMAT;

export interface Output {
  readonly dir: string;
  readonly params: Required<OutputParams>;
  /** Whether manifest.json (as now on disk) lists part n and its files are there at their recorded sizes. */
  isPartDone(n: number): Promise<boolean>;
  /** The finished parts, ascending. */
  doneParts(): Promise<number[]>;
  /** Writes part n atomically (see the file's header), then its record parts/part_{n}.json, then the manifest. */
  writePart(n: number, part: PartInput): Promise<PartRecord>;
  /** Rebuilds manifest.json's `parts` from the part records on disk (after other processes wrote parts). */
  refreshManifest(): Promise<Manifest>;
}

const FOLDERS = ['img_emb', 'text_emb', 'metadata', 'failed', 'parts'] as const;
/** A finished part file or record, or a temporary one, of this layout. */
const PART_FILE = /^(img_emb_\d+\.npy|text_emb_\d+\.npy|metadata_\d+\.parquet|failed_\d+\.parquet|part_\d+\.json)$/;
const TEMP_FILE = /^\.(img_emb|text_emb|metadata|failed|manifest|part).*\.tmp-/;
const RECORD = /^part_(\d+)\.json$/;

type Fs = typeof import('node:fs/promises');
type Path = typeof import('node:path');

/**
 * Opens (creating it if need be) an output folder for a run with `params`. A folder whose manifest
 * has other parameters is refused, naming the first that differs, unless `overwrite`, which removes
 * the previous run's manifest and part files (nothing else) and starts afresh; with the same
 * parameters the finished parts stay finished (resume). A folder with part files but no manifest is
 * refused too (unless `overwrite`): they are not this library's, or their run is unknown.
 */
export async function openOutput(dir: string, params: OutputParams, options: OpenOutputOptions = {}): Promise<Output> {
  const where = 'openOutput';
  checkOptionKeys(where, params, PARAM_KEYS, { argument: 'params', prefix: 'params.', noun: 'parameter' });
  checkOptionKeys(where, options, OPEN_KEYS);
  const full = resolveParams(params);
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const crypto = await import('node:crypto');

  try {
    for (const f of FOLDERS) await fs.mkdir(path.join(dir, f), { recursive: true });
    const probe = path.join(dir, `.manifest.json.tmp-probe-${process.pid}`);
    await fs.writeFile(probe, '');
    await fs.unlink(probe);
  } catch (e) {
    throw new OutputError(dir, `cannot be written: ${(e as Error).message}`);
  }

  const manifestPath = path.join(dir, 'manifest.json');
  const readManifest = async (): Promise<Manifest | undefined> => {
    let text: string;
    try {
      text = await fs.readFile(manifestPath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new OutputError(dir, `cannot read manifest.json: ${(e as Error).message}`);
    }
    try {
      const m = JSON.parse(text) as Manifest;
      if (m.format !== FORMAT || typeof m.params !== 'object' || typeof m.parts !== 'object')
        throw new Error('not a manifest');
      return m;
    } catch (e) {
      throw new OutputError(dir, `manifest.json is not a ${FORMAT} manifest (${(e as Error).message})`);
    }
  };
  const writeManifest = (m: Manifest): Promise<void> =>
    writeAtomic(fs, path, manifestPath, new TextEncoder().encode(JSON.stringify(m, null, 2) + '\n'));

  const old = await readManifest();
  if (options.overwrite) {
    await removeRun(fs, path, dir);
  } else if (old) {
    for (const k of Object.keys(PARAM_KEYS) as (keyof OutputParams)[])
      if (old.params[k] !== full[k])
        throw new OutputError(
          dir,
          `holds a run with other parameters: '${k}' is ${JSON.stringify(old.params[k])} there, ` +
            `${JSON.stringify(full[k])} now (overwrite replaces that run)`,
          k,
        );
  } else {
    const found = await partFiles(fs, path, dir);
    if (found.length)
      throw new OutputError(dir, `holds part files but no manifest.json (${found[0]}, …; overwrite replaces them)`);
  }
  if (options.overwrite || !old) await writeManifest({ format: FORMAT, params: full, parts: {} });

  const recordPath = (n: number) => path.join(dir, 'parts', `part_${n}.json`);
  /** Part n's record if it is there, well formed, and every file it lists has its recorded size. */
  const readRecord = async (n: number): Promise<PartRecord | undefined> => {
    let rec: PartRecord;
    try {
      rec = JSON.parse(await fs.readFile(recordPath(n), 'utf8')) as PartRecord;
      if (typeof rec !== 'object' || typeof rec.files !== 'object' || !Number.isInteger(rec.rows)) return undefined;
    } catch {
      return undefined; // absent, or cut short (then the part is redone)
    }
    for (const [file, { bytes }] of Object.entries(rec.files)) {
      const st = await fs.stat(path.join(dir, file)).catch(() => undefined);
      if (!st || st.size !== bytes) return undefined;
    }
    return rec;
  };
  const recordedParts = async (): Promise<number[]> => {
    const names = await fs.readdir(path.join(dir, 'parts')).catch(() => [] as string[]);
    return names
      .map((f) => RECORD.exec(f)?.[1])
      .filter((k): k is string => k !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  };
  let chain: Promise<unknown> = Promise.resolve();
  /** The parts manifest.json lists, as this process last wrote it (null: not read from the records yet). */
  let listed: Record<string, PartRecord> | null = null;
  /** Writes manifest.json from `listed` with `update` applied (serialised within this process). */
  const updateManifest = (update: (parts: Record<string, PartRecord>) => Promise<void> | void): Promise<Manifest> => {
    const done = chain.then(async () => {
      const parts = listed ?? {};
      await update(parts);
      const sorted = Object.fromEntries(Object.entries(parts).sort(([a], [b]) => Number(a) - Number(b)));
      const m: Manifest = { format: FORMAT, params: full, parts: sorted };
      await writeManifest(m);
      listed = sorted;
      return m;
    });
    chain = done.catch(() => undefined);
    return done;
  };
  /** manifest.json with `parts` rebuilt from the records on disk (those other processes wrote too). */
  const refreshManifest = (): Promise<Manifest> =>
    updateManifest(async (parts) => {
      for (const k of Object.keys(parts)) delete parts[k];
      for (const k of await recordedParts()) {
        const rec = await readRecord(k);
        if (rec) parts[String(k)] = rec;
      }
    });
  const isPartDone = async (n: number): Promise<boolean> => (await readRecord(n)) !== undefined;

  return {
    dir,
    params: full,
    isPartDone,
    async doneParts() {
      const out: number[] = [];
      for (const k of await recordedParts()) if (await isPartDone(k)) out.push(k);
      return out;
    },
    async writePart(n, part) {
      const files = encodePart(n, part, full);
      const record: PartRecord = { rows: part.rows.length, failed: part.failed?.length ?? 0, files: {} };
      for (const [file, bytes] of files)
        record.files[file] = { bytes: bytes.length, sha256: crypto.createHash('sha256').update(bytes).digest('hex') };
      try {
        // A file this part no longer has (no failures, no captions this time) must not linger.
        for (const stale of [`failed/failed_${n}.parquet`, `text_emb/text_emb_${n}.npy`])
          if (!files.has(stale)) await fs.rm(path.join(dir, stale), { force: true });
        // All temporaries first, then the renames, the image embeddings last, then the record.
        const temps: [string, string][] = [];
        for (const [file, bytes] of files) temps.push([await writeTemp(fs, path, path.join(dir, file), bytes), file]);
        for (const [temp, file] of temps) await fs.rename(temp, path.join(dir, file));
        await writeAtomic(fs, path, recordPath(n), new TextEncoder().encode(JSON.stringify(record, null, 2) + '\n'));
      } catch (e) {
        throw new OutputError(dir, `part ${n} cannot be written: ${(e as Error).message}`);
      }
      // The first write rebuilds the list from the records; later ones add this part to it, so a run of
      // many parts does not re-read every record after each (refreshManifest rereads them all).
      if (listed === null) await refreshManifest();
      else await updateManifest((parts) => void (parts[String(n)] = record));
      return record;
    },
    refreshManifest,
  };
}

function resolveParams(p: OutputParams): Required<OutputParams> {
  const fail = (k: string, d: string): never => {
    throw new ArgumentError('openOutput', `params.${k}`, d);
  };
  if (typeof p.modelHash !== 'string' || !p.modelHash) fail('modelHash', 'must be a non-empty string');
  if (!Number.isInteger(p.resolution) || p.resolution <= 0) fail('resolution', 'must be a positive integer');
  if (typeof p.dtype !== 'string' || !p.dtype) fail('dtype', 'must be a non-empty string');
  const embDtype = p.embDtype ?? 'float16';
  if (embDtype !== 'float16' && embDtype !== 'float32') fail('embDtype', "must be 'float16' or 'float32'");
  const normalize = p.normalize ?? true;
  if (typeof normalize !== 'boolean') fail('normalize', 'must be a boolean');
  return { modelHash: p.modelHash, resolution: p.resolution, dtype: p.dtype, embDtype, normalize };
}

/** The files of part n (path relative to the folder → bytes), in rename order: the .npy of images last. */
function encodePart(n: number, part: PartInput, params: Required<OutputParams>): Map<string, Uint8Array> {
  const bad = (what: string): never => {
    throw new RangeError(`writePart(${n}): ${what}`);
  };
  if (!Number.isInteger(n) || n < 0) bad('the part index must be a non-negative integer');
  if (!Number.isInteger(part.dim) || part.dim <= 0) bad('dim must be a positive integer');
  const rows = part.rows.length;
  if (part.embeddings.length !== rows * part.dim)
    bad(`embeddings hold ${part.embeddings.length} values, ${rows} rows × ${part.dim} expected`);
  const files = new Map<string, Uint8Array>();
  const failed = part.failed ?? [];
  if (failed.length) files.set(`failed/failed_${n}.parquet`, failedParquet(failed));
  if (part.textEmbeddings) {
    const textDim = part.textDim ?? part.dim;
    if (part.textEmbeddings.length !== rows * textDim)
      bad(`textEmbeddings hold ${part.textEmbeddings.length} values, ${rows} rows × ${textDim} expected`);
    files.set(
      `text_emb/text_emb_${n}.npy`,
      embeddingsNpy(part.textEmbeddings, rows, textDim, params.embDtype, params.normalize),
    );
  }
  files.set(`metadata/metadata_${n}.parquet`, metadataParquet(part.rows));
  files.set(
    `img_emb/img_emb_${n}.npy`,
    embeddingsNpy(part.embeddings, rows, part.dim, params.embDtype, params.normalize),
  );
  return files;
}

/** Writes `bytes` beside `target` under a hidden temporary name, synced; returns that name. */
async function writeTemp(fs: Fs, path: Path, target: string, bytes: Uint8Array): Promise<string> {
  const temp = path.join(
    path.dirname(target),
    `.${path.basename(target)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`,
  );
  const fh = await fs.open(temp, 'w');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return temp;
}

async function writeAtomic(fs: Fs, path: Path, target: string, bytes: Uint8Array): Promise<void> {
  await fs.rename(await writeTemp(fs, path, target, bytes), target);
}

/** The part files (finished names) in the layout's folders, relative to `dir`. */
async function partFiles(fs: Fs, path: Path, dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const f of FOLDERS)
    for (const name of (await fs.readdir(path.join(dir, f))).sort()) if (PART_FILE.test(name)) out.push(`${f}/${name}`);
  return out;
}

/** Removes a previous run: manifest.json, part files and temporaries of this layout, nothing else. */
async function removeRun(fs: Fs, path: Path, dir: string): Promise<void> {
  try {
    await fs.rm(path.join(dir, 'manifest.json'), { force: true });
    for (const name of await fs.readdir(dir))
      if (TEMP_FILE.test(name)) await fs.rm(path.join(dir, name), { force: true });
    for (const f of FOLDERS)
      for (const name of await fs.readdir(path.join(dir, f)))
        if (PART_FILE.test(name) || TEMP_FILE.test(name)) await fs.rm(path.join(dir, f, name), { force: true });
  } catch (e) {
    throw new OutputError(dir, `the previous run cannot be removed: ${(e as Error).message}`);
  }
}
