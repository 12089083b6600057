// Webdataset shards for the collection pipeline's tests: real JPEG photos at web sizes
// (test/fixtures/pipeline/photos, made by tools/make-photo-fixtures.py), each with a caption and a
// JSON beside it, written as img2dataset does (`{00000}.tar`, members `<key>.jpg|txt|json`).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tarStream from 'tar-stream';
import { fixture } from './fixtures.js';

export const PHOTOS = readdirSync(fixture('pipeline/photos'))
  .filter((f) => f.endsWith('.jpg'))
  .sort()
  .map((f) => fixture(`pipeline/photos/${f}`));

/** A tar of the given members, in order. */
export async function makeTar(members: [string, Uint8Array | string][]): Promise<Uint8Array> {
  const pack = tarStream.pack();
  for (const [name, data] of members) pack.entry({ name }, typeof data === 'string' ? data : Buffer.from(data));
  pack.finalize();
  const chunks: Uint8Array[] = [];
  for await (const c of pack as AsyncIterable<Uint8Array>) chunks.push(c);
  return new Uint8Array(Buffer.concat(chunks));
}

/** One sample of a shard: its key, image bytes, and what goes beside it. */
export interface ShardSample {
  key: string;
  image: Uint8Array;
  caption?: string;
  meta?: Record<string, unknown>;
}

/**
 * `shards` tars in `dir` (00000.tar, …), photos dealt round the list `perShard` at a time (repeating
 * the photos as needed), keys `<shard><index>` as img2dataset writes them; returns the paths and
 * each shard's samples. `edit` may change a shard's samples before it is written.
 */
export async function writeShards(
  dir: string,
  shards: number,
  perShard: number,
  edit: (shard: number, samples: ShardSample[]) => ShardSample[] = (_, s) => s,
): Promise<{ paths: string[]; samples: ShardSample[][] }> {
  const paths: string[] = [];
  const all: ShardSample[][] = [];
  let k = 0;
  for (let s = 0; s < shards; s++) {
    let samples: ShardSample[] = [];
    for (let i = 0; i < perShard; i++, k++) {
      const photo = PHOTOS[k % PHOTOS.length]!;
      const name = photo
        .split('/')
        .at(-1)!
        .replace(/\.jpg$/, '');
      samples.push({
        key: `${String(s).padStart(5, '0')}${String(i).padStart(4, '0')}`,
        image: new Uint8Array(readFileSync(photo)),
        caption: `a photo: ${name}`,
        meta: { url: `https://example.com/${name}.jpg`, width: Number(name.split('-').at(-1)!.split('x')[0]) },
      });
    }
    samples = edit(s, samples);
    const members: [string, Uint8Array | string][] = [];
    for (const x of samples) {
      members.push([`${x.key}.jpg`, x.image]);
      if (x.caption !== undefined) members.push([`${x.key}.txt`, x.caption]);
      if (x.meta !== undefined) members.push([`${x.key}.json`, JSON.stringify(x.meta)]);
    }
    const path = join(dir, `${String(s).padStart(5, '0')}.tar`);
    writeFileSync(path, await makeTar(members));
    paths.push(path);
    all.push(samples);
  }
  return { paths, samples: all };
}
