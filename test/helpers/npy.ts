// A .npy file parsed by hand (independently of src/pipeline/writers/format.ts), checking its header.
import { expect } from 'vitest';

/** A .npy parsed by hand: dtype, shape, values as float64. */
export function readNpy(bytes: Uint8Array): { descr: string; shape: number[]; data: number[] } {
  expect([...bytes.subarray(0, 8)]).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = dv.getUint16(8, true);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + hlen));
  expect((10 + hlen) % 64).toBe(0);
  expect(header.endsWith('\n')).toBe(true);
  const descr = /'descr': '([^']+)'/.exec(header)![1]!;
  expect(header).toContain("'fortran_order': False");
  const shape = /'shape': \(([^)]*)\)/
    .exec(header)![1]!
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const size = descr === '<f2' ? 2 : 4;
  expect(bytes.length).toBe(10 + hlen + count * size);
  const data: number[] = [];
  for (let i = 0; i < count; i++) {
    const at = 10 + hlen + i * size;
    if (size === 4) data.push(dv.getFloat32(at, true));
    else {
      // IEEE binary16, decoded independently of src/half.ts
      const h = dv.getUint16(at, true);
      const e = (h >> 10) & 31,
        m = h & 1023,
        sign = h & 0x8000 ? -1 : 1;
      data.push(
        e === 0 ? sign * m * 2 ** -24 : e === 31 ? (m ? NaN : sign * Infinity) : sign * (1 + m / 1024) * 2 ** (e - 15),
      );
    }
  }
  return { descr, shape, data };
}
