// Search over a collection run's output folder (clip-retrieval's layout, src/pipeline/writers/):
// openIndex loads every finished part's img_emb/img_emb_{N}.npy onto the GPU once, in its stored
// dtype, and its metadata/metadata_{N}.parquet (key, image_path, caption) on the host; search()
// scores query rows against every row with the library's GEMM (src/kernels/gemm.ts) and ranks them.
//
// On the GPU the matrix is the GEMM's weight operand w [rows, dim] (nn.Linear's layout, which is the
// .npy's row-major [rows, dim]): a float16 index stays float16, 2 bytes a value, in the f16 weight
// layout (src/kernels/program/weight-format.ts: rows padded to whole 8-value steps), read natively
// as WGSL f16 where the device has shader-f16 and unpacked from u32 words (unpack2x16float) on every
// other device; a float32 index is f32. The rows are split into chunks, one GPU buffer each, so that
// each fits maxStorageBufferBindingSize and maxBufferSize and its GEMM's workgroup grid fits
// maxComputeWorkgroupsPerDimension. A query batch [Q, dim] × chunkᵀ → scores [Q, chunk rows] (f32
// accumulation), read back; the top k are kept on the host (topk.ts), chunk by chunk, two chunks
// in flight. The ranking needs no kernel of its own: the read-back is 4 bytes per row and query.
//
// Node only for reading the folder (node:fs is loaded on first use); the module itself loads anywhere.
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { deviceLostError, deviceLostInfo } from '../../device.js';
import { ArgumentError, SearchIndexError, WebGPUError } from '../../errors.js';
import { canRunSubgroupGemm, gemm, gemmSubgroupKernel, gemmVariantFor } from '../../kernels/gemm.js';
import { GEMM_TILES, tileBlock } from '../../kernels/gemm-tile.js';
import { bufferFormOf, GEMM_FAMILY } from '../../kernels/choose/variants.js';
import { wgslConst } from '../../kernels/program/reflect.js';
import type { TensorRef } from '../../kernels/program/types.js';
import { f16LoadsProblem, packWeight, weightRowWords, type F16Loads } from '../../kernels/program/weight-format.js';
import { checkOptionKeys, type KeyList } from '../../options.js';
import type { EmbeddingDtype } from '../writers/format.js';
import { MANIFEST_FORMAT, type Manifest, type OutputParams, type PartRecord } from '../writers/output.js';
import { npyHeaderLength, npyValues, parseNpyHeader, type NpyHeader } from './npy.js';
import { TopK } from './topk.js';

import type { Index, IndexGpuLayout, OpenIndexOptions, SearchGemmVariant, SearchHit, SearchOptions } from './types.js';

export { SearchIndexError } from '../../errors.js';
export type { Index, IndexGpuLayout, OpenIndexOptions, SearchGemmVariant, SearchHit, SearchOptions } from './types.js';
export { textQuery, imageQuery } from './query.js';

const OPEN_KEYS = {
  maxChunkRows: true,
  f16Loads: true,
  variant: true,
  verify: true,
  scoreBufferBytes: true,
} as const satisfies KeyList<OpenIndexOptions>;

const SEARCH_KEYS = { top: true } as const satisfies KeyList<SearchOptions>;

/** Rows and columns of y one workgroup of each buffer GEMM variant computes, at the least (the grid bound of a chunk). */
const MIN_BLOCK = {
  m: Math.min(wgslConst(gemmSubgroupKernel, 'MR'), ...Object.values(GEMM_TILES).map((t) => tileBlock(t).m)),
  n: Math.min(wgslConst(gemmSubgroupKernel, 'NB'), ...Object.values(GEMM_TILES).map((t) => tileBlock(t).n)),
};
/** Bytes of one score buffer (a query batch × a chunk) by default: two of them, each with its read-back copy, are in flight. */
const SCORE_BUFFER_BYTES = 64 << 20;
/** Bytes of one writeBuffer while uploading (bounds Dawn's staging copy). */
const UPLOAD_PIECE_BYTES = 16 << 20;

interface PartMeta {
  n: number;
  /** Global row of its first row. */
  start: number;
  rows: number;
  keys: string[];
  paths: string[];
  captions: (string | null)[];
}

type Fs = typeof import('node:fs/promises');

/**
 * Opens the output folder `dir` of a collection run for search on `device`: reads manifest.json,
 * every finished part's img_emb npy (uploaded once, see the file's header) and metadata parquet.
 * A SearchIndexError names the folder or file at fault: no such folder, no manifest, no finished
 * part, a file missing, of another size or sha256 than the manifest records, a .npy that is not a
 * 2-D float16/float32 C-order array of the manifest's dtype, parts of different widths, metadata
 * whose rows do not match.
 */
