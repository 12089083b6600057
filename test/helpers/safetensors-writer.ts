// Builds safetensors bytes in memory (for tests that need valid or deliberately broken files).
export interface StEntry {
  shape: number[];
  data: Float32Array | Uint8Array;
  dtype?: string;
}

/**
 * `mutate` edits the header object before it is written; `editJson` edits its text (for what an
 * object cannot hold, such as a duplicate key); `trailing` bytes are appended after the data.
 */
export function writeSafetensors(
  entries: Map<string, StEntry>,
  mutate?: (header: Record<string, any>) => void,
  editJson?: (json: string) => string,
  trailing = 0,
): Uint8Array<ArrayBuffer> {
  const header: Record<string, any> = {};
  let offset = 0;
  for (const [k, e] of entries) {
    header[k] = { dtype: e.dtype ?? 'F32', shape: e.shape, data_offsets: [offset, offset + e.data.byteLength] };
    offset += e.data.byteLength;
  }
  mutate?.(header);
  let json = JSON.stringify(header);
  if (editJson) json = editJson(json);
  while ((8 + json.length) % 8) json += ' ';
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.length + offset + trailing);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let o = 8 + hb.length;
  for (const e of entries.values()) {
    out.set(new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength), o);
    o += e.data.byteLength;
  }
  return out;
}
