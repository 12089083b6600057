// Where the collection pipeline's images come from (Node: folders and files are read with node:fs).
// `openSources(specs)` turns SOURCE arguments into parts, each an async iterable of samples:
//
// - a folder: its images, recursively (files.ts has the order, keys, captions and metadata);
// - a list file: one image path or http(s) URL per line (files.ts);
// - a tar shard (`.tar`, `.tar.gz`, `.tgz`): a local path or an http(s) URL, read as a stream, its
//   members grouped into samples by webdataset's `__key__` (tar.ts).
//
// Every SOURCE is brace-expanded first (braces.ts: `shards/{00000..00099}.tar`). Parts come in the
// order of the SOURCEs and of their expansions; a tar shard is one part, a folder or a list file is
// cut into parts of `partSize` samples. A SOURCE that does not exist, a folder without images or an
// empty list is refused when opening (a SourceError naming it); a tar shard is read only when its
// part is iterated, so its errors (unreachable, HTTP status, truncated) come from that iteration.
import { stat } from 'node:fs/promises';
import { ArgumentError, SourceError } from '../../errors.js';
import { checkOptionKeys, type KeyList } from '../../options.js';
import { expandBraces } from './braces.js';
import { folderEntries, listEntries, readEntry, type FileEntry } from './files.js';
import { isUrl } from './http.js';
import { isTarName, tarSamples } from './tar.js';
import type { Part, SourceItem } from './types.js';

export { expandBraces } from './braces.js';
export { IMAGE_EXTENSIONS, type Part, type Sample, type SampleFailure, type SourceItem } from './types.js';

/** The default number of samples in one part of a folder or a list file. */
export const DEFAULT_PART_SIZE = 10_000;
/** The default idle timeout of an HTTP read (no headers, or no data, for this long: an error). */
export const DEFAULT_TIMEOUT_MS = 30_000;

export interface SourceOptions {
  /** Samples per part for folders and list files (default DEFAULT_PART_SIZE); a tar shard is always one part. */
  partSize?: number;
  /** Idle timeout of each HTTP request, in ms (default DEFAULT_TIMEOUT_MS). */
  timeoutMs?: number;
}

const SOURCE_OPTION_KEYS = { partSize: true, timeoutMs: true } as const satisfies KeyList<SourceOptions>;

export interface Sources {
  /** Every part, in order (`parts[i].index === i`). */
  parts: Part[];
}

async function* readEntries(entries: FileEntry[], timeoutMs: number): AsyncGenerator<SourceItem> {
  for (const e of entries) yield await readEntry(e, timeoutMs);
}

/** The parts of the given SOURCEs (folders, list files, tar shards or their brace patterns, http(s) tar URLs). */
export async function openSources(specs: readonly string[], opts: SourceOptions = {}): Promise<Sources> {
  checkOptionKeys('openSources', opts, SOURCE_OPTION_KEYS);
  const partSize = opts.partSize ?? DEFAULT_PART_SIZE;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(partSize) || partSize < 1)
    throw new ArgumentError('openSources', 'partSize', `must be a positive integer, got ${partSize}`);
  if (!(timeoutMs > 0))
    throw new ArgumentError('openSources', 'timeoutMs', `must be a positive number, got ${timeoutMs}`);
  if (!Array.isArray(specs) || specs.length === 0 || specs.some((s) => typeof s !== 'string' || s === ''))
    throw new ArgumentError('openSources', 'specs', 'must be a non-empty array of non-empty strings');

  const parts: Part[] = [];
  const add = (p: Omit<Part, 'index'>) => parts.push({ index: parts.length, ...p });
  const tar = (shard: string) =>
    add({ id: shard, kind: 'tar', source: shard, samples: () => tarSamples(shard, timeoutMs) });
  const cut = (source: string, kind: 'folder' | 'list', entries: FileEntry[]) => {
    for (let k = 0; k * partSize < entries.length; k++) {
      const slice = entries.slice(k * partSize, (k + 1) * partSize);
      add({ id: `${source}#${k}`, kind, source, size: slice.length, samples: () => readEntries(slice, timeoutMs) });
    }
  };

  for (const spec of specs as readonly string[])
    // (Array.isArray above widened its type)
    for (const s of expandBraces(spec)) {
      if (isUrl(s)) {
        if (!isTarName(s))
          throw new SourceError(
            s,
            'an http(s) SOURCE must be a tar shard (.tar, .tar.gz, .tgz); put image URLs in a list file',
          );
        tar(s);
        continue;
      }
      const st = await stat(s).catch((e: NodeJS.ErrnoException) => {
        throw new SourceError(s, e.code === 'ENOENT' ? 'no such file or folder' : `cannot be read: ${e.message}`);
      });
      if (st.isDirectory()) {
        const entries = await folderEntries(s);
        if (entries.length === 0) throw new SourceError(s, 'no images (.jpg, .jpeg, .png) in this folder');
        cut(s, 'folder', entries);
      } else if (isTarName(s)) tar(s);
      else {
        const entries = await listEntries(s);
        if (entries.length === 0) throw new SourceError(s, 'the list file names no image');
        cut(s, 'list', entries);
      }
    }
  return { parts };
}