export async function openIndex(device: GPUDevice, dir: string, options: OpenIndexOptions = {}): Promise<Index> {
  const where = 'openIndex';
  checkOptionKeys(where, options, OPEN_KEYS);
  if (typeof dir !== 'string' || dir === '') throw new ArgumentError(where, 'dir', 'must be a folder path');
  const { maxChunkRows, variant: askedVariant, verify = true, scoreBufferBytes = SCORE_BUFFER_BYTES } = options;
  if (!(Number.isSafeInteger(scoreBufferBytes) && scoreBufferBytes > 0))
    throw new ArgumentError(where, 'scoreBufferBytes', `must be a positive integer, got ${String(scoreBufferBytes)}`);
  if (maxChunkRows !== undefined && !(Number.isSafeInteger(maxChunkRows) && maxChunkRows > 0))
    throw new ArgumentError(where, 'maxChunkRows', `must be a positive integer, got ${String(maxChunkRows)}`);
  if (askedVariant !== undefined && askedVariant !== 'tiled' && askedVariant !== 'subgroup')
    throw new ArgumentError(where, 'variant', `must be 'tiled' or 'subgroup', got ${JSON.stringify(askedVariant)}`);
  if (askedVariant === 'subgroup' && !canRunSubgroupGemm(device))
    throw new ArgumentError(
      where,
      'variant',
      "'subgroup' needs the subgroups feature with 8 lanes, which this device lacks",
    );
  if (typeof verify !== 'boolean') throw new ArgumentError(where, 'verify', 'must be a boolean');
  if (options.f16Loads !== undefined) {
    const problem = f16LoadsProblem(device, options.f16Loads);
    if (problem) throw new ArgumentError(where, 'f16Loads', problem);
  }

  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const crypto = await import('node:crypto');
  const fail = (p: string, d: string): never => {
    throw new SearchIndexError(p, d);
  };

  const st = await fs.stat(dir).catch(() => undefined);
  if (!st) fail(dir, 'no such folder');
  if (!st!.isDirectory()) fail(dir, 'is not a folder (give the output folder of a collection run)');
  const manifest = await readManifest(fs, path.join(dir, 'manifest.json'), dir);
  const params = checkParams(manifest, path.join(dir, 'manifest.json'));
  const partNumbers = Object.keys(manifest.parts)
    .map(Number)
    .filter((n) => Number.isSafeInteger(n) && n >= 0)
    .sort((a, b) => a - b);
  if (!partNumbers.length)
    fail(dir, 'manifest.json lists no finished part: nothing to search yet (is its run still going?)');

  // Pass 1: each part's files as recorded, and its .npy header (dtype, shape), before any GPU work.
  const files = partNumbers.map((n) => ({
    n,
    record: manifest.parts[String(n)]!,
    npy: `img_emb/img_emb_${n}.npy`,
    meta: `metadata/metadata_${n}.parquet`,
  }));
  const headers: NpyHeader[] = [];
  let dim = 0;
  for (const f of files) {
    for (const rel of [f.npy, f.meta]) {
      const full = path.join(dir, rel);
      const rec = f.record.files?.[rel];
      if (!rec) fail(full, `manifest.json's part ${f.n} does not list this file`);
      const s = await fs.stat(full).catch(() => undefined);
      if (!s) fail(full, `missing (manifest.json lists it in part ${f.n})`);
      if (s!.size !== rec!.bytes)
        fail(full, `is ${s!.size} bytes, manifest.json records ${rec!.bytes} (a damaged or partly copied file)`);
    }
    const file = path.join(dir, f.npy);
    const h = parseNpyHeader(await readHead(fs, file), file, f.record.files[f.npy]!.bytes);
    if (h.dtype !== params.embDtype)
      fail(file, `holds ${h.dtype}, manifest.json's params.embDtype is ${params.embDtype}`);
    if (h.rows !== f.record.rows) fail(file, `holds ${h.rows} rows, manifest.json records ${f.record.rows}`);
    if (dim && h.dim !== dim)
      fail(file, `has rows of ${h.dim} values, ${files[0]!.npy} rows of ${dim}: parts of different models`);
    dim = h.dim;
    headers.push(h);
  }
  const rows = headers.reduce((a, h) => a + h.rows, 0);
  if (rows === 0) fail(dir, 'its finished parts hold no rows: nothing to search');

  // The GPU layout.
  const gpuDtype = params.embDtype === 'float16' ? 'f16' : 'f32';
  const f16Loads: F16Loads | null =
    gpuDtype === 'f16' ? (options.f16Loads ?? (device.features.has('shader-f16') ? 'native' : 'packed')) : null;
  // 'subgroup' reads f32 rows as vec4s: K % 4 == 0, else 'tiled' (as gemm()'s own default).
  const variant: SearchGemmVariant =
    askedVariant ??
    (gpuDtype === 'f32' && dim % 4 !== 0
      ? 'tiled'
      : (bufferFormOf(GEMM_FAMILY, gemmVariantFor(device)) as SearchGemmVariant));
  if (variant === 'subgroup' && gpuDtype === 'f32' && dim % 4 !== 0)
    throw new ArgumentError(where, 'variant', `'subgroup' needs dim % 4 == 0 for a float32 index, got dim ${dim}`);
  const rowBytes = 4 * weightRowWords(dim, gpuDtype);
  const limit = bufferLimit(device);
  const chunkRows = Math.min(
    Math.floor(limit / rowBytes),
    Math.floor(limit / 4), // one query row's scores
    device.limits.maxComputeWorkgroupsPerDimension * MIN_BLOCK.n,
    maxChunkRows ?? Infinity,
  );
  if (chunkRows < 1)
    fail(dir, `one row of ${dim} values (${rowBytes} bytes) exceeds the device's buffer limit ${limit}`);
  const chunks: number[] = [];
  for (let r = 0; r < rows; r += chunkRows) chunks.push(Math.min(chunkRows, rows - r));

  // Pass 2: the chunk buffers, filled part by part (one part's bytes in memory at a time), and the
  // metadata. Each group of GPU calls is scoped without an await inside, so that other work on the
  // device meanwhile neither lands in these scopes nor takes their errors.
  const buffers: GPUBuffer[] = [];
  const metas: PartMeta[] = [];
  const scoped = async (what: string, work: () => void): Promise<void> => {
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    let thrown: Error | null = null;
    try {
      work();
    } catch (e) {
      thrown = e as Error;
    }
    const [v, o] = await Promise.all([device.popErrorScope(), device.popErrorScope()]);
    if (thrown) throw thrown;
    const err = v ?? o;
    if (err) throw new WebGPUError(`${dir}: ${what} failed: ${err.message || err.constructor.name}`);
  };
  try {
    await scoped(`allocating the index on the GPU (${chunks.length} buffers, ${rows * rowBytes} bytes)`, () => {
      for (const c of chunks)
        buffers.push(
          device.createBuffer({
            label: `index ${dir} rows (${c})`,
            size: Math.max(16, c * rowBytes),
            usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
          }),
        );
    });
    let start = 0;
    for (const [i, f] of files.entries()) {
      const npyFile = path.join(dir, f.npy);
      const bytes = await readChecked(fs, crypto, npyFile, f.record, f.npy, verify);
      const h = parseNpyHeader(bytes, npyFile);
      if (h.rows !== headers[i]!.rows || h.dim !== dim || h.dtype !== params.embDtype)
        fail(npyFile, 'changed while the index was being read');
      const values = npyValues(bytes, h);
      if (h.rows)
        await scoped(`uploading ${f.npy}`, () =>
          upload(device, buffers, chunkRows, rowBytes, start, values, h.rows, dim),
        );
      const metaFile = path.join(dir, f.meta);
      const meta = await readMetadata(await readChecked(fs, crypto, metaFile, f.record, f.meta, verify), metaFile);
      if (meta.keys.length !== h.rows)
        fail(metaFile, `has ${meta.keys.length} rows, ${f.npy} has ${h.rows}: they must line up row for row`);
      metas.push({ n: f.n, start, rows: h.rows, ...meta });
      start += h.rows;
    }
    await device.queue.onSubmittedWorkDone();
  } catch (e) {
    for (const b of buffers) b.destroy();
    throw e;
  }

  const gpu: IndexGpuLayout = { dtype: gpuDtype, f16Loads, chunks, bytes: rows * rowBytes, variant };
  const tensors: TensorRef[] = buffers.map((buffer, c) => ({ buffer, shape: [chunks[c]!, dim], dtype: gpuDtype }));
  return new GpuIndex(device, dir, params, metas, rows, dim, gpu, tensors, chunkRows, scoreBufferBytes);
}

