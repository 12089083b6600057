// Folders and list files: images as separate files (or URLs), with a `.txt` (caption) and a `.json`
// (metadata) of the same name beside an image, as clip-retrieval's `files` input and img2dataset's
// `files` output lay them out.
//
// A folder is walked recursively (symbolic links to files followed, to folders not: no cycles);
// its images, the files whose extension is one of IMAGE_EXTENSIONS (any case), are taken in the
// byte order of their UTF-8 path relative to the folder, `/`-separated (stable whatever the file
// system's listing order). A list file holds one path or http(s) URL per line; blank lines and lines
// starting with `#` are skipped, surrounding spaces trimmed, relative paths resolved from the list
// file's folder. Its entries are taken in the order of the file.
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { SourceError } from '../../errors.js';
import { fetchBytes, isUrl } from './http.js';
import { parseMeta } from './tar.js';
import { IMAGE_EXTENSIONS, type Sample, type SourceItem } from './types.js';

/** The extension of a path or URL (lowercase, after the last dot of its last segment), or ''. */
export function extensionOf(p: string): string {
  const name = p.replace(/[?#].*$/, '').replace(/^.*\//, '');
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Every file under `root`, as `/`-separated paths relative to it (unsorted). */
async function walk(root: string, rel: string, out: string[]): Promise<void> {
  const dir = rel ? join(root, rel) : root;
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) await walk(root, r, out);
    else if (d.isFile()) out.push(r);
    else if (d.isSymbolicLink()) {
      const s = await stat(join(root, r)).catch(() => undefined);
      if (s?.isFile()) out.push(r);
    }
  }
}

/** An image of a folder or a list, before it is read: where it is, its key, its `.txt` / `.json` (when known to exist). */
export interface FileEntry {
  key: string;
  /** A local path or an http(s) URL. */
  location: string;
  caption?: string;
  meta?: string;
  /** Look for the `.txt` / `.json` beside it when read (list entries: not listed in advance). */
  probe?: boolean;
}

/** The images of a folder with their captions and metadata files, in order. */
export async function folderEntries(folder: string): Promise<FileEntry[]> {
  const files: string[] = [];
  try {
    await walk(folder, '', files);
  } catch (e) {
    throw new SourceError(folder, `cannot read the folder: ${(e as Error).message}`);
  }
  files.sort(byteOrder);
  const present = new Set(files);
  const out: FileEntry[] = [];
  for (const f of files) {
    const ext = extensionOf(f);
    if (!IMAGE_EXTENSIONS.includes(ext)) continue;
    const key = f.slice(0, f.length - ext.length - 1);
    const e: FileEntry = { key, location: join(folder, f) };
    if (present.has(`${key}.txt`)) e.caption = join(folder, `${key}.txt`);
    if (present.has(`${key}.json`)) e.meta = join(folder, `${key}.json`);
    out.push(e);
  }
  return out;
}

/** The entries of a list file, in order. */
export async function listEntries(list: string): Promise<FileEntry[]> {
  let text: string;
  try {
    text = await readFile(list, 'utf8');
  } catch (e) {
    throw new SourceError(list, `cannot read the list file: ${(e as Error).message}`);
  }
  const base = dirname(resolve(list));
  const out: FileEntry[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const ext = extensionOf(line);
    const image = IMAGE_EXTENSIONS.includes(ext);
    const url = isUrl(line);
    const key = !image ? line : url ? stripExt(line, ext) : line.slice(0, line.length - ext.length - 1);
    out.push({ key, location: url || isAbsolute(line) ? line : join(base, line), probe: !url });
  }
  return out;
}

/** A URL without its image extension (before any query string). */
function stripExt(url: string, ext: string): string {
  const q = url.search(/[?#]/);
  const path = q < 0 ? url : url.slice(0, q);
  return path.slice(0, path.length - ext.length - 1) + (q < 0 ? '' : url.slice(q));
}

const isJpeg = (b: Uint8Array) => b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
const isPng = (b: Uint8Array) => b.length > 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;

const readOptional = (p: string) =>
  readFile(p).then(
    (b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
    (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    },
  );

/** One entry read: a sample, or a failure naming why (unreadable, HTTP error, not an image, bad JSON). */
export async function readEntry(e: FileEntry, timeoutMs: number): Promise<SourceItem> {
  const fail = (error: string): SourceItem => ({ key: e.key, source: e.location, error });
  let bytes: Uint8Array;
  try {
    if (isUrl(e.location)) bytes = await fetchBytes(e.location, timeoutMs);
    else {
      const b = await readFile(e.location);
      bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    }
  } catch (err) {
    const m = (err as Error).message;
    return fail(err instanceof SourceError ? m.slice(e.location.length + 2) : `cannot read: ${m}`);
  }
  const named = extensionOf(e.location);
  let ext = named;
  if (!IMAGE_EXTENSIONS.includes(ext)) {
    // A list entry without an image extension (a URL such as `…/image?id=3`): named by its content.
    if (isJpeg(bytes)) ext = 'jpg';
    else if (isPng(bytes)) ext = 'png';
    else return fail('not a PNG or JPEG file (by its extension and its first bytes)');
  }
  const sample: Sample = { key: e.key, source: e.location, bytes, ext };
  const stem = named ? e.location.slice(0, e.location.length - named.length - 1) : e.location;
  const captionPath = e.caption ?? (e.probe ? `${stem}.txt` : undefined);
  const metaPath = e.meta ?? (e.probe ? `${stem}.json` : undefined);
  try {
    const txt = captionPath === undefined ? undefined : await readOptional(captionPath);
    if (txt) sample.caption = new TextDecoder().decode(txt);
    const json = metaPath === undefined ? undefined : await readOptional(metaPath);
    if (json) {
      const meta = parseMeta(json, metaPath!);
      if (typeof meta === 'string') return fail(meta);
      sample.meta = meta;
    }
  } catch (err) {
    return fail(`cannot read its caption or metadata: ${(err as Error).message}`);
  }
  return sample;
}
