// Writing float32 arrays for other tools: NumPy .npy (v1.0), safetensors, JSON.

export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** A NumPy .npy file (format 1.0, little-endian float32, C order). */
export function toNpy(a: NamedArray): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${a.shape.join(', ')}${a.shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + a.data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0); // \x93NUMPY v1.0
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength), 10 + header.length);
  return out;
}

/** A safetensors file holding the arrays (F32), with optional string metadata. */
export function toSafetensors(arrays: NamedArray[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const a of arrays) {
    header[a.name] = { dtype: 'F32', shape: a.shape, data_offsets: [offset, offset + a.data.byteLength] };
    offset += a.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let o = 8 + hb.length;
  for (const a of arrays) {
    out.set(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength), o);
    o += a.data.byteLength;
  }
  return out;
}

/** Rows of a [N, ...] array as nested plain arrays (for JSON). */
export function rows(a: NamedArray): number[][] {
  const per = a.data.length / a.shape[0]!;
  return Array.from({ length: a.shape[0]! }, (_, i) => Array.from(a.data.subarray(i * per, (i + 1) * per)));
}