/** The largest buffer a binding may be, in whole u32 words. */
function bufferLimit(device: GPUDevice): number {
  return Math.floor(Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize) / 4) * 4;
}

async function readManifest(fs: Fs, file: string, dir: string): Promise<Manifest> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new SearchIndexError(
        dir,
        'has no manifest.json: not the output folder of a collection run (or none of its parts has finished)',
      );
    throw new SearchIndexError(file, `cannot be read: ${(e as Error).message}`);
  }
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch (e) {
    throw new SearchIndexError(file, `is not JSON (${(e as Error).message})`);
  }
  if (m === null || typeof m !== 'object' || m.format !== MANIFEST_FORMAT)
    throw new SearchIndexError(
      file,
      `is not a ${MANIFEST_FORMAT} manifest (its format is ${JSON.stringify(m?.format)})`,
    );
  if (typeof m.params !== 'object' || m.params === null || typeof m.parts !== 'object' || m.parts === null)
    throw new SearchIndexError(file, 'has no params or parts');
  return m;
}

function checkParams(m: Manifest, file: string): Required<OutputParams> {
  const p = m.params;
  if (p.embDtype !== 'float16' && p.embDtype !== 'float32')
    throw new SearchIndexError(file, `params.embDtype is ${JSON.stringify(p.embDtype)}, not 'float16' or 'float32'`);
  if (typeof p.normalize !== 'boolean')
    throw new SearchIndexError(file, `params.normalize is ${JSON.stringify(p.normalize)}, not a boolean`);
  return { ...p };
}

