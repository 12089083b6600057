// HTTP(S) reads for the sources: a body as a stream of chunks, with an idle timeout (no headers, or
// no byte, for `timeoutMs` aborts the request), so that a stalled server is an error naming the URL,
// not a hang. Every failure is a SourceError naming the URL (and the status for an HTTP error).
import { SourceError } from '../../errors.js';

export const isUrl = (s: string): boolean => /^https?:\/\//i.test(s);

/** The body of `url`, chunk by chunk; the request is aborted when the iteration stops early. */
export async function* fetchChunks(url: string, timeoutMs: number): AsyncGenerator<Uint8Array> {
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, timeoutMs);
  };
  const fail = (e: unknown): never => {
    if (e instanceof SourceError) throw e;
    if (timedOut) throw new SourceError(url, `no response or no data for ${timeoutMs} ms (timed out)`);
    throw new SourceError(url, `cannot be fetched: ${(e as Error).message}`);
  };
  arm();
  try {
    let res: Response;
    try {
      res = await fetch(url, { signal: abort.signal });
    } catch (e) {
      return fail(e);
    }
    if (!res.ok) {
      void res.body?.cancel().catch(() => {});
      throw new SourceError(url, `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
    }
    if (!res.body) return;
    const reader = res.body.getReader();
    try {
      for (;;) {
        arm();
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (e) {
          return fail(e);
        }
        if (r.done) return;
        clearTimeout(timer);
        yield r.value;
      }
    } finally {
      reader.releaseLock();
    }
  } finally {
    clearTimeout(timer);
    abort.abort(); // ends the connection if the consumer stopped early (no-op after a complete read)
  }
}

/** The whole body of `url` (one image: small), or a SourceError naming the URL. */
export async function fetchBytes(url: string, timeoutMs: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const c of fetchChunks(url, timeoutMs)) {
    chunks.push(c);
    n += c.length;
  }
  return concatBytes(chunks, n);
}

/** `chunks` (n bytes in all) as one array: the chunk itself (a plain view, not a Buffer) when there is one. */
export function concatBytes(chunks: readonly Uint8Array[], n: number): Uint8Array {
  if (chunks.length === 1) return new Uint8Array(chunks[0]!.buffer, chunks[0]!.byteOffset, n);
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
