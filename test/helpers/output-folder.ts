// Reading a collection run's output folder back in the tests: every finished file (to compare two
// runs byte for byte) and the keys of its metadata parts in order (each sample exactly once).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';

/** Every finished file of an output folder (no hidden temporaries), relative path → bytes, sorted. */
export function filesOf(dir: string, rel = ''): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.name.startsWith('.')) continue;
    if (e.isDirectory()) for (const [k, v] of filesOf(dir, join(rel, e.name))) m.set(k, v);
    else m.set(join(rel, e.name), readFileSync(join(dir, rel, e.name)));
  }
  return m;
}

/** The `key` column of every metadata/metadata_{N}.parquet, parts in ascending N. */
export async function keysOf(dir: string): Promise<string[]> {
  const keys: string[] = [];
  const names = readdirSync(join(dir, 'metadata'))
    .filter((f) => /^metadata_\d+\.parquet$/.test(f))
    .sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]));
  for (const f of names) {
    const b = readFileSync(join(dir, 'metadata', f));
    const rows = await parquetReadObjects({
      file: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength),
    });
    keys.push(...rows.map((r) => String(r.key)));
  }
  return keys;
}