/** The first bytes of a file that hold a .npy header (all of it when it is shorter). */
async function readHead(fs: Fs, file: string): Promise<Uint8Array> {
  const fh = await fs.open(file, 'r');
  try {
    const first = new Uint8Array(12);
    const { bytesRead } = await fh.read(first, 0, 12, 0);
    const len = Math.max(bytesRead, npyHeaderLength(first.subarray(0, bytesRead)));
    const head = new Uint8Array(len);
    const r = await fh.read(head, 0, len, 0);
    return head.subarray(0, r.bytesRead);
  } finally {
    await fh.close();
  }
}

/** A part file's bytes, checked against the manifest's size (and sha256 when `verify`). */
async function readChecked(
  fs: Fs,
  crypto: typeof import('node:crypto'),
  file: string,
  record: PartRecord,
  rel: string,
  verify: boolean,
): Promise<Uint8Array> {
  const buf = await fs.readFile(file);
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const rec = record.files[rel]!;
  if (bytes.length !== rec.bytes)
    throw new SearchIndexError(file, `is ${bytes.length} bytes, manifest.json records ${rec.bytes}`);
  if (verify && crypto.createHash('sha256').update(bytes).digest('hex') !== rec.sha256)
    throw new SearchIndexError(
      file,
      "its sha256 differs from manifest.json's: the file was damaged or changed after its run wrote it",
    );
  return bytes;
}

/** key, image_path and caption of a metadata parquet (key falls back to image_path, as clip-retrieval's files have no key). */
async function readMetadata(
  bytes: Uint8Array,
  file: string,
): Promise<{ keys: string[]; paths: string[]; captions: (string | null)[] }> {
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let names: string[];
  try {
    names = parquetSchema(parquetMetadata(ab)).children.map((c) => c.element.name);
  } catch (e) {
    throw new SearchIndexError(file, `is not a Parquet file (${(e as Error).message})`);
  }
  const keyColumn = names.includes('key') ? 'key' : names.includes('image_path') ? 'image_path' : null;
  if (!keyColumn)
    throw new SearchIndexError(file, `has neither a 'key' nor an 'image_path' column (has: ${names.join(', ')})`);
  const columns = ['key', 'image_path', 'caption'].filter((c) => names.includes(c));
  let objs: Record<string, unknown>[];
  try {
    objs = await parquetReadObjects({ file: ab, columns });
  } catch (e) {
    throw new SearchIndexError(file, `cannot be read as Parquet: ${(e as Error).message}`);
  }
  const str = (v: unknown): string | null =>
    v === null || v === undefined ? null : typeof v === 'string' ? v : JSON.stringify(v);
  return {
    keys: objs.map((o) => str(o[keyColumn]) ?? ''),
    paths: objs.map((o) => str(o.image_path) ?? ''),
    captions: objs.map((o) => str(o.caption)),
  };
}

/** Writes rows [0, n) of one part, global rows start .. start + n - 1, into the chunk buffers. */
function upload(
  device: GPUDevice,
  buffers: GPUBuffer[],
  chunkRows: number,
  rowBytes: number,
  start: number,
  values: Uint16Array | Float32Array,
  n: number,
  dim: number,
): void {
  const piece = Math.max(1, Math.floor(UPLOAD_PIECE_BYTES / rowBytes));
  for (let r = 0; r < n;) {
    const g = start + r;
    const c = Math.floor(g / chunkRows);
    const inChunk = g - c * chunkRows;
    const take = Math.min(n - r, chunkRows - inChunk, piece);
    const words = packWeight(values.subarray(r * dim, (r + take) * dim), take, dim);
    device.queue.writeBuffer(buffers[c]!, inChunk * rowBytes, words as Uint32Array<ArrayBuffer>);
    r += take;
  }
}

/** Query rows as one [Q, dim] array, L2-normalised (in float64) when `normalize`; an error names both widths. */
function queryRows(query: unknown, dim: number, normalize: boolean, dir: string): Float32Array {
  const where = 'search';
  let flat: Float32Array;
  if (query instanceof Float32Array) {
    if (query.length === 0 || query.length % dim !== 0)
      throw new ArgumentError(
        where,
        'query',
        `has ${query.length} values, not a whole number of the index's rows of ${dim} (${dir}): a query from another model?`,
      );
    flat = query;
  } else if (Array.isArray(query) && query.length > 0) {
    flat = new Float32Array(query.length * dim);
    (query as unknown[]).forEach((q, i) => {
      if (!(q instanceof Float32Array)) throw new ArgumentError(where, 'query', `row ${i} is not a Float32Array`);
      if (q.length !== dim)
        throw new ArgumentError(
          where,
          'query',
          `row ${i} has ${q.length} values, the index's rows ${dim} (${dir}): a query from another model?`,
        );
      flat.set(q, i * dim);
    });
  } else
    throw new ArgumentError(where, 'query', 'must be a Float32Array (one or more rows) or a non-empty array of rows');
  if (!normalize) return flat;
  const out = new Float32Array(flat.length);
  for (let r = 0; r < flat.length / dim; r++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += flat[r * dim + i]! * flat[r * dim + i]!;
    const s = ss > 0 ? 1 / Math.sqrt(ss) : 1;
    for (let i = 0; i < dim; i++) out[r * dim + i] = flat[r * dim + i]! * s;
  }
  return out;
}

class GpuIndex implements Index {
  readonly dtype: EmbeddingDtype;
  readonly normalized: boolean;
  readonly parts: readonly number[];
  /** The parts with rows, for finding a row's part. */
  private readonly lookup: readonly PartMeta[];
  private destroyed = false;
  private released = false;
  private inFlight = 0;

  constructor(
    private readonly device: GPUDevice,
    readonly dir: string,
    readonly params: Required<OutputParams>,
    metas: readonly PartMeta[],
    readonly rows: number,
    readonly dim: number,
    readonly gpu: IndexGpuLayout,
    private readonly chunkTensors: readonly TensorRef[],
    private readonly chunkRows: number,
    private readonly scoreBufferBytes: number,
  ) {
    this.dtype = params.embDtype;
    this.normalized = params.normalize;
    this.parts = metas.map((m) => m.n);
    this.lookup = metas.filter((m) => m.rows > 0);
  }

  private checkAlive(): void {
    if (this.destroyed)
      throw new SearchIndexError(
        this.dir,
        'this index was destroyed (destroy() was called); open it again to search it',
      );
  }

  async search(query: Float32Array | readonly Float32Array[], options: SearchOptions = {}): Promise<SearchHit[][]> {
    this.checkAlive();
    checkOptionKeys('search', options, SEARCH_KEYS);
    const top = options.top ?? 10;
    if (!Number.isSafeInteger(top) || top <= 0)
      throw new ArgumentError('search', 'top', `must be a positive integer, got ${String(top)}`);
    const x = queryRows(query, this.dim, this.normalized, this.dir);
    this.inFlight++;
    try {
      return await this.rank(x, Math.min(top, this.rows));
    } catch (e) {
      const lost = await deviceLostInfo(this.device);
      if (lost) throw deviceLostError(`index ${this.dir}`, lost);
      throw e;
    } finally {
      this.inFlight--;
      if (this.destroyed && this.inFlight === 0) this.release();
    }
  }

  private async rank(x: Float32Array, top: number): Promise<SearchHit[][]> {
    const { device, dim, chunkRows } = this;
    const Q = x.length / dim;
    const limit = bufferLimit(device);
    const batch = Math.max(
      1,
      Math.min(
        Q,
        Math.floor(Math.min(limit, this.scoreBufferBytes) / (4 * Math.min(chunkRows, this.rows))),
        Math.floor(limit / (4 * dim)),
        device.limits.maxComputeWorkgroupsPerDimension * MIN_BLOCK.m,
      ),
    );
    const heaps = Array.from({ length: Q }, () => new TopK(top));
    const scoreBytes = Math.max(16, batch * Math.min(chunkRows, this.rows) * 4);
    const made: GPUBuffer[] = [];
    const make = (usage: number, size = scoreBytes) => {
      const b = device.createBuffer({ size, usage });
      made.push(b);
      return b;
    };
    const slots = [0, 1].map(() => ({
      y: make(GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC),
      read: make(GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST),
    }));
    /** Each slot's last (query batch × chunk) product: resolves once its scores are merged. */
    const pending: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
    try {
      let job = 0;
      for (let q0 = 0; q0 < Q; q0 += batch) {
        const qn = Math.min(batch, Q - q0);
        const xb = make(GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, Math.max(16, qn * dim * 4));
        device.queue.writeBuffer(xb, 0, x as Float32Array<ArrayBuffer>, q0 * dim, qn * dim);
        const xt: TensorRef = { buffer: xb, shape: [qn, dim], dtype: 'f32' };
        for (const [c, w] of this.chunkTensors.entries()) {
          const s = job++ % 2;
          // The slot's previous product must be merged (and its read-back unmapped) first.
          await pending[s];
          this.checkAlive();
          const slot = slots[s]!;
          const cn = w.shape[0]!;
          const y: TensorRef = { buffer: slot.y, shape: [qn, cn], dtype: 'f32' };
          const d = gemm(device, {
            x: xt,
            w,
            bias: null,
            y,
            variant: this.gpu.variant,
            ...(this.gpu.f16Loads ? { f16Loads: this.gpu.f16Loads } : {}),
          });
          const row0 = c * chunkRows;
          pending[s] = (async () => {
            try {
              await d.prepare?.();
              this.checkAlive();
              // Scoped without an await inside: other work on the device neither lands here nor takes these errors.
              device.pushErrorScope('out-of-memory');
              device.pushErrorScope('validation');
              const enc = device.createCommandEncoder();
              const pass = enc.beginComputePass();
              d.encode(pass);
              pass.end();
              enc.copyBufferToBuffer(slot.y, 0, slot.read, 0, qn * cn * 4);
              device.queue.submit([enc.finish()]);
              const [v, o] = await Promise.all([device.popErrorScope(), device.popErrorScope()]);
              const err = v ?? o;
              if (err) throw new WebGPUError(`index ${this.dir}: scoring chunk ${c} failed: ${err.message}`);
              await slot.read.mapAsync(GPUMapMode.READ, 0, qn * cn * 4);
              try {
                const scores = new Float32Array(slot.read.getMappedRange(0, qn * cn * 4));
                for (let q = 0; q < qn; q++) {
                  const h = heaps[q0 + q]!;
                  for (let j = 0; j < cn; j++) h.push(scores[q * cn + j]!, row0 + j);
                }
              } finally {
                slot.read.unmap();
              }
            } finally {
              d.destroy(); // its uniform buffer, once the GPU is done with it
            }
          })();
          // Keep a rejection from going unhandled before it is awaited.
          pending[s].catch(() => undefined);
        }
      }
      await Promise.all(pending);
    } finally {
      await Promise.allSettled(pending);
      for (const b of made) b.destroy();
    }
    return heaps.map((h) => h.sorted().map(({ score, row }) => this.hit(score, row)));
  }

  private hit(score: number, global: number): SearchHit {
    // the part holding `global`: the last whose start is ≤ it
    let lo = 0,
      hi = this.lookup.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lookup[mid]!.start <= global) lo = mid;
      else hi = mid - 1;
    }
    const m = this.lookup[lo]!;
    const row = global - m.start;
    return { key: m.keys[row]!, score, caption: m.captions[row]!, image_path: m.paths[row]!, part: m.n, row };
  }

  destroy(): void {
    this.destroyed = true;
    if (this.inFlight === 0) this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    for (const t of this.chunkTensors) t.buffer.destroy();
    // Dawn frees destroyed buffers' memory at its next tick: an empty submit runs it now (src/model/tower.ts).
    this.device.queue.submit([]);
  }
}
